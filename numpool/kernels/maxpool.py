"""Max pooling kernels on the canonical 5-D views: forward, argmax, and the gradient scatter.

Parallel loops never let two threads write one cell:
- forward: ``prange`` over output rows (every row is written by one task);
- backward (channels-first): ``prange`` over (n, c) planes, each plane's scatter serial;
- backward (channels-last): ``prange`` over (n, channel block) pairs, so windows that
  overlap in space still belong to one task.
Each cell's gradient is summed in output order, so results do not depend on threads.
"""

import numpy as np
from numba import njit, prange
from numba import uint64 as u8

from ._rows import (argmax_row_cf, argmax_row_cl, block_count, max_row_cf, max_row_cl, phase_scratch,
                    split_block, split_channel_block, split_row)

_opts = dict(parallel=True, cache=True, nogil=True, error_model="numpy")

@njit(**_opts)
def max_cf(x, out, td, th, tw, dil, wgeom, lowest):
    N, C, D, H, W = x.shape
    OD, OH, OW = out.shape[2], out.shape[3], out.shape[4]
    xf = x.reshape(-1)
    of = out.reshape(-1)
    for r in prange(N * C * OD * block_count(OH)):
        plane, od, oh0, oh1 = split_block(r, OD, OH)
        ph = phase_scratch(W, wgeom, x.dtype)
        for oh in range(oh0, oh1):
            max_row_cf(xf, plane * D * H * W, H, W, of, ((plane * OD + od) * OH + oh) * OW, od, oh,
                       td, th, tw, dil, wgeom, lowest, ph)


@njit(**_opts)
def argmax_cf(x, out, idx, td, th, tw, dil, wgeom, lowest, nan_wins):
    N, C, D, H, W = x.shape
    OD, OH, OW = out.shape[2], out.shape[3], out.shape[4]
    xf = x.reshape(-1)
    of = out.reshape(-1)
    idxf = idx.reshape(-1)
    for r in prange(N * C * OD * block_count(OH)):
        plane, od, oh0, oh1 = split_block(r, OD, OH)
        ph = phase_scratch(W, wgeom, x.dtype)
        for oh in range(oh0, oh1):
            argmax_row_cf(xf, plane * D * H * W, H, W, of, idxf, ((plane * OD + od) * OH + oh) * OW, od, oh,
                          td, th, tw, dil, wgeom, lowest, nan_wins, ph)


@njit(**_opts)
def max_cl(x, out, td, th, tw, dil, lowest):
    N = x.shape[0]
    OD, OH = out.shape[1], out.shape[2]
    for r in prange(N * OD * OH):
        n, od, oh = split_row(r, OD, OH)
        max_row_cl(x[n], od, oh, out[n, od, oh], td, th, tw, dil, lowest)


@njit(**_opts)
def argmax_cl(x, out, idx, td, th, tw, dil, lowest, nan_wins):
    N = x.shape[0]
    OD, OH = out.shape[1], out.shape[2]
    for r in prange(N * OD * OH):
        n, od, oh = split_row(r, OD, OH)
        argmax_row_cl(x[n], od, oh, out[n, od, oh], idx[n, od, oh], td, th, tw, dil, lowest, nan_wins,
                      0, x.shape[4])


@njit(**_opts)
def max_backward_cf(x, g, gx, td, th, tw, dil, wgeom, lowest):
    """Recompute each window's argmax and add its gradient there; ``gx`` is (N*C, D*H*W)."""
    N, C, D, H, W = x.shape
    OD, OH, OW = g.shape[2], g.shape[3], g.shape[4]
    xf = x.reshape(-1)
    gf = g.reshape(-1)
    for p in prange(N * C):
        vals = np.empty(OW, dtype=x.dtype)
        pos = np.empty(OW, dtype=np.int64)
        ph = phase_scratch(W, wgeom, x.dtype)
        plane = gx[p]
        for od in range(OD):
            for oh in range(OH):
                argmax_row_cf(xf, p * D * H * W, H, W, vals, pos, 0, od, oh, td, th, tw, dil, wgeom, lowest,
                              True, ph)
                g0 = ((p * OD + od) * OH + oh) * OW
                for ow in range(OW):
                    i = pos[u8(ow)]
                    if i >= 0:
                        plane[i] += gf[u8(g0 + ow)]


@njit(**_opts)
def max_backward_cl(x, g, gx, td, th, tw, dil, lowest, block):
    """Channels-last twin of :func:`max_backward_cf`; ``gx`` is (N, D*H*W, C)."""
    N, C = x.shape[0], x.shape[4]
    OD, OH, OW = g.shape[1], g.shape[2], g.shape[3]
    nblocks = (C + block - 1) // block
    for p in prange(N * nblocks):
        n, c0, c1 = split_channel_block(p, nblocks, block, C)
        vals = np.empty((OW, C), dtype=x.dtype)
        pos = np.empty((OW, C), dtype=np.int64)
        for od in range(OD):
            for oh in range(OH):
                argmax_row_cl(x[n], od, oh, vals, pos, td, th, tw, dil, lowest, True, c0, c1)
                grow = g[n, od, oh]
                for ow in range(OW):
                    for c in range(c0, c1):
                        i = pos[u8(ow), u8(c)]
                        if i >= 0:
                            gx[n, i, c] += grow[u8(ow), u8(c)]


@njit(**_opts)
def scatter_add_cf(g, idx, gx):
    """``gx[p, idx[p, j]] += g[p, j]`` for each plane ``p`` (indices < 0 are skipped)."""
    P, J = g.shape
    for p in prange(P):
        for j in range(J):
            i = idx[p, j]
            if i >= 0:
                gx[p, i] += g[p, j]


@njit(**_opts)
def scatter_add_cl(g, idx, gx, block):
    """``gx[n, idx[n, j, c], c] += g[n, j, c]``, parallel over (n, channel block)."""
    N, J, C = g.shape
    nblocks = (C + block - 1) // block
    for p in prange(N * nblocks):
        n, c0, c1 = split_channel_block(p, nblocks, block, C)
        for j in range(J):
            for c in range(c0, c1):
                i = idx[n, j, c]
                if i >= 0:
                    gx[n, i, c] += g[n, j, c]


@njit(**_opts)
def fractional_cf(x, out, idx, tabs_d, tabs_h, tabs_w, lowest):
    """Max pooling with a window table per plane (fractional max pooling), channels-first.

    ``tabs_*`` are (N*C, 3, O) arrays: each plane's windows, every one wholly inside.
    """
    N, C, D, H, W = x.shape
    OD, OH, OW = out.shape[2], out.shape[3], out.shape[4]
    xf = x.reshape(-1)
    of = out.reshape(-1)
    idxf = idx.reshape(-1)
    dil = np.ones(3, dtype=np.int64)
    wgeom = np.array([1, 0, 0, 1, 0, 0], dtype=np.int64)  # no interior path: every window from the table
    for p in prange(N * C):
        ph = phase_scratch(W, wgeom, x.dtype)
        for od in range(OD):
            for oh in range(OH):
                argmax_row_cf(xf, p * D * H * W, H, W, of, idxf, ((p * OD + od) * OH + oh) * OW, od, oh,
                              tabs_d[p], tabs_h[p], tabs_w[p], dil, wgeom, lowest, True, ph)
