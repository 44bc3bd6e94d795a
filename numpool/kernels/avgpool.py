"""Average pooling kernels on the canonical 5-D views, forward and backward.

The output (forward) or input gradient (backward) array is also the accumulator, so it has
the accumulation dtype (float32 for float16 and float32 inputs, float64 for float64).
Sums add taps in row-major window order starting from zero, as PyTorch's CPU kernels do.
The divisor of output ``(od, oh, ow)`` is ``override`` when it is > 0, else the product of
the per-axis factors ``fd[od] * fh[oh] * fw[ow]`` (see ``numpool._params.divisor_factors``);
in the CHAIN modes the sum is divided by each factor in turn, ``sum / fd / fh / fw``, which
is how PyTorch's adaptive average pooling rounds (see ``_divide`` for the modes).
A window wholly in padding with ``count_include_pad=False`` has divisor 0 and gives NaN.
Parallel structure as in :mod:`numpool.kernels.maxpool`.
"""

import numpy as np
from numba import njit, prange
from numba import uint64 as u8

from ._rows import (block_count, phase_scratch, split_block, split_channel_block, split_row, spread_row_cf,
                    spread_row_cl, sum_row_cf, sum_row_cl)

_opts = dict(parallel=True, cache=True, nogil=True, error_model="numpy")


# Division modes: the divisor of output (od, oh, ow) is ``fd[od] * fh[oh] * fw[ow]`` divided
# once (PRODUCT), or its factors divided one after another (CHAIN, PyTorch's adaptive
# rounding); with RECIPROCAL added, the arrays (and ``override``) hold exact reciprocals
# of powers of two and the kernels multiply, which rounds exactly as dividing does.
PRODUCT, CHAIN, RECIPROCAL = 0, 1, 2


@njit(cache=True, nogil=True, error_model="numpy")
def _divide(v, od, oh, ow, fd, fh, fw, override, mode):
    if override > 0:
        return v * override if mode >= RECIPROCAL else v / override
    if mode == PRODUCT:
        return v / (fd[od] * fh[oh] * fw[ow])
    if mode == CHAIN:
        return v / fd[od] / fh[oh] / fw[ow]
    if mode == PRODUCT + RECIPROCAL:
        return v * (fd[od] * fh[oh] * fw[ow])
    return v * fd[od] * fh[oh] * fw[ow]


@njit(cache=True, nogil=True, error_model="numpy")
def _divide_row(row, row0, od, oh, fd, fh, fw, override, mode):
    """:func:`_divide` over one output row ``row[row0:row0 + OW]``, one branch-free loop
    per case so that each vectorises (one call per element did not)."""
    OW = fw.shape[0]
    a, b = fd[od], fh[oh]
    if override > 0 and mode >= RECIPROCAL:
        for ow in range(OW):
            row[u8(row0 + ow)] = row[u8(row0 + ow)] * override
    elif override > 0:
        for ow in range(OW):
            row[u8(row0 + ow)] = row[u8(row0 + ow)] / override
    elif mode == PRODUCT:
        for ow in range(OW):
            row[u8(row0 + ow)] = row[u8(row0 + ow)] / (a * b * fw[u8(ow)])
    elif mode == PRODUCT + RECIPROCAL:
        for ow in range(OW):
            row[u8(row0 + ow)] = row[u8(row0 + ow)] * (a * b * fw[u8(ow)])
    elif mode == CHAIN and a == 1:  # dividing by 1 is exact: skip it (a lifted axis in 1-D and 2-D)
        for ow in range(OW):
            row[u8(row0 + ow)] = row[u8(row0 + ow)] / b / fw[u8(ow)]
    elif mode == CHAIN:
        for ow in range(OW):
            row[u8(row0 + ow)] = row[u8(row0 + ow)] / a / b / fw[u8(ow)]
    else:  # reciprocals of a chain: multiplying by 1 is exact too
        for ow in range(OW):
            row[u8(row0 + ow)] = row[u8(row0 + ow)] * a * b * fw[u8(ow)]


@njit(cache=True, nogil=True, error_model="numpy")
def _divide_cells(v, n, a, bt, ft, override, mode):
    """:func:`_divide_row` over ``v[:n]`` with the H and W factors given per cell (``bt[i]``,
    ``ft[i]``): one flat loop over a whole plane's short output rows, where a call per row
    cost more than the pooling (the whole-plane kernels)."""
    if override > 0 and mode >= RECIPROCAL:
        for i in range(n):
            v[u8(i)] = v[u8(i)] * override
    elif override > 0:
        for i in range(n):
            v[u8(i)] = v[u8(i)] / override
    elif mode == PRODUCT:
        for i in range(n):
            v[u8(i)] = v[u8(i)] / (a * bt[u8(i)] * ft[u8(i)])
    elif mode == PRODUCT + RECIPROCAL:
        for i in range(n):
            v[u8(i)] = v[u8(i)] * (a * bt[u8(i)] * ft[u8(i)])
    elif mode == CHAIN and a == 1:
        for i in range(n):
            v[u8(i)] = v[u8(i)] / bt[u8(i)] / ft[u8(i)]
    elif mode == CHAIN:
        for i in range(n):
            v[u8(i)] = v[u8(i)] / a / bt[u8(i)] / ft[u8(i)]
    else:
        for i in range(n):
            v[u8(i)] = v[u8(i)] * a * bt[u8(i)] * ft[u8(i)]


@njit(**_opts)
def avg_cf(x, out, td, th, tw, dil, wgeom, fd, fh, fw, override, mode):
    N, C, D, H, W = x.shape
    OD, OH, OW = out.shape[2], out.shape[3], out.shape[4]
    xf = x.reshape(-1)
    of = out.reshape(-1)
    for r in prange(N * C * OD * block_count(OH)):
        plane, od, oh0, oh1 = split_block(r, OD, OH)
        ph = phase_scratch(W, wgeom, x.dtype)
        for oh in range(oh0, oh1):
            row0 = ((plane * OD + od) * OH + oh) * OW
            sum_row_cf(xf, plane * D * H * W, H, W, of, row0, od, oh, td, th, tw, dil, wgeom, ph)
            _divide_row(of, row0, od, oh, fd, fh, fw, override, mode)


@njit(**_opts)
def avg_cl(x, out, td, th, tw, dil, fd, fh, fw, override, mode):
    N, C = x.shape[0], x.shape[4]
    OD, OH, OW = out.shape[1], out.shape[2], out.shape[3]
    unscaled = np.empty((0, 3), dtype=out.dtype)
    for r in prange(N * OD * OH):
        n, od, oh = split_row(r, OD, OH)
        orow = out[n, od, oh]
        if mode >= RECIPROCAL:
            # multiplying by exact reciprocals: within each cell's last pass of sums
            scale = np.ones((OW, 3), dtype=out.dtype)
            for ow in range(OW):
                if override > 0:
                    scale[ow, 0] = override
                elif mode == PRODUCT + RECIPROCAL:
                    scale[ow, 0] = fd[od] * fh[oh] * fw[ow]
                else:
                    scale[ow, 0], scale[ow, 1], scale[ow, 2] = fd[od], fh[oh], fw[ow]
            sum_row_cl(x[n], od, oh, orow, td, th, tw, dil, scale)
            continue
        sum_row_cl(x[n], od, oh, orow, td, th, tw, dil, unscaled)
        for ow in range(OW):
            # one divisor per cell, then a vectorised loop over the channels; the cases as
            # in _divide_row, one branch-free loop each
            a, b, w = fd[od], fh[oh], fw[ow]
            if override > 0:
                for c in range(C):
                    orow[u8(ow), u8(c)] = orow[u8(ow), u8(c)] / override
            elif mode == PRODUCT:
                q = a * b * w
                for c in range(C):
                    orow[u8(ow), u8(c)] = orow[u8(ow), u8(c)] / q
            elif mode == CHAIN and a == 1:  # dividing by 1 is exact: skip it
                for c in range(C):
                    orow[u8(ow), u8(c)] = orow[u8(ow), u8(c)] / b / w
            else:
                for c in range(C):
                    orow[u8(ow), u8(c)] = orow[u8(ow), u8(c)] / a / b / w


@njit(**_opts)
def avg_backward_cf(g, gx, td, th, tw, dil, wgeom, fd, fh, fw, override, mode):
    N, C, D, H, W = gx.shape
    OD, OH, OW = g.shape[2], g.shape[3], g.shape[4]
    gf = g.reshape(-1)
    gxf = gx.reshape(-1)
    for p in prange(N * C):
        share = np.empty(OW, dtype=gx.dtype)
        for od in range(OD):
            for oh in range(OH):
                g0 = ((p * OD + od) * OH + oh) * OW
                for ow in range(OW):
                    share[u8(ow)] = _divide(gf[u8(g0 + ow)], od, oh, ow, fd, fh, fw, override, mode)
                spread_row_cf(gxf, p * D * H * W, H, W, share, od, oh, td, th, tw, dil, wgeom)


@njit(**_opts)
def avg_backward_cl(g, gx, td, th, tw, dil, fd, fh, fw, override, mode, block):
    N, C = g.shape[0], g.shape[4]
    OD, OH, OW = g.shape[1], g.shape[2], g.shape[3]
    nblocks = (C + block - 1) // block
    for p in prange(N * nblocks):
        n, c0, c1 = split_channel_block(p, nblocks, block, C)
        share = np.empty((OW, C), dtype=gx.dtype)
        for od in range(OD):
            for oh in range(OH):
                grow = g[n, od, oh]
                for ow in range(OW):
                    for c in range(c0, c1):
                        share[u8(ow), u8(c)] = _divide(grow[u8(ow), u8(c)], od, oh, ow, fd, fh, fw, override, mode)
                spread_row_cl(gx[n], od, oh, share, td, th, tw, dil, c0, c1)


@njit(parallel=True, cache=True, nogil=True, error_model="numpy", fastmath={"reassoc"})
def plane_mean(x2d, out, zero):
    """``out[p] = sum(x2d[p]) / x2d.shape[1]``: global average pooling of contiguous planes.

    The sum may be reassociated (``fastmath`` "reassoc") so that it vectorises: a plane of
    7x7 cells took 2.4 ms per 8 x 2048 planes through the window kernels and a fraction of
    that here.  PyTorch computes this case with ``mean()``, whose order differs from a
    sequential sum as well, so results agree to float rounding either way.
    """
    P, L = x2d.shape
    for p in prange(P):
        s = zero
        for i in range(L):
            s += x2d[p, i]
        out[p] = s / L
