"""Resampling kernels: one sparse matrix applied along one axis, forward and backward.

``numpool._params`` turns every interpolation rule (PyTorch's nearest, linear, cubic and
antialiased filters, ONNX Resize's coordinate modes) into per-axis tables in CSR form:
output ``o`` reads the taps ``ptr[o]:ptr[o + 1]`` (input index ``idx[k]``, weight ``w[k]``),
or is ``fill[o]`` where it has none.  Resampling is separable, so the caller applies one
table per axis to the array seen as ``(A, L, B)`` (everything before the axis, the axis,
everything after it; a free reshape of a contiguous array) and only these loops run here.

The backward is the same kernel with the transposed tables: each input cell gathers its
outputs in output order, so it never scatters, no two threads write one cell, and the
result is bitwise identical for any thread count.
"""

import numpy as np
from numba import njit, prange
from numba import uint64 as u8

from ._rows import phases

_opts = dict(parallel=True, cache=True, nogil=True, error_model="numpy")


@njit(inline="always")
def _sum_rows(dst, rows, k0, k1, idx, w, from_zero):
    """``dst = sum_k w[k] * rows[idx[k]]`` for ``k0 <= k < k1`` (``k1 > k0``), whole rows tap by
    tap: from the first tap's product, or from 0 plus it (``from_zero``)."""
    for k in range(k0, k1):
        _axpy(dst, rows[idx[k]], w[k], k == k0, from_zero)


@njit(**_opts)
def apply_axis(x, out, ptr, idx, w, fill, from_zero):
    """``out[a, o, b] = sum_k w[k] * x[a, idx[k], b]``, taps added in order; ``fill[o]`` where
    ``o`` has no tap.  The forward sums from the first tap's product (PyTorch's forward, and
    the fused kernels' order); ``from_zero`` (the backward) adds them to 0 as PyTorch's
    gradient buffers do, so a sum of ``-0.0`` products is ``+0.0`` there."""
    A, B = x.shape[0], x.shape[2]
    O = out.shape[1]
    zero = out.dtype.type(0)
    if B == 1:  # the innermost axis: one task per outer row, so tasks are not a few taps each
        for a in prange(A):
            for o in range(O):
                k0, k1 = ptr[o], ptr[o + 1]
                if k1 == k0:
                    out[a, o, 0] = fill[o]
                    continue
                acc = w[k0] * x[a, idx[k0], 0]
                if from_zero:
                    acc = zero + acc
                for k in range(k0 + 1, k1):
                    acc += w[k] * x[a, idx[k], 0]
                out[a, o, 0] = acc
        return
    # other axes: one task per output row; the inner loop runs over B contiguous cells
    for r in prange(A * O):
        a = r // O
        o = r - a * O
        k0, k1 = ptr[o], ptr[o + 1]
        if k1 == k0:
            for b in range(B):
                out[a, o, b] = fill[o]
        else:
            _sum_rows(out[a, o], x[a], k0, k1, idx, w, from_zero)


@njit(inline="always")
def _inner_row(src, dst, ptr, idx, w, fill, from_zero, run, base, wt, ph, acc):
    """One row of :func:`apply_inner`: ``dst[o] = sum_k w[k] * src[idx[k]]`` over ``o``'s taps,
    the periodic run ``run`` from the phases of ``src`` (scratch ``ph`` (step, ceil(L / step))
    and ``acc`` (count)), the other outputs through the CSR table."""
    L, O = src.size, dst.size
    lo, count, period, step, K = run[0], run[1], run[2], run[3], run[4]
    hi = lo + period * count
    zero = dst.dtype.type(0)
    for b in range(2):  # the outputs before the run, then those after it
        for o in range(0 if b == 0 else hi, lo if b == 0 else O):
            k0, k1 = ptr[o], ptr[o + 1]
            if k1 == k0:
                dst[o] = fill[o]
                continue
            v = w[k0] * src[idx[k0]]
            if from_zero:
                v = zero + v
            for k in range(k0 + 1, k1):
                v += w[k] * src[idx[k]]
            dst[o] = v
    if count == 0:
        return
    if step > 1:
        phases(src, 0, L, ph.reshape(-1), step, ph.shape[1])
    for p in range(period):
        for j in range(K):
            first = base[j, p]
            if step > 1:
                part = ph[first % step, first // step:first // step + count]
            else:
                part = src[first:first + count]
            _axpy(acc, part, wt[j, p], j == 0, from_zero)
        if period == 1:  # a contiguous store (the transposed x2 tables), which vectorises
            out = dst[lo:lo + count]
            for i in range(count):
                out[i] = acc[i]
        else:
            for i in range(count):
                dst[lo + p + period * i] = acc[i]


@njit(**_opts)
def apply_inner(x, out, ptr, idx, w, fill, from_zero, run, base, wt):
    """:func:`apply_axis` along the innermost axis, x (A, L), out (A, O), where the table has
    a periodic run ``run = (lo, count, period, step, taps)`` (``AxisTable.inner_periodic``):
    outputs ``lo + p + period * i`` (``i < count``) read inputs ``base[j, p] + step * i`` with
    weights ``wt[j, p]``.  Each row is split into its ``step`` phases, so that every tap of a
    phase is one vectorised loop over a contiguous slice (gathering cell by cell, the
    transposed bilinear x2 table of a (8, 64, 128, 128) gradient took most of its 28 ms);
    the borders run through the CSR table.  Sums as in :func:`apply_axis`: the same taps in
    the same order, so the result is bitwise that of its innermost-axis loop (which, for a
    table without a run, is 15 % faster than this kernel's border loop run over every output)."""
    A, L = x.shape
    step = max(run[3], 1)
    for a in prange(A):
        ph = np.empty((step, (L + step - 1) // step) if step > 1 else (1, 1), dtype=x.dtype)
        acc = np.empty(max(run[1], 1), dtype=out.dtype)
        _inner_row(x[a], out[a], ptr, idx, w, fill, from_zero, run, base, wt, ph, acc)


@njit(**_opts)
def linear_hw_backward_cf(g, gx, hptr, hidx, hw, wptr, widx, ww, run, base, wt, rows):
    """The gradient of the two innermost axes of channels-first resampling in one pass:
    ``gx[a, ih] = W^T(sum_k hw[k] * g[a, hidx[k]])`` with the transposed tables (H: CSR
    ``hptr, hidx, hw``; W: CSR ``wptr, widx, ww`` with its periodic run as in
    :func:`apply_inner`).  Each input row's H sum is one scratch row, resampled along W at
    once: the separable passes wrote it to an intermediate array and read it back.  Both
    sums add to 0 in the separable passes' order, so the result is theirs bit for bit.
    g (A, OH, OW), gx (A, H, W); a task is a block of ``rows`` input rows of one plane."""
    A, OW = g.shape[0], g.shape[2]
    H, W = gx.shape[1], gx.shape[2]
    step = max(run[3], 1)
    zero = gx.dtype.type(0)
    nblk = (H + rows - 1) // rows
    for t in prange(A * nblk):
        a = t // nblk
        blk = t - a * nblk
        row = np.empty(OW, dtype=gx.dtype)
        ph = np.empty((step, (OW + step - 1) // step) if step > 1 else (1, 1), dtype=gx.dtype)
        acc = np.empty(max(run[1], 1), dtype=gx.dtype)
        nofill = np.zeros(W, dtype=gx.dtype)
        for ih in range(blk * rows, min(H, (blk + 1) * rows)):
            k0, k1 = hptr[ih], hptr[ih + 1]
            if k1 == k0:
                for i in range(OW):
                    row[i] = zero
            else:
                _sum_rows(row, g[a], k0, k1, hidx, hw, True)
            _inner_row(row, gx[a, ih], wptr, widx, ww, nofill, True, run, base, wt, ph, acc)


@njit(**_opts)
def gather_axis(x, out, ptr, idx, fill):
    """``out[a, o, b] = x[a, idx[ptr[o]], b]`` (``fill[o]`` where ``o`` has no tap): a copy, so
    nearest resampling keeps any dtype and every bit."""
    A, B = x.shape[0], x.shape[2]
    O = out.shape[1]
    if B == 1:
        for a in prange(A):
            for o in range(O):
                out[a, o, 0] = x[a, idx[ptr[o]], 0] if ptr[o + 1] > ptr[o] else fill[o]
        return
    for r in prange(A * O):
        a = r // O
        o = r - a * O
        dst = out[a, o]
        if ptr[o + 1] > ptr[o]:
            src = x[a, idx[ptr[o]]]
            for b in range(B):
                dst[b] = src[b]
        else:
            for b in range(B):
                dst[b] = fill[o]


# -- linear and cubic resampling fused over H and W ----------------------------------------
# Separable passes write an intermediate array per axis and read it back; these kernels read
# the input and write the output once.  A task owns a block of output rows of one (plane, d).
# Each source row its H taps need is resampled along W once, into a ring of ``span`` scratch
# rows (slot = source row mod ``span``; one output's taps cover at most ``span`` consecutive
# rows, so they never share a slot), then each output row is the weighted sum of its taps'
# ring rows.  Both sums run tap by tap from the first tap's product, as ``apply_axis`` does,
# so the result is bitwise the separable one.  W tables are dense ``(taps, OW)``.


@njit(inline="always")
def _combine(dst, ring, span, hptr, hidx, hw, oh):
    """``dst = sum_k hw[k] * ring[hidx[k] % span]`` over output row ``oh``'s H taps; ``dst``
    and the ring rows are flat."""
    k0 = hptr[oh]
    row = ring[hidx[k0] % span]
    wk = hw[k0]
    if hptr[oh + 1] - k0 == 2:  # linear: one pass
        row1 = ring[hidx[k0 + 1] % span]
        wk1 = hw[k0 + 1]
        for i in range(dst.size):
            dst[i] = wk * row[i] + wk1 * row1[i]
        return
    for i in range(dst.size):
        dst[i] = wk * row[i]
    for k in range(k0 + 1, hptr[oh + 1]):
        wk = hw[k]
        row = ring[hidx[k] % span]
        for i in range(dst.size):
            dst[i] += wk * row[i]


@njit(inline="always")
def _claim(tag, r):
    """Whether source row ``r`` must be resampled into its ring slot ``r % span`` (marking it
    there): False when the slot holds it already."""
    if tag[r % tag.size] == r:
        return False
    tag[r % tag.size] = r
    return True


@njit(inline="always")
def _w_taps(row, src, widx, ww, lo, hi):
    """``row[ow] = sum_j ww[j, ow] * src[widx[j, ow]]`` for ``lo <= ow < hi``, tap by tap (vector
    gathers; a loop over taps per cell would run scalar)."""
    w0, i0 = ww[0], widx[0]
    for ow in range(lo, hi):
        row[ow] = w0[ow] * src[i0[ow]]
    for j in range(1, widx.shape[0]):
        wj, ij = ww[j], widx[j]
        for ow in range(lo, hi):
            row[ow] += wj[ow] * src[ij[ow]]


@njit
def _two_phases_two_taps(dst, src, ia, ib, wa, wb, count):
    """A period-2, two-tap periodic run (linear x2) in one loop, stored interleaved:
    ``dst[2i] = wa[0] * src[ia[0] + i] + wa[1] * src[ia[1] + i]`` and ``dst[2i + 1]`` from
    ``ib``, ``wb``; the sums :func:`_axpy` would build in the scratch rows, bit for bit."""
    a0, a1 = src[ia[0]:ia[0] + count], src[ia[1]:ia[1] + count]
    b0, b1 = src[ib[0]:ib[0] + count], src[ib[1]:ib[1] + count]
    wa0, wa1, wb0, wb1 = wa[0], wa[1], wb[0], wb[1]
    for i in range(count):
        dst[2 * i] = wa0 * a0[i] + wa1 * a1[i]
        dst[2 * i + 1] = wb0 * b0[i] + wb1 * b1[i]


@njit(inline="always")
def _axpy(acc, src, w, first, from_zero=False):
    """``acc = w * src`` (``first``; ``0 + w * src`` with ``from_zero``, as the gradients'
    sums start, which turns a -0.0 product into +0.0) or ``acc += w * src``."""
    if first and from_zero:
        zero = acc.dtype.type(0)
        for i in range(acc.size):
            acc[i] = zero + w * src[i]
    elif first:
        for i in range(acc.size):
            acc[i] = w * src[i]
    else:
        for i in range(acc.size):
            acc[i] += w * src[i]


@njit(**_opts)
def linear_hw_cf(x, out, hptr, hidx, hw, widx, ww, span, rows, periodic):
    """x (A, H, W), out (A, OH, OW).  ``periodic`` = ``(lo, count, period, step)`` from
    ``AxisTable.periodic``: there, phase ``p``'s outputs ``lo + p + period * i`` read inputs
    ``widx[j, lo + p] + step * i``, so each phase and tap is one vectorised loop over slices,
    summed in a contiguous scratch row and stored once (bilinear x2 of (8, 64, 128, 128), one
    call with its output preallocated: 15 -> 6 ms against gathering every cell through ``widx``).
    Linear x2 (two phases, two taps) skips the scratch: :func:`_two_phases_two_taps`
    (one thread, preallocated output: best of five runs 8.4 -> 7.4 ms)."""
    A = x.shape[0]
    OH, OW = out.shape[1], out.shape[2]
    lo, count, period, step = periodic[0], periodic[1], periodic[2], periodic[3]
    hi = lo + period * count
    nblk = (OH + rows - 1) // rows
    for t in prange(A * nblk):
        a = t // nblk
        blk = t - a * nblk
        ring = np.empty((span, OW), dtype=out.dtype)
        tag = np.full(span, -1, dtype=np.int64)
        acc = np.empty((max(period, 1), max(count, 1)), dtype=out.dtype)  # per phase, summed contiguously
        for oh in range(blk * rows, min(OH, (blk + 1) * rows)):
            for k in range(hptr[oh], hptr[oh + 1]):
                r = hidx[k]
                if not _claim(tag, r):
                    continue
                row = ring[r % span]
                src = x[a, r]
                _w_taps(row, src, widx, ww, 0, lo)
                _w_taps(row, src, widx, ww, hi, OW)
                if period == 2 and count and step == 1 and widx.shape[0] == 2:
                    _two_phases_two_taps(row[lo:hi], src, widx[:, lo], widx[:, lo + 1], ww[:, lo], ww[:, lo + 1],
                                         count)
                    continue
                for p in range(period if count else 0):
                    for j in range(widx.shape[0]):
                        first = widx[j, lo + p]
                        if step == 1:  # a C-contiguous slice: vector loads
                            _axpy(acc[p], src[first:first + count], ww[j, lo + p], j == 0)
                        else:
                            _axpy(acc[p], src[first:first + step * (count - 1) + 1:step], ww[j, lo + p], j == 0)
                if period == 2 and count:  # both phases stored in one loop: an interleaved vector store
                    dst = row[lo:hi]
                    for i in range(count):
                        dst[2 * i] = acc[0, i]
                        dst[2 * i + 1] = acc[1, i]
                else:
                    for p in range(period if count else 0):
                        dst = row[lo + p:hi:period]
                        for i in range(count):
                            dst[i] = acc[p, i]
            _combine(out[a, oh], ring, span, hptr, hidx, hw, oh)


@njit(**_opts)
def linear_hw_cl(x, out, hptr, hidx, hw, widx, ww, span, rows, periodic):
    """Channels-last twin of :func:`linear_hw_cf`: x (A, H, W, C), out (A, OH, OW, C); the W
    taps move whole pixels of C contiguous channels.  In the periodic run (``step == 1``),
    phase ``p``'s pixels read ``count`` consecutive source pixels per tap, one contiguous
    slice of ``count * C`` cells: each tap is one long vectorised loop, and the phases'
    pixels are then stored in turn (bilinear x2 of (8, 64, 128, 128) into a preallocated
    output, one thread: 12.2 -> 10.5 ms, against one loop of C cells per pixel and tap)."""
    A, C = x.shape[0], x.shape[3]
    OH, OW = out.shape[1], out.shape[2]
    K = widx.shape[0]
    lo, count, period, step = periodic[0], periodic[1], periodic[2], periodic[3]
    if step != 1:  # strided source pixels: every pixel on its own
        lo, count, period = 0, 0, 1
    hi = lo + period * count
    nblk = (OH + rows - 1) // rows
    for t in prange(A * nblk):
        a = t // nblk
        blk = t - a * nblk
        ring = np.empty((span, OW * C), dtype=out.dtype)
        tag = np.full(span, -1, dtype=np.int64)
        acc = np.empty((max(period, 1), max(count, 1) * C), dtype=out.dtype)
        for oh in range(blk * rows, min(OH, (blk + 1) * rows)):
            for k in range(hptr[oh], hptr[oh + 1]):
                r = hidx[k]
                if _claim(tag, r):
                    row, src = ring[r % span], x[a, r]
                    for ow in range(OW):
                        if lo <= ow < hi:
                            continue
                        cell = row[ow * C:(ow + 1) * C]
                        _axpy(cell, src[widx[0, ow]], ww[0, ow], True)
                        for j in range(1, K):
                            _axpy(cell, src[widx[j, ow]], ww[j, ow], False)
                    flat = src.reshape(-1)
                    for p in range(period if count else 0):
                        for j in range(K):
                            first = widx[j, lo + p] * C
                            _axpy(acc[p], flat[first:first + count * C], ww[j, lo + p], j == 0)
                    for i in range(count):
                        for p in range(period):
                            dst = row[(lo + p + period * i) * C:(lo + p + period * i + 1) * C]
                            part = acc[p, i * C:(i + 1) * C]
                            for c in range(C):
                                dst[c] = part[c]
            _combine(out[a, oh].reshape(-1), ring, span, hptr, hidx, hw, oh)


# -- nearest resampling fused over all axes ------------------------------------------------
# When every axis reads exactly one source cell per output (nearest, no extrapolation fill),
# one pass replaces the separable ones: it reads the input and writes the output once, where
# the separable passes wrote and re-read an intermediate array per axis.  ``sd, sh, sw`` are
# each output index's source index along the lifted axes; ``inv_*`` (CSR ``ptr`` / ``idx``)
# list, for each input index, the outputs that read it, in increasing order.


@njit(**_opts)
def nearest_cf(x, out, sd, sh, sw, rows, rep2):
    """Tasks are blocks of ``rows`` output rows of one (plane, od).  An output row whose source
    row is the previous row's (upsampling along H) is a copy of that row, still in cache;
    ``rep2``: ``sw`` is ``ow // 2`` (upsampling x2 along W), so each input value is stored
    twice by a vectorised loop instead of gathered through ``sw`` (11.6 -> 7.7 ms for x2 of
    (8, 64, 128, 128), 2 threads)."""
    N, C, D, H, W = x.shape
    OD, OH, OW = out.shape[2], out.shape[3], out.shape[4]
    xf = x.reshape(-1)
    of = out.reshape(-1)
    nblk = (OH + rows - 1) // rows
    for t in prange(N * C * OD * nblk):
        blk = t % nblk
        pd = t // nblk  # plane * OD + od
        od = pd % OD
        plane = pd // OD
        prev = -1
        for oh in range(blk * rows, min(OH, (blk + 1) * rows)):
            dst = (pd * OH + oh) * OW
            s = sh[oh]
            if s == prev:
                for ow in range(OW):
                    of[u8(dst + ow)] = of[u8(dst - OW + ow)]
            else:
                src = plane * D * H * W + (sd[od] * H + s) * W
                if rep2:
                    for iw in range(W):
                        v = xf[u8(src + iw)]
                        of[u8(dst + 2 * iw)] = v
                        of[u8(dst + 2 * iw + 1)] = v
                else:
                    for ow in range(OW):
                        of[u8(dst + ow)] = xf[u8(src + sw[u8(ow)])]
            prev = s


@njit(**_opts)
def nearest_cl(x, out, sd, sh, sw):
    N = x.shape[0]
    OD, OH, OW, C = out.shape[1], out.shape[2], out.shape[3], out.shape[4]
    for r in prange(N * OD * OH):
        oh = r % OH
        od = (r // OH) % OD
        n = r // (OH * OD)
        xrow = x[n, sd[od], sh[oh]]
        orow = out[n, od, oh]
        for ow in range(OW):
            iw = sw[u8(ow)]
            for c in range(C):
                orow[u8(ow), u8(c)] = xrow[u8(iw), u8(c)]


@njit(**_opts)
def nearest_backward_cf(g, gx, pd, id_, ph, ih_, pw, iw_, rep2):
    """``gx[.., i] = sum of g[.., o]`` over the outputs ``o`` that read cell ``i``, added in
    output (row-major) order; each task owns one input row.  ``rep2``: the W outputs of
    input ``w`` are ``2w`` and ``2w + 1`` (upsampling x2), added by a loop that vectorises."""
    N, C, D, H, W = gx.shape
    OD, OH, OW = g.shape[2], g.shape[3], g.shape[4]
    gf = g.reshape(-1)
    gxf = gx.reshape(-1)
    for r in prange(N * C * D * H):
        h = r % H
        d = (r // H) % D
        plane = r // (H * D)
        row = r * W
        for w in range(W):
            gxf[u8(row + w)] = 0
        for a in range(pd[d], pd[d + 1]):
            for b in range(ph[h], ph[h + 1]):
                grow = ((plane * OD + id_[a]) * OH + ih_[b]) * OW
                if rep2:
                    for w in range(W):
                        acc = gxf[u8(row + w)]
                        acc += gf[u8(grow + 2 * w)]
                        acc += gf[u8(grow + 2 * w + 1)]
                        gxf[u8(row + w)] = acc
                    continue
                for w in range(W):
                    acc = gxf[u8(row + w)]
                    for k in range(pw[w], pw[w + 1]):
                        acc += gf[u8(grow + iw_[k])]
                    gxf[u8(row + w)] = acc


@njit(**_opts)
def nearest_backward_cl(g, gx, pd, id_, ph, ih_, pw, iw_):
    N, D, H, W, C = gx.shape
    for r in prange(N * D * H):
        h = r % H
        d = (r // H) % D
        n = r // (H * D)
        xrow = gx[n, d, h]
        for w in range(W):
            for c in range(C):
                xrow[u8(w), u8(c)] = 0
        for a in range(pd[d], pd[d + 1]):
            for b in range(ph[h], ph[h + 1]):
                grow = g[n, id_[a], ih_[b]]
                for w in range(W):
                    for k in range(pw[w], pw[w + 1]):
                        ow = iw_[k]
                        for c in range(C):
                            xrow[u8(w), u8(c)] += grow[u8(ow), u8(c)]
