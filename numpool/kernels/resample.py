"""Resampling kernels: one sparse matrix applied along one axis, forward and backward.

``numpool._params`` turns every interpolation rule (PyTorch's nearest, linear, cubic and
antialiased filters, ONNX Resize's coordinate modes) into per-axis tables in CSR form:
output ``o`` reads the taps ``ptr[o]:ptr[o + 1]`` (input index ``idx[k]``, weight ``w[k]``)
and starts from ``fill[o]``.  Resampling is separable, so the caller applies one table per
axis to the array seen as ``(A, L, B)`` (everything before the axis, the axis, everything
after it; a free reshape of a contiguous array) and only these loops run here.

The backward is the same kernel with the transposed tables: each input cell gathers its
outputs in output order, so it never scatters, no two threads write one cell, and the
result is bitwise identical for any thread count.
"""

from numba import njit, prange

_opts = dict(parallel=True, cache=True, nogil=True, error_model="numpy")


@njit(**_opts)
def apply_axis(x, out, ptr, idx, w, fill):
    """``out[a, o, b] = fill[o] + sum_k w[k] * x[a, idx[k], b]``: weighted taps along axis 1."""
    A, B = x.shape[0], x.shape[2]
    O = out.shape[1]
    if B == 1:  # the innermost axis: one task per outer row, so tasks are not a few taps each
        for a in prange(A):
            for o in range(O):
                acc = fill[o]
                for k in range(ptr[o], ptr[o + 1]):
                    acc += w[k] * x[a, idx[k], 0]
                out[a, o, 0] = acc
        return
    # other axes: one task per output row; the inner loop runs over B contiguous cells
    for r in prange(A * O):
        a = r // O
        o = r - a * O
        dst = out[a, o]
        for b in range(B):
            dst[b] = fill[o]
        for k in range(ptr[o], ptr[o + 1]):
            src = x[a, idx[k]]
            wk = w[k]
            for b in range(B):
                dst[b] += wk * src[b]


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
