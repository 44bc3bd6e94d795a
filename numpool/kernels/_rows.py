"""Row routines shared by the pooling kernels: loops only, no checks, no allocation.

Geometry comes from :func:`numpool._params.table_spec`: per-axis tables ``td, th, tw`` of
shape ``(3, out)`` (row 0: first tap inside the input, row 1: number of taps inside), the
dilations ``dil`` and, for the innermost spatial axis, ``wgeom = (stride, pad_lo, kernel,
dilation, first, stop)`` where outputs ``first <= ow < stop`` have every tap inside.

Channels-first rows ("cf") are one output row ``out[n, c, od, oh, :]``.  The loop order is
tap row -> tap column -> output column, so the innermost loop walks the output row with a
fixed input offset.  Channels-last rows ("cl") are ``out[n, od, oh, :, :]`` and the
innermost loop runs over the contiguous channels.  Both vectorise.

Max rule, PyTorch's CPU rule: the running maximum starts at the dtype's lowest value with
the index of the window's first tap inside the input; a tap replaces it when ``v > m`` or
(``nan_wins`` and ``v`` is NaN).  Taps are visited in row-major window order, so ties keep
the first position and, with ``nan_wins``, the last NaN wins.  Without ``nan_wins``
(TensorFlow's argmax rule) a NaN first tap is copied in at the start and then never
replaced, because nothing compares greater than NaN.  For integers ``v != v`` is false.
"""

from numba import njit
from numba import uint64 as u8

_opts = dict(cache=True, nogil=True, error_model="numpy")


# -- channels-first helpers -------------------------------------------------------------


@njit(**_opts)
def phases(xr, ph, s):
    """Split one input row into its ``s`` phases: ``ph[p, j] = xr[j * s + p]``.

    After this, tap ``q`` of output ``ow`` (input cell ``ow * s + q``) is
    ``ph[q % s, ow + q // s]``: a unit-stride read for every tap.  Reading ``xr`` with a
    stride of 2 directly does not vectorise (0.4-0.5 ns a tap against 0.03-0.05 measured);
    the s == 2 loop below, which loads both phases in one iteration, does.
    """
    W = xr.shape[0]
    J = W // s
    if s == 2:
        p0 = ph[0]
        p1 = ph[1]
        for j in range(J):
            p0[u8(j)] = xr[u8(2 * j)]
            p1[u8(j)] = xr[u8(2 * j + 1)]
    else:
        for j in range(J):
            for p in range(s):
                ph[p, j] = xr[j * s + p]
    for iw in range(J * s, W):
        ph[iw - J * s, J] = xr[iw]


# The tap loops index with unsigned integers: Numba's wraparound test for possibly
# negative signed indices blocks vectorisation (0.41 -> 0.03 ns an element without it).


@njit(**_opts)
def _max_taps(orow, src, ow_lo, ow_hi, shift):
    for ow in range(ow_lo, ow_hi):
        v = src[u8(ow + shift)]
        m = orow[u8(ow)]
        orow[u8(ow)] = v if (v > m or v != v) else m


@njit(**_opts)
def _argmax_taps(orow, irow, src, ow_lo, ow_hi, shift, pos0, s, nan_wins):
    for ow in range(ow_lo, ow_hi):
        v = src[u8(ow + shift)]
        m = orow[u8(ow)]
        better = v > m or (nan_wins and v != v)
        orow[u8(ow)] = v if better else m
        irow[u8(ow)] = pos0 + ow * s if better else irow[u8(ow)]


@njit(**_opts)
def _sum_taps(orow, src, ow_lo, ow_hi, shift):
    for ow in range(ow_lo, ow_hi):
        orow[u8(ow)] += src[u8(ow + shift)]


@njit(**_opts)
def _fill(row, value):
    for i in range(row.shape[0]):
        row[u8(i)] = value


# -- channels-first rows ----------------------------------------------------------------


@njit(**_opts)
def max_row_cf(plane, od, oh, orow, td, th, tw, dil, wgeom, lowest, ph):
    """Maximum of each window of one channels-first output row (values only).

    ``ph`` is scratch of shape ``(stride, W // stride + 1)`` for :func:`phases`.
    """
    OW = orow.shape[0]
    s, lo, k, d, ow_lo, ow_hi = wgeom[0], wgeom[1], wgeom[2], wgeom[3], wgeom[4], wgeom[5]
    _fill(orow, lowest)
    for a in range(td[1, od]):
        for b in range(th[1, oh]):
            xr = plane[td[0, od] + a * dil[0], th[0, oh] + b * dil[1]]
            for ow in range(0, ow_lo):
                for t in range(tw[1, ow]):
                    v = xr[tw[0, ow] + t * d]
                    m = orow[ow]
                    orow[ow] = v if (v > m or v != v) else m
            if s > 1 and ow_hi > ow_lo:
                phases(xr, ph, s)
            for kw in range(k):
                q = kw * d - lo
                if s == 1:
                    _max_taps(orow, xr, ow_lo, ow_hi, q)
                else:
                    _max_taps(orow, ph[q % s], ow_lo, ow_hi, q // s)
            for ow in range(ow_hi, OW):
                for t in range(tw[1, ow]):
                    v = xr[tw[0, ow] + t * d]
                    m = orow[ow]
                    orow[ow] = v if (v > m or v != v) else m


@njit(**_opts)
def argmax_row_cf(plane, od, oh, orow, irow, td, th, tw, dil, wgeom, lowest, nan_wins, ph):
    """Like :func:`max_row_cf`, also writing each maximum's flat index ``(id*H + ih)*W + iw``.

    A window wholly in padding keeps ``lowest`` and gets index -1.
    """
    H = plane.shape[1]
    W = plane.shape[2]
    OW = orow.shape[0]
    s, lo, k, d, ow_lo, ow_hi = wgeom[0], wgeom[1], wgeom[2], wgeom[3], wgeom[4], wgeom[5]
    _fill(orow, lowest)
    if td[1, od] == 0 or th[1, oh] == 0:
        _fill(irow, -1)
        return
    base0 = (td[0, od] * H + th[0, oh]) * W
    first = plane[td[0, od], th[0, oh]]
    for ow in range(OW):
        irow[ow] = base0 + tw[0, ow] if tw[1, ow] > 0 else -1
        if not nan_wins and tw[1, ow] > 0:
            v = first[tw[0, ow]]
            if v != v:
                orow[ow] = v
    for a in range(td[1, od]):
        for b in range(th[1, oh]):
            idd = td[0, od] + a * dil[0]
            ih = th[0, oh] + b * dil[1]
            xr = plane[idd, ih]
            base = (idd * H + ih) * W
            for ow in range(0, ow_lo):
                for t in range(tw[1, ow]):
                    iw = tw[0, ow] + t * d
                    v = xr[iw]
                    if v > orow[ow] or (nan_wins and v != v):
                        orow[ow] = v
                        irow[ow] = base + iw
            if s > 1 and ow_hi > ow_lo:
                phases(xr, ph, s)
            for kw in range(k):
                q = kw * d - lo
                if s == 1:
                    _argmax_taps(orow, irow, xr, ow_lo, ow_hi, q, base + q, 1, nan_wins)
                else:
                    _argmax_taps(orow, irow, ph[q % s], ow_lo, ow_hi, q // s, base + q, s, nan_wins)
            for ow in range(ow_hi, OW):
                for t in range(tw[1, ow]):
                    iw = tw[0, ow] + t * d
                    v = xr[iw]
                    if v > orow[ow] or (nan_wins and v != v):
                        orow[ow] = v
                        irow[ow] = base + iw


@njit(**_opts)
def sum_row_cf(plane, od, oh, orow, td, th, tw, dil, wgeom, ph):
    """Sum of each window of one channels-first output row, taps added in row-major order."""
    OW = orow.shape[0]
    s, lo, k, d, ow_lo, ow_hi = wgeom[0], wgeom[1], wgeom[2], wgeom[3], wgeom[4], wgeom[5]
    _fill(orow, 0)
    for a in range(td[1, od]):
        for b in range(th[1, oh]):
            xr = plane[td[0, od] + a * dil[0], th[0, oh] + b * dil[1]]
            for ow in range(0, ow_lo):
                for t in range(tw[1, ow]):
                    orow[ow] += xr[tw[0, ow] + t * d]
            if s > 1 and ow_hi > ow_lo:
                phases(xr, ph, s)
            for kw in range(k):
                q = kw * d - lo
                if s == 1:
                    _sum_taps(orow, xr, ow_lo, ow_hi, q)
                else:
                    _sum_taps(orow, ph[q % s], ow_lo, ow_hi, q // s)
            for ow in range(ow_hi, OW):
                for t in range(tw[1, ow]):
                    orow[ow] += xr[tw[0, ow] + t * d]


@njit(**_opts)
def spread_row_cf(plane, od, oh, grow, td, th, tw, dil, wgeom):
    """Add ``grow[ow]`` to every input cell of window ``ow`` (the adjoint of :func:`sum_row_cf`)."""
    OW = grow.shape[0]
    s, lo, k, d, ow_lo, ow_hi = wgeom[0], wgeom[1], wgeom[2], wgeom[3], wgeom[4], wgeom[5]
    for a in range(td[1, od]):
        for b in range(th[1, oh]):
            xr = plane[td[0, od] + a * dil[0], th[0, oh] + b * dil[1]]
            for ow in range(0, ow_lo):
                for t in range(tw[1, ow]):
                    xr[tw[0, ow] + t * d] += grow[ow]
            for kw in range(k):
                q = kw * d - lo
                for ow in range(ow_lo, ow_hi):
                    xr[u8(ow * s + q)] += grow[u8(ow)]
            for ow in range(ow_hi, OW):
                for t in range(tw[1, ow]):
                    xr[tw[0, ow] + t * d] += grow[ow]


# -- channels-last rows: out[n, od, oh, :, :] of shape (OW, C) ----------------------------
# Cells are addressed as [u8(ow), u8(c)] on 2-D rows rather than by slicing a 1-D view per
# cell: a view costs more than the work on 64 channels (the 2x2 backward took 57 ms with
# views, and 380 ms with 8-channel blocks).  Only channels c0 <= c < c1 are touched, so the
# backward can split channels between threads while every array stays contiguous.


@njit(**_opts)
def max_row_cl(img, od, oh, orow, td, th, tw, dil, lowest):
    """Maximum of each window of one channels-last output row, for every channel."""
    OW, C = orow.shape[0], orow.shape[1]
    for ow in range(OW):
        for c in range(C):
            orow[u8(ow), u8(c)] = lowest
    for a in range(td[1, od]):
        for b in range(th[1, oh]):
            xrow = img[td[0, od] + a * dil[0], th[0, oh] + b * dil[1]]
            for ow in range(OW):
                for t in range(tw[1, ow]):
                    iw = tw[0, ow] + t * dil[2]
                    for c in range(C):
                        v = xrow[u8(iw), u8(c)]
                        m = orow[u8(ow), u8(c)]
                        orow[u8(ow), u8(c)] = v if (v > m or v != v) else m


@njit(**_opts)
def argmax_row_cl(img, od, oh, orow, irow, td, th, tw, dil, lowest, nan_wins, c0, c1):
    """:func:`max_row_cl` for channels ``c0 <= c < c1``, also writing each maximum's flat
    spatial index ``(id*H + ih)*W + iw``."""
    H, W = img.shape[1], img.shape[2]
    OW = orow.shape[0]
    empty = td[1, od] == 0 or th[1, oh] == 0
    base0 = (td[0, od] * H + th[0, oh]) * W
    for ow in range(OW):
        start = base0 + tw[0, ow] if tw[1, ow] > 0 and not empty else -1
        for c in range(c0, c1):
            orow[u8(ow), u8(c)] = lowest
            irow[u8(ow), u8(c)] = start
        if not nan_wins and start >= 0:
            for c in range(c0, c1):
                v = img[td[0, od], th[0, oh], tw[0, ow], c]
                if v != v:
                    orow[u8(ow), u8(c)] = v
    for a in range(td[1, od]):
        for b in range(th[1, oh]):
            idd = td[0, od] + a * dil[0]
            ih = th[0, oh] + b * dil[1]
            xrow = img[idd, ih]
            base = (idd * H + ih) * W
            for ow in range(OW):
                for t in range(tw[1, ow]):
                    iw = tw[0, ow] + t * dil[2]
                    pos = base + iw
                    for c in range(c0, c1):
                        v = xrow[u8(iw), u8(c)]
                        m = orow[u8(ow), u8(c)]
                        better = v > m or (nan_wins and v != v)
                        orow[u8(ow), u8(c)] = v if better else m
                        irow[u8(ow), u8(c)] = pos if better else irow[u8(ow), u8(c)]


@njit(**_opts)
def sum_row_cl(img, od, oh, orow, td, th, tw, dil):
    """Window sums of one channels-last output row, taps added in row-major order."""
    OW, C = orow.shape[0], orow.shape[1]
    for ow in range(OW):
        for c in range(C):
            orow[u8(ow), u8(c)] = 0
    for a in range(td[1, od]):
        for b in range(th[1, oh]):
            xrow = img[td[0, od] + a * dil[0], th[0, oh] + b * dil[1]]
            for ow in range(OW):
                for t in range(tw[1, ow]):
                    iw = tw[0, ow] + t * dil[2]
                    for c in range(C):
                        orow[u8(ow), u8(c)] += xrow[u8(iw), u8(c)]


@njit(**_opts)
def spread_row_cl(img, od, oh, grow, td, th, tw, dil, c0, c1):
    """Add ``grow[ow, c]`` to every input cell of window ``ow`` for channels ``c0 <= c < c1``
    (the adjoint of :func:`sum_row_cl`)."""
    OW = grow.shape[0]
    for a in range(td[1, od]):
        for b in range(th[1, oh]):
            xrow = img[td[0, od] + a * dil[0], th[0, oh] + b * dil[1]]
            for ow in range(OW):
                for t in range(tw[1, ow]):
                    iw = tw[0, ow] + t * dil[2]
                    for c in range(c0, c1):
                        xrow[u8(iw), u8(c)] += grow[u8(ow), u8(c)]
