"""Row routines shared by the pooling kernels: loops only, no checks, no allocation.

Geometry comes from :func:`numpool._params.table_spec`: per-axis tables ``td, th, tw`` of
shape ``(3, out)`` (row 0: first tap inside the input, row 1: number of taps inside), the
dilations ``dil`` and, for the innermost spatial axis, ``wgeom = (stride, pad_lo, kernel,
dilation, first, stop)`` where outputs ``first <= ow < stop`` have every tap inside.

Channels-first rows ("cf") are one output row ``out[n, c, od, oh, :]``, addressed by
offset in the raveled arrays.  The loop order is
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

import numpy as np
from numba import njit
from numba import uint64 as u8

_opts = dict(cache=True, nogil=True, error_model="numpy")


# -- splitting the work between parallel tasks ---------------------------------------

# Channels-first forwards hand each task a block of ROWS output rows of one (n, c, od), so
# that the task allocates its phase scratch once rather than once a row.
ROWS = 8


@njit(**_opts)
def block_count(OH):
    """Number of ROWS-row blocks in an output plane of OH rows."""
    return (OH + ROWS - 1) // ROWS


@njit(**_opts)
def split_block(r, OD, OH):
    """Task ``r`` of the channels-first forwards -> (plane = n * C + c, od, first oh, stop oh)."""
    blocks = block_count(OH)
    blk = r % blocks
    return r // (blocks * OD), (r // blocks) % OD, blk * ROWS, min(blk * ROWS + ROWS, OH)


@njit(**_opts)
def split_row(r, OD, OH):
    """Task ``r`` of the channels-last forwards, one output row each -> (n, od, oh)."""
    return r // (OD * OH), (r // OH) % OD, r % OH


@njit(**_opts)
def split_channel_block(t, nblocks, block, C):
    """Task ``t`` of the channels-last scatters, over (n, block of ``block`` channels) pairs
    -> (n, first channel, stop channel)."""
    c0 = (t % nblocks) * block
    return t // nblocks, c0, min(c0 + block, C)


@njit(**_opts)
def phase_scratch(W, wgeom, dtype):
    """Scratch for :func:`phases` of a W-wide row at the stride in ``wgeom``: phase ``p``
    holds cells ``p, p + s, ...``, so with a stride wider than the row only its first ``W``
    phases hold anything (the scratch follows the row, not the stride)."""
    s = wgeom[0]
    return np.empty(min(s, W) * (W // s + 1), dtype=dtype)


# -- channels-first rows ----------------------------------------------------------------
# Channels-first rows address flat 1-D arrays by offset: ``xf`` is the whole input
# raveled, ``plane0`` the offset of the (n, c) plane, ``of``/``row0`` the output and the
# row's offset.  Creating Numba array views per row cost more than the work itself (a
# 2x2 pool took 6.0 ms through views against 0.97 ms with flat offsets, below the 1.18 ms
# copy of its input).  Indices are unsigned: Numba's wraparound test for possibly
# negative signed indices blocks vectorisation (0.41 -> 0.03 ns an element without it).


@njit(**_opts)
def phases(xf, r0, W, ph, s, J1):
    """Split input row ``xf[r0:r0 + W]`` into its ``s`` phases: ``ph[p*J1 + j] = xf[r0 + j*s + p]``.

    After this, tap ``q`` of output ``ow`` (input cell ``ow * s + q``) is
    ``ph[(q % s) * J1 + ow + q // s]``: a unit-stride read for every tap.  Reading with a
    stride of 2 does not vectorise (0.4-0.5 ns a tap against 0.03-0.05 measured); the
    s == 2 loop below, which loads both phases in one iteration, does.
    """
    J = W // s
    if s == 2:
        for j in range(J):
            ph[u8(j)] = xf[u8(r0 + 2 * j)]
            ph[u8(J1 + j)] = xf[u8(r0 + 2 * j + 1)]
    else:
        for j in range(J):
            for p in range(s):
                ph[u8(p * J1 + j)] = xf[u8(r0 + j * s + p)]
    for iw in range(J * s, W):
        ph[u8((iw - J * s) * J1 + J)] = xf[u8(r0 + iw)]


@njit(**_opts)
def _pairs(s, k, d, lo):
    """Whether the interior windows along W are two adjacent cells at stride 2 from the
    row's start, ``(2 * ow, 2 * ow + 1)``: the rows below then read both taps of a window in
    one pass, which vectorises (a stride-2 load of one tap alone does not: see :func:`phases`)."""
    return s == 2 and k == 2 and d == 1 and lo == 0


@njit(**_opts)
def _max_taps(xf, start, count, d, of, at):
    """``of[at] = max(of[at], xf[start], xf[start + d], ...)`` for one window's taps in order,
    the running maximum held in a register (Numba cannot prove ``of`` and ``xf`` apart)."""
    m = of[u8(at)]
    for t in range(count):
        v = xf[u8(start + t * d)]
        m = v if (v > m or v != v) else m
    of[u8(at)] = m


@njit(**_opts)
def _sum_taps(xf, start, count, d, of, at):
    """``of[at] += xf[start] + xf[start + d] + ...``, added one tap at a time in order."""
    acc = of[u8(at)]
    for t in range(count):
        acc += xf[u8(start + t * d)]
    of[u8(at)] = acc


@njit(**_opts)
def max_row_cf(xf, plane0, H, W, of, row0, od, oh, td, th, tw, dil, wgeom, lowest, ph):
    """Maximum of each window of one channels-first output row (values only).

    ``ph`` is :func:`phase_scratch`'s scratch for :func:`phases`.
    """
    OW = tw.shape[1]
    s, lo, k, d, ow_lo, ow_hi = wgeom[0], wgeom[1], wgeom[2], wgeom[3], wgeom[4], wgeom[5]
    J1 = W // s + 1
    for ow in range(OW):
        of[u8(row0 + ow)] = lowest
    for a in range(td[1, od]):
        for b in range(th[1, oh]):
            r0 = plane0 + ((td[0, od] + a * dil[0]) * H + th[0, oh] + b * dil[1]) * W
            for ow in range(0, ow_lo):
                _max_taps(xf, r0 + tw[0, ow], tw[1, ow], d, of, row0 + ow)
            if s == 1:
                for kw in range(k):
                    src = r0 + kw * d - lo
                    for ow in range(ow_lo, ow_hi):
                        v = xf[u8(src + ow)]
                        m = of[u8(row0 + ow)]
                        of[u8(row0 + ow)] = v if (v > m or v != v) else m
            elif _pairs(s, k, d, lo):
                # both taps loaded in one vectorised pass (the two phases of one index), no
                # phase copy; per cell the taps' order of the loops below
                for ow in range(ow_lo, ow_hi):
                    m = of[u8(row0 + ow)]
                    v = xf[u8(r0 + 2 * ow)]
                    m = v if (v > m or v != v) else m
                    v = xf[u8(r0 + 2 * ow + 1)]
                    of[u8(row0 + ow)] = v if (v > m or v != v) else m
            elif ow_hi > ow_lo:
                phases(xf, r0, W, ph, s, J1)
                for kw in range(k):
                    q = kw * d - lo
                    src = (q % s) * J1 + q // s
                    for ow in range(ow_lo, ow_hi):
                        v = ph[u8(src + ow)]
                        m = of[u8(row0 + ow)]
                        of[u8(row0 + ow)] = v if (v > m or v != v) else m
            for ow in range(ow_hi, OW):
                _max_taps(xf, r0 + tw[0, ow], tw[1, ow], d, of, row0 + ow)


@njit(**_opts)
def argmax_row_cf(xf, plane0, H, W, of, idxf, row0, od, oh, td, th, tw, dil, wgeom, lowest, nan_wins, ph):
    """Like :func:`max_row_cf`, also writing each maximum's flat index ``(id*H + ih)*W + iw``
    into ``idxf[row0 + ow]``.  A window wholly in padding keeps ``lowest`` and gets -1."""
    OW = tw.shape[1]
    s, lo, k, d, ow_lo, ow_hi = wgeom[0], wgeom[1], wgeom[2], wgeom[3], wgeom[4], wgeom[5]
    J1 = W // s + 1
    empty = td[1, od] == 0 or th[1, oh] == 0
    base0 = (td[0, od] * H + th[0, oh]) * W
    for ow in range(OW):
        of[u8(row0 + ow)] = lowest
        idxf[u8(row0 + ow)] = base0 + tw[0, ow] if tw[1, ow] > 0 and not empty else -1
    if not nan_wins and not empty:
        for ow in range(OW):
            if tw[1, ow] > 0:
                v = xf[u8(plane0 + base0 + tw[0, ow])]
                if v != v:
                    of[u8(row0 + ow)] = v
    for a in range(td[1, od]):
        for b in range(th[1, oh]):
            base = ((td[0, od] + a * dil[0]) * H + th[0, oh] + b * dil[1]) * W
            r0 = plane0 + base
            for ow in range(0, ow_lo):
                for t in range(tw[1, ow]):
                    iw = tw[0, ow] + t * d
                    v = xf[u8(r0 + iw)]
                    if v > of[u8(row0 + ow)] or (nan_wins and v != v):
                        of[u8(row0 + ow)] = v
                        idxf[u8(row0 + ow)] = base + iw
            if s > 1 and ow_hi > ow_lo:
                phases(xf, r0, W, ph, s, J1)
            for kw in range(k):
                q = kw * d - lo
                pos = base + q
                if s == 1:
                    for ow in range(ow_lo, ow_hi):
                        v = xf[u8(r0 + q + ow)]
                        m = of[u8(row0 + ow)]
                        better = v > m or (nan_wins and v != v)
                        of[u8(row0 + ow)] = v if better else m
                        idxf[u8(row0 + ow)] = pos + ow if better else idxf[u8(row0 + ow)]
                else:
                    src = (q % s) * J1 + q // s
                    for ow in range(ow_lo, ow_hi):
                        v = ph[u8(src + ow)]
                        m = of[u8(row0 + ow)]
                        better = v > m or (nan_wins and v != v)
                        of[u8(row0 + ow)] = v if better else m
                        idxf[u8(row0 + ow)] = pos + ow * s if better else idxf[u8(row0 + ow)]
            for ow in range(ow_hi, OW):
                for t in range(tw[1, ow]):
                    iw = tw[0, ow] + t * d
                    v = xf[u8(r0 + iw)]
                    if v > of[u8(row0 + ow)] or (nan_wins and v != v):
                        of[u8(row0 + ow)] = v
                        idxf[u8(row0 + ow)] = base + iw


@njit(**_opts)
def sum_row_cf(xf, plane0, H, W, of, row0, od, oh, td, th, tw, dil, wgeom, ph):
    """Sum of each window of one channels-first output row, taps added in row-major order."""
    OW = tw.shape[1]
    s, lo, k, d, ow_lo, ow_hi = wgeom[0], wgeom[1], wgeom[2], wgeom[3], wgeom[4], wgeom[5]
    J1 = W // s + 1
    for ow in range(OW):
        of[u8(row0 + ow)] = 0
    for a in range(td[1, od]):
        for b in range(th[1, oh]):
            r0 = plane0 + ((td[0, od] + a * dil[0]) * H + th[0, oh] + b * dil[1]) * W
            for ow in range(0, ow_lo):
                _sum_taps(xf, r0 + tw[0, ow], tw[1, ow], d, of, row0 + ow)
            if s == 1:
                for kw in range(k):
                    src = r0 + kw * d - lo
                    for ow in range(ow_lo, ow_hi):
                        of[u8(row0 + ow)] += xf[u8(src + ow)]
            elif _pairs(s, k, d, lo):  # as in max_row_cf
                for ow in range(ow_lo, ow_hi):
                    of[u8(row0 + ow)] += xf[u8(r0 + 2 * ow)]
                    of[u8(row0 + ow)] += xf[u8(r0 + 2 * ow + 1)]
            elif ow_hi > ow_lo:
                phases(xf, r0, W, ph, s, J1)
                for kw in range(k):
                    q = kw * d - lo
                    src = (q % s) * J1 + q // s
                    for ow in range(ow_lo, ow_hi):
                        of[u8(row0 + ow)] += ph[u8(src + ow)]
            for ow in range(ow_hi, OW):
                _sum_taps(xf, r0 + tw[0, ow], tw[1, ow], d, of, row0 + ow)


@njit(**_opts)
def spread_row_cf(gxf, plane0, H, W, grow, od, oh, td, th, tw, dil, wgeom):
    """Add ``grow[ow]`` to every input cell of window ``ow`` (the adjoint of :func:`sum_row_cf`)."""
    OW = tw.shape[1]
    s, lo, k, d, ow_lo, ow_hi = wgeom[0], wgeom[1], wgeom[2], wgeom[3], wgeom[4], wgeom[5]
    for a in range(td[1, od]):
        for b in range(th[1, oh]):
            r0 = plane0 + ((td[0, od] + a * dil[0]) * H + th[0, oh] + b * dil[1]) * W
            for ow in range(0, ow_lo):
                for t in range(tw[1, ow]):
                    gxf[u8(r0 + tw[0, ow] + t * d)] += grow[u8(ow)]
            if _pairs(s, k, d, lo):  # each cell in one window: two interleaved stores per pass
                for ow in range(ow_lo, ow_hi):
                    gxf[u8(r0 + 2 * ow)] += grow[u8(ow)]
                    gxf[u8(r0 + 2 * ow + 1)] += grow[u8(ow)]
            for kw in range(0 if _pairs(s, k, d, lo) else k):
                dst = r0 + kw * d - lo
                for ow in range(ow_lo, ow_hi):
                    gxf[u8(dst + ow * s)] += grow[u8(ow)]
            for ow in range(ow_hi, OW):
                for t in range(tw[1, ow]):
                    gxf[u8(r0 + tw[0, ow] + t * d)] += grow[u8(ow)]


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
def _pass_cl(orow, ow, xrow, i0, i1, n, init, fin, m1, m2, m3):
    """One pass over the C channels of output cell ``orow[ow]``: add ``n`` (1 or 2) taps
    ``xrow[i0]``, ``xrow[i1]`` in order, to 0 (``init``, the cell not read) or to the cell;
    with ``fin`` the sum is then multiplied by ``m1``, ``m2``, ``m3`` in turn.  One
    branch-free loop per case, so that each vectorises (a scalar helper with the branches
    in the loop did not), and plain 2-D indexing (a view per cell costs reference counting)."""
    o, a, b = u8(ow), u8(i0), u8(i1)
    C = orow.shape[1]
    z = orow.dtype.type(0)  # a typed zero: a bare 0 is an int64 and would make the sums float64
    if n == 2 and init and fin:
        for c in range(C):
            orow[o, u8(c)] = ((z + xrow[a, u8(c)]) + xrow[b, u8(c)]) * m1 * m2 * m3
    elif n == 2 and init:
        for c in range(C):
            orow[o, u8(c)] = (z + xrow[a, u8(c)]) + xrow[b, u8(c)]
    elif n == 2 and fin:
        for c in range(C):
            orow[o, u8(c)] = ((orow[o, u8(c)] + xrow[a, u8(c)]) + xrow[b, u8(c)]) * m1 * m2 * m3
    elif n == 2:
        for c in range(C):
            orow[o, u8(c)] = (orow[o, u8(c)] + xrow[a, u8(c)]) + xrow[b, u8(c)]
    elif init and fin:
        for c in range(C):
            orow[o, u8(c)] = (z + xrow[a, u8(c)]) * m1 * m2 * m3
    elif init:
        for c in range(C):
            orow[o, u8(c)] = z + xrow[a, u8(c)]
    elif fin:
        for c in range(C):
            orow[o, u8(c)] = (orow[o, u8(c)] + xrow[a, u8(c)]) * m1 * m2 * m3
    else:
        for c in range(C):
            orow[o, u8(c)] += xrow[a, u8(c)]


@njit(**_opts)
def sum_row_cl(img, od, oh, orow, td, th, tw, dil, scale):
    """Window sums of one channels-last output row, taps added in row-major order from 0,
    two taps per pass over each cell (a 2x2 window: 2 passes, not a zeroing pass and 4).

    ``scale`` (OW, 3), or empty: each cell's sum is multiplied by ``scale[ow, 0]``, ``[1]``,
    ``[2]`` in turn within its last pass instead of in a pass of its own (exact reciprocals
    of average pooling: 2x2 adaptive average of (32, 14, 14, 512), one thread, 0.40 ->
    0.29 ms, PyTorch 0.32 ms)."""
    OW = orow.shape[0]
    rows = td[1, od] * th[1, oh]
    scaled = scale.shape[0] > 0
    one = orow.dtype.type(1)
    q = 0
    for a in range(td[1, od]):
        for b in range(th[1, oh]):
            xrow = img[td[0, od] + a * dil[0], th[0, oh] + b * dil[1]]
            last = scaled and q == rows - 1
            for ow in range(OW):
                m1, m2, m3 = (scale[ow, 0], scale[ow, 1], scale[ow, 2]) if scaled else (one, one, one)
                nt, t = tw[1, ow], 0
                if nt == 0 and q == 0:  # window columns all outside the input: the sum is 0,
                    for c in range(orow.shape[1]):  # and 0 times the (finite) scale
                        orow[u8(ow), u8(c)] = 0
                while t < nt:
                    n = min(2, nt - t)
                    i0 = tw[0, ow] + t * dil[2]
                    _pass_cl(orow, ow, xrow, i0, i0 + (n - 1) * dil[2], n, q == 0 and t == 0, last and t + n == nt,
                             m1, m2, m3)
                    t += n
            q += 1
    if rows == 0:  # no window row inside the input: every sum is 0
        for ow in range(OW):
            for c in range(orow.shape[1]):
                orow[u8(ow), u8(c)] = 0


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
