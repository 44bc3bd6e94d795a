"""Channels-first sum and max pooling of small planes, one whole plane per loop.

The row kernels (:mod:`numpool.kernels._rows`) run a handful of loops per output row; on
a 14- or 28-wide plane each loop has a few iterations and their set-up costs more than
the work (a 2x2 average of (32, 512, 14, 14) took 8.7 ms on one thread against PyTorch's
4.5 ms).  Here one plane is first copied into a padded, phase-split scratch ``ph``:

    ph[(pw * Hp + r) * J + j] = x[r - pad_top, j * sw + pw - pad_left]   (``pad`` outside)

with ``Hp`` padded rows and ``J`` columns per phase.  Tap ``(b, kw)`` of output ``(oh, ow)``
is then ``ph[base(b, kw) + oh * sh * J + ow]``: one flat, unit-stride loop per tap over the
whole plane, into an accumulator of pitch ``sh * J`` whose cells ``ow >= OW`` are unused.

Results are the row kernels' bit for bit.  Taps are visited in the same row-major order;
a padding tap adds ``+0.0`` to a sum (which starts at ``+0.0``, so it is never ``-0.0``
and adding ``+0.0`` changes nothing) or compares ``lowest`` against a maximum (never
greater, never NaN).

``pg`` holds the plane geometry ``(kh, sh, dh, pad_top, kw, sw, dw, pad_left, Hp, J,
stackable)`` from :func:`numpool._params.plane_geometry`; the depth axis uses the ``td``
table as the row kernels do.  Where planes stack (their windows tile the rows exactly), a
task pools a group of consecutive planes as one plane of their stacked rows: on 14x14
planes, one plane at a time spent more in per-row loop set-up than in adding (adaptive
average to 7x7 of (32, 512, 14, 14): 1.57 -> 0.75 ms on 2 threads).  Taps are added two
per pass over the accumulator (see ``_taps``).
"""

import numpy as np
from numba import njit, prange
from numba import uint64 as u8

from ._rows import phases
from .avgpool import _divide_cells

_opts = dict(cache=True, nogil=True, error_model="numpy")


@njit(**_opts)
def _fill(xf, p0, H, W, ph, pg, pad):
    """Copy the plane at offset ``p0`` into the padded phase scratch ``ph``."""
    sw, top, left, Hp, J = pg[5], pg[3], pg[7], pg[8], pg[9]
    n = Hp * J
    if top == 0 and left == 0 and J * sw == W and Hp <= H:
        # no padding within reach: the plane's first Hp rows split into phases like one
        # long row of Hp * W cells, phase pw at ph[pw * n:]
        if sw == 1:
            for m in range(n):
                ph[u8(m)] = xf[u8(p0 + m)]
        else:
            phases(xf, p0, n * sw, ph, sw, n)
        return
    for pw in range(sw):
        # columns j with 0 <= j * sw + pw - left < W
        j0 = min(max(0, (left - pw + sw - 1) // sw), J)
        j1 = max(min(J, (W - 1 + left - pw) // sw + 1), j0)
        for r in range(Hp):
            dst = (pw * Hp + r) * J
            ih = r - top
            if ih < 0 or ih >= H:
                for j in range(J):
                    ph[u8(dst + j)] = pad
                continue
            src = p0 + ih * W + pw - left
            for j in range(j0):
                ph[u8(dst + j)] = pad
            for j in range(j0, j1):
                ph[u8(dst + j)] = xf[u8(src + j * sw)]
            for j in range(j1, J):
                ph[u8(dst + j)] = pad


@njit(**_opts)
def _tap_offset(k, pg):
    """Offset in the phase scratch of the window's ``k``-th tap (row-major)."""
    dh, kw, sw, dw, Hp, J = pg[2], pg[4], pg[5], pg[6], pg[8], pg[9]
    q = (k % kw) * dw
    return ((q % sw) * Hp + (k // kw) * dh) * J + q // sw


@njit(**_opts)
def _taps(ph, acc, pg, M, is_max, init, fresh):
    """Add (or take the maximum of) every in-plane tap into ``acc[:M]``, row-major order,
    two taps per pass over the accumulator; with ``fresh`` the first pass starts from
    ``init`` instead of reading ``acc`` (2x2 windows: two passes, not an initial one and four)."""
    K = pg[0] * pg[4]
    z = acc.dtype.type(init)  # typed: an int64 start would make the sums float64
    k = 0
    while k < K:
        a = u8(_tap_offset(k, pg))
        if k + 1 < K:
            b = u8(_tap_offset(k + 1, pg))
            if is_max and fresh and k == 0:
                for m in range(M):
                    v, w = ph[a + u8(m)], ph[b + u8(m)]
                    t = v if (v > z or v != v) else z
                    acc[u8(m)] = w if (w > t or w != w) else t
            elif is_max:
                for m in range(M):
                    v, w, t = ph[a + u8(m)], ph[b + u8(m)], acc[u8(m)]
                    t = v if (v > t or v != v) else t
                    acc[u8(m)] = w if (w > t or w != w) else t
            elif fresh and k == 0:
                for m in range(M):
                    acc[u8(m)] = (z + ph[a + u8(m)]) + ph[b + u8(m)]
            else:
                for m in range(M):
                    acc[u8(m)] = (acc[u8(m)] + ph[a + u8(m)]) + ph[b + u8(m)]
            k += 2
            continue
        if is_max:
            for m in range(M):
                v, t = ph[a + u8(m)], (z if (fresh and k == 0) else acc[u8(m)])
                acc[u8(m)] = v if (v > t or v != v) else t
        elif fresh and k == 0:
            for m in range(M):
                acc[u8(m)] = z + ph[a + u8(m)]
        else:
            for m in range(M):
                acc[u8(m)] += ph[a + u8(m)]
        k += 1


@njit(**_opts)
def _taps_direct(xf, p0, acc, pg, M, is_max, init, fresh):
    """:func:`_taps` for windows two columns wide at column stride 2 (2x2 stride 2, the most
    common pooling), reading the plane at ``xf[p0:]`` in place of the phase scratch.  Where
    the columns tile the rows exactly (``J * 2 == W``, no padding), the scratch is the
    plane's two column phases, ``ph[q * Hp * J + n] = xf[p0 + 2 * n + q]``; a window row's
    two taps load both phases of one ``n`` in one iteration, which vectorises (one phase
    alone, a stride-2 read, would not), so the copy into the scratch is not needed."""
    kh, dh, J = pg[0], pg[2], pg[9]
    z = acc.dtype.type(init)
    for b in range(kh):
        base = p0 + 2 * b * dh * J
        if is_max and fresh and b == 0:
            for m in range(M):
                v, w = xf[u8(base + 2 * m)], xf[u8(base + 2 * m + 1)]
                t = v if (v > z or v != v) else z
                acc[u8(m)] = w if (w > t or w != w) else t
        elif is_max:
            for m in range(M):
                v, w, t = xf[u8(base + 2 * m)], xf[u8(base + 2 * m + 1)], acc[u8(m)]
                t = v if (v > t or v != v) else t
                acc[u8(m)] = w if (w > t or w != w) else t
        elif fresh and b == 0:
            for m in range(M):
                acc[u8(m)] = (z + xf[u8(base + 2 * m)]) + xf[u8(base + 2 * m + 1)]
        else:
            for m in range(M):
                acc[u8(m)] = (acc[u8(m)] + xf[u8(base + 2 * m)]) + xf[u8(base + 2 * m + 1)]


@njit(**_opts)
def _plane(xf, H, W, D, OD, OH, OW, task, count, td, dil, pg, ph, acc, init, pad, is_max):
    """Pool ``count`` consecutive (plane, od) tasks from ``task`` into the accumulator (pitch
    ``sh * J``).  ``count > 1`` only where ``pg`` says planes stack (no depth axis): their
    rows are then pooled as one plane ``count * H`` rows high."""
    if count > 1:
        pg = pg.copy()
        pg[8] = (count * OH - 1) * pg[1] + (pg[0] - 1) * pg[2] + 1  # Hp of the stacked rows
    P = pg[1] * pg[9]
    M = (count * OH - 1) * P + OW
    plane, od = task // OD, task % OD
    if td[1, od] == 0:
        for m in range(M):
            acc[u8(m)] = init
    direct = (pg[4] == 2 and pg[5] == 2 and pg[6] == 1 and pg[3] == 0 and pg[7] == 0 and 2 * pg[9] == W
              and pg[8] <= count * H)
    for a in range(td[1, od]):
        idd = td[0, od] + a * dil[0]
        if direct:
            _taps_direct(xf, (plane * D + idd) * H * W, acc, pg, M, is_max, init, a == 0)
        else:
            _fill(xf, (plane * D + idd) * H * W, count * H, W, ph, pg, pad)
            _taps(ph, acc, pg, M, is_max, init, a == 0)
    return task * OH * OW, P


@njit(parallel=True, **_opts)
def pool_planes_cf(x, out, td, dil, pg, is_max, lowest, fd, bt, ft, override, mode, blocks, stack):
    """Max pooling (values only, ``is_max``) or average pooling of small channels-first
    planes.  ``blocks`` parallel tasks share the (plane, od) pairs, each with its own
    scratch, in groups of ``stack`` planes pooled as one (1 unless ``pg`` says planes stack).

    Averages divide the sums in the accumulator, as :func:`numpool.kernels.avgpool.avg_cf`
    does, by ``fd[od]`` and the per-cell ``bt`` (H factor) and ``ft`` (W factor) tables laid
    out like the accumulator of a full group (see ``numpool.functional._plane_divisors``)."""
    N, C, D, H, W = x.shape
    OD, OH, OW = out.shape[2], out.shape[3], out.shape[4]
    xf, of = x.reshape(-1), out.reshape(-1)
    T = N * C * OD
    G = (T + stack - 1) // stack
    per = (G + blocks - 1) // blocks
    init = lowest if is_max else 0
    rows = stack * OH  # output rows of a full group
    for blk in prange(blocks):
        ph = np.empty(pg[5] * ((rows - 1) * pg[1] + (pg[0] - 1) * pg[2] + 1) * pg[9], dtype=x.dtype)
        acc = np.empty(rows * pg[1] * pg[9], dtype=x.dtype)
        for g in range(blk * per, min(G, blk * per + per)):
            task = g * stack
            count = min(stack, T - task)
            o0, P = _plane(xf, H, W, D, OD, OH, OW, task, count, td, dil, pg, ph, acc, init, init, is_max)
            if not is_max:  # od is the task's own: groups of more than one plane have OD = 1
                _divide_cells(acc, (count * OH - 1) * P + OW, fd[task % OD], bt, ft, override, mode)
            for r in range(count * OH):
                for ow in range(OW):
                    of[u8(o0 + r * OW + ow)] = acc[u8(r * P + ow)]
