"""Max unpooling kernels: a scatter (forward) and a gather (backward) of flat plane indices.

Values are moved, never computed with, so the callers pass every dtype as the unsigned
integer of its width (float16 as uint16, bool as uint8, ...): four compiled variants cover
all dtypes and the copy is bitwise.  Indices are PyTorch's per-plane flat positions; -1
means "no position" (a pooling window wholly in padding) and moves nothing.

Each kernel checks every index as it reads it and returns how many lie outside ``[-1, L)``
(``L`` cells per plane); such an index moves nothing, so a bad index never reaches memory
and the caller raises with the count nonzero.  Checking here rather than with NumPy's
``min``/``max`` beforehand saves two whole passes over the int64 indices (3 ms of the
11 ms a (32, 64, 56, 56) unpool took).

Race freedom: the forward ``prange``s over planes (channels-first) or over (n, channel
block) pairs (channels-last), so every output cell belongs to one task; within a task the
inputs are visited in order, so with duplicate indices the last input wins, for any number
of threads.  Each task zeroes its own output plane first: that touches the memory in the
thread that will write it, and the plane is still in cache for the scatter.
"""

from numba import njit, prange
from numba import uint64 as u8

from ._rows import split_channel_block

_opts = dict(parallel=True, cache=True, nogil=True, error_model="numpy")


@njit(**_opts)
def unpool_cf(x, idx, out):
    """``out[p] = 0; out[p, idx[p, j]] = x[p, j]`` in order of ``j``; x, idx (P, J), out (P, L).
    Returns the number of indices outside ``[-1, L)``."""
    P, J = x.shape
    L = out.shape[1]
    bad = 0
    for p in prange(P):
        for i in range(L):
            out[p, u8(i)] = 0
        miss = 0
        for j in range(J):
            i = idx[p, u8(j)]
            if 0 <= i < L:
                out[p, u8(i)] = x[p, u8(j)]
            elif i != -1:
                miss += 1
        bad += miss
    return bad


@njit(**_opts)
def unpool_cl(x, idx, out, block):
    """Channels-last twin of :func:`unpool_cf`: x, idx (N, J, C), out (N, L, C); tasks are
    (n, block of ``block`` channels)."""
    N, J, C = x.shape
    L = out.shape[1]
    nblocks = (C + block - 1) // block
    bad = 0
    for t in prange(N * nblocks):
        n, c0, c1 = split_channel_block(t, nblocks, block, C)
        for i in range(L):
            for c in range(c0, c1):
                out[n, u8(i), u8(c)] = 0
        miss = 0
        for j in range(J):
            for c in range(c0, c1):
                i = idx[n, u8(j), u8(c)]
                if 0 <= i < L:
                    out[n, u8(i), u8(c)] = x[n, u8(j), u8(c)]
                elif i != -1:
                    miss += 1
        bad += miss
    return bad


@njit(**_opts)
def gather_cf(g, idx, gx):
    """``gx[p, j] = g[p, idx[p, j]]`` (0 where the index is -1); g (P, L), idx and gx (P, J).
    Returns the number of indices outside ``[-1, L)`` (their cells are 0)."""
    P, J = gx.shape
    L = g.shape[1]
    bad = 0
    for p in prange(P):
        miss = 0
        for j in range(J):
            i = idx[p, u8(j)]
            if 0 <= i < L:  # two stores, not `a if c else 0`: that would unify uint64 and int to float64
                gx[p, u8(j)] = g[p, u8(i)]
            else:
                gx[p, u8(j)] = 0
                if i != -1:
                    miss += 1
        bad += miss
    return bad


@njit(**_opts)
def gather_cl(g, idx, gx):
    """Channels-last twin of :func:`gather_cf`: g (N, L, C), idx and gx (N, J, C)."""
    N, J, C = gx.shape
    L = g.shape[1]
    bad = 0
    for t in prange(N * J):
        n = t // J
        j = t % J
        miss = 0
        for c in range(C):
            i = idx[n, u8(j), u8(c)]
            if 0 <= i < L:
                gx[n, u8(j), u8(c)] = g[n, u8(i), u8(c)]
            else:
                gx[n, u8(j), u8(c)] = 0
                if i != -1:
                    miss += 1
        bad += miss
    return bad
