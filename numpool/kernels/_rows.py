"""Row routines shared by the pooling kernels: loops only, no checks, no allocation.

Geometry comes from :func:`numpool._params.table_spec`: per-axis tables ``td, th, tw`` of
``(first inside tap, taps inside, taps inside padding)`` rows, the dilations ``dil`` and,
for the innermost axis, ``wgeom = (stride, pad_lo, kernel, dilation, first, stop)`` where
outputs ``first <= ow < stop`` have every tap inside the input.

Channels-first rows ("cf") hold one output row ``out[n, c, od, oh, :]``.  The loop order is
tap row -> tap column -> output column, so the innermost loop walks the output row with a
fixed input offset (a unit- or constant-stride read) instead of a short loop over taps.
Channels-last rows ("cl") hold ``out[n, od, oh, :, :]`` and the innermost loop runs over the
contiguous channels.

Max rule, shared with PyTorch's CPU kernels: a window starts from its first tap inside the
input, then a tap replaces the running maximum when ``v > m`` or (``nan_wins`` and ``v`` is
NaN).  Taps are visited in row-major window order, so ties keep the first position and, with
``nan_wins``, the last NaN wins.  Revisiting the first tap changes nothing, which is why
the loops do not skip it.  For integers ``v != v`` is always false.
"""

from numba import njit

_opts = dict(cache=True, nogil=True, fastmath=False, error_model="numpy")


@njit(**_opts)
def max_row_cf(plane, od, oh, orow, td, th, tw, dil, wgeom, lowest):
    """Maximum of each window of one channels-first output row (values only)."""
    OW = orow.shape[0]
    s, lo, k, d, ow_lo, ow_hi = wgeom[0], wgeom[1], wgeom[2], wgeom[3], wgeom[4], wgeom[5]
    cd = td[od, 1]
    ch = th[oh, 1]
    if cd == 0 or ch == 0:
        for ow in range(OW):
            orow[ow] = lowest
        return
    first = plane[td[od, 0], th[oh, 0]]
    for ow in range(OW):
        orow[ow] = first[tw[ow, 0]] if tw[ow, 1] > 0 else lowest
    for a in range(cd):
        for b in range(ch):
            xr = plane[td[od, 0] + a * dil[0], th[oh, 0] + b * dil[1]]
            for ow in range(0, ow_lo):
                for t in range(tw[ow, 1]):
                    v = xr[tw[ow, 0] + t * d]
                    m = orow[ow]
                    orow[ow] = v if (v > m or v != v) else m
            for kw in range(k):
                off = kw * d - lo
                for ow in range(ow_lo, ow_hi):
                    v = xr[ow * s + off]
                    m = orow[ow]
                    orow[ow] = v if (v > m or v != v) else m
            for ow in range(ow_hi, OW):
                for t in range(tw[ow, 1]):
                    v = xr[tw[ow, 0] + t * d]
                    m = orow[ow]
                    orow[ow] = v if (v > m or v != v) else m


@njit(**_opts)
def argmax_row_cf(plane, od, oh, orow, irow, td, th, tw, dil, wgeom, lowest, nan_wins):
    """Like :func:`max_row_cf`, also writing each maximum's flat index ``(id*H + ih)*W + iw``.

    A window wholly in padding gets ``lowest`` and index -1.
    """
    H = plane.shape[1]
    W = plane.shape[2]
    OW = orow.shape[0]
    s, lo, k, d, ow_lo, ow_hi = wgeom[0], wgeom[1], wgeom[2], wgeom[3], wgeom[4], wgeom[5]
    cd = td[od, 1]
    ch = th[oh, 1]
    if cd == 0 or ch == 0:
        for ow in range(OW):
            orow[ow] = lowest
            irow[ow] = -1
        return
    first = plane[td[od, 0], th[oh, 0]]
    base0 = (td[od, 0] * H + th[oh, 0]) * W
    for ow in range(OW):
        if tw[ow, 1] > 0:
            orow[ow] = first[tw[ow, 0]]
            irow[ow] = base0 + tw[ow, 0]
        else:
            orow[ow] = lowest
            irow[ow] = -1
    for a in range(cd):
        for b in range(ch):
            idd = td[od, 0] + a * dil[0]
            ih = th[oh, 0] + b * dil[1]
            xr = plane[idd, ih]
            base = (idd * H + ih) * W
            for ow in range(0, ow_lo):
                for t in range(tw[ow, 1]):
                    iw = tw[ow, 0] + t * d
                    v = xr[iw]
                    if v > orow[ow] or (nan_wins and v != v):
                        orow[ow] = v
                        irow[ow] = base + iw
            for kw in range(k):
                off = kw * d - lo
                for ow in range(ow_lo, ow_hi):
                    iw = ow * s + off
                    v = xr[iw]
                    better = v > orow[ow] or (nan_wins and v != v)
                    orow[ow] = v if better else orow[ow]
                    irow[ow] = base + iw if better else irow[ow]
            for ow in range(ow_hi, OW):
                for t in range(tw[ow, 1]):
                    iw = tw[ow, 0] + t * d
                    v = xr[iw]
                    if v > orow[ow] or (nan_wins and v != v):
                        orow[ow] = v
                        irow[ow] = base + iw


@njit(**_opts)
def argmax_cell_cl(img, od, oh, ow, ocell, icell, td, th, tw, dil, lowest, nan_wins):
    """Maximum and flat spatial index over one channels-last window, for every channel.

    ``img`` is ``x[n]`` of shape (D, H, W, C') and ``ocell``, ``icell`` have length C'.
    """
    H = img.shape[1]
    W = img.shape[2]
    C = ocell.shape[0]
    cd = td[od, 1]
    ch = th[oh, 1]
    cw = tw[ow, 1]
    if cd == 0 or ch == 0 or cw == 0:
        for c in range(C):
            ocell[c] = lowest
            icell[c] = -1
        return
    id0 = td[od, 0]
    ih0 = th[oh, 0]
    iw0 = tw[ow, 0]
    first = img[id0, ih0, iw0]
    pos0 = (id0 * H + ih0) * W + iw0
    for c in range(C):
        ocell[c] = first[c]
        icell[c] = pos0
    for a in range(cd):
        idd = id0 + a * dil[0]
        for b in range(ch):
            ih = ih0 + b * dil[1]
            for t in range(cw):
                iw = iw0 + t * dil[2]
                xr = img[idd, ih, iw]
                pos = (idd * H + ih) * W + iw
                for c in range(C):
                    v = xr[c]
                    better = v > ocell[c] or (nan_wins and v != v)
                    ocell[c] = v if better else ocell[c]
                    icell[c] = pos if better else icell[c]


@njit(**_opts)
def max_cell_cl(img, od, oh, ow, ocell, td, th, tw, dil, lowest):
    """Maximum over one channels-last window for every channel (values only)."""
    C = ocell.shape[0]
    cd = td[od, 1]
    ch = th[oh, 1]
    cw = tw[ow, 1]
    if cd == 0 or ch == 0 or cw == 0:
        for c in range(C):
            ocell[c] = lowest
        return
    first = img[td[od, 0], th[oh, 0], tw[ow, 0]]
    for c in range(C):
        ocell[c] = first[c]
    for a in range(cd):
        idd = td[od, 0] + a * dil[0]
        for b in range(ch):
            ih = th[oh, 0] + b * dil[1]
            for t in range(cw):
                xr = img[idd, ih, tw[ow, 0] + t * dil[2]]
                for c in range(C):
                    v = xr[c]
                    m = ocell[c]
                    ocell[c] = v if (v > m or v != v) else m


@njit(**_opts)
def sum_row_cf(plane, od, oh, orow, td, th, tw, dil, wgeom):
    """Sum of each window of one channels-first output row, taps added in row-major order."""
    OW = orow.shape[0]
    s, lo, k, d, ow_lo, ow_hi = wgeom[0], wgeom[1], wgeom[2], wgeom[3], wgeom[4], wgeom[5]
    for ow in range(OW):
        orow[ow] = 0
    for a in range(td[od, 1]):
        for b in range(th[oh, 1]):
            xr = plane[td[od, 0] + a * dil[0], th[oh, 0] + b * dil[1]]
            for ow in range(0, ow_lo):
                for t in range(tw[ow, 1]):
                    orow[ow] += xr[tw[ow, 0] + t * d]
            for kw in range(k):
                off = kw * d - lo
                for ow in range(ow_lo, ow_hi):
                    orow[ow] += xr[ow * s + off]
            for ow in range(ow_hi, OW):
                for t in range(tw[ow, 1]):
                    orow[ow] += xr[tw[ow, 0] + t * d]


@njit(**_opts)
def spread_row_cf(plane, od, oh, grow, td, th, tw, dil, wgeom):
    """Add ``grow[ow]`` to every input cell of window ``ow`` (the adjoint of :func:`sum_row_cf`)."""
    OW = grow.shape[0]
    s, lo, k, d, ow_lo, ow_hi = wgeom[0], wgeom[1], wgeom[2], wgeom[3], wgeom[4], wgeom[5]
    for a in range(td[od, 1]):
        for b in range(th[oh, 1]):
            xr = plane[td[od, 0] + a * dil[0], th[oh, 0] + b * dil[1]]
            for ow in range(0, ow_lo):
                for t in range(tw[ow, 1]):
                    xr[tw[ow, 0] + t * d] += grow[ow]
            for kw in range(k):
                off = kw * d - lo
                for ow in range(ow_lo, ow_hi):
                    xr[ow * s + off] += grow[ow]
            for ow in range(ow_hi, OW):
                for t in range(tw[ow, 1]):
                    xr[tw[ow, 0] + t * d] += grow[ow]
