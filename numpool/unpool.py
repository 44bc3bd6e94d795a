"""Max unpooling (PyTorch's ``max_unpool1d/2d/3d``) and its gradient.

Thin like ``numpool.functional``: ``numpool._params.unpool_spec`` gives the output size,
``numpool._layout`` the kernel view, and ``numpool.kernels.unpool`` moves the values.
"""

from __future__ import annotations

import numpy as np

from ._checks import as_array, check_nonempty_spatial, check_shape
from ._errors import DTypeError, ParameterError
from ._layout import channel_block, plan_view
from ._params import normalize_layout, unpool_spec
from .kernels import unpool as kernels

__all__ = [
    "max_unpool1d", "max_unpool2d", "max_unpool3d",
    "max_unpool1d_backward", "max_unpool2d_backward", "max_unpool3d_backward",
]


class _UnpoolCall:
    """One validated unpooling call: arrays, view, output shape, and indices on the kernel view."""

    def __init__(self, op, nd, x, indices, kernel_size, stride, padding, output_size, layout, kinds):
        self.op = op
        self.x = as_array(x, op, kinds=kinds)
        self.layout = normalize_layout(layout, op)
        self.view = plan_view(self.x, nd, self.layout, op)
        spatial = self.view.spatial_shape(self.x.shape)
        check_nonempty_spatial(spatial, self.x.shape, op)
        self.spec = unpool_spec(op, spatial, kernel_size, stride, padding, output_size, self.x.shape)
        self.out_shape = self.view.with_spatial(self.x.shape, self.spec.out_spatial)
        self.cells = int(np.prod(self.spec.out_spatial))
        self.idx = self.flat(self._check_indices(indices), np.int64)

    def _check_indices(self, indices):
        try:
            idx = np.asarray(indices)
        except ValueError as exc:  # ragged nested lists
            raise ParameterError(
                f"`indices` must be an integer array for {self.op}; could not convert it: {exc}") from None
        if idx.dtype.kind not in "iu":
            raise DTypeError(f"`indices` must be an integer array for {self.op}; got dtype {idx.dtype}.")
        if idx.shape != self.x.shape:
            raise ParameterError(
                f"`indices` must have the shape of `x`, {self.x.shape}, for {self.op}; got {idx.shape}.")
        if idx.dtype == np.uint64 and idx.size and int(idx.max()) >= self.cells:
            # the kernels check int64 indices; a uint64 one past 2**63 would wrap to a negative
            raise ParameterError(
                f"`indices` must lie in [0, {self.cells}) for {self.op}; got values up to {int(idx.max())}.")
        return idx

    def check_moved(self, bad):
        """Raise when the kernel found indices outside ``[-1, cells)``: the kernels check each
        index as they read it (a separate NumPy ``min``/``max`` would read the int64 indices
        twice more) and move nothing for a bad one; the output is then discarded."""
        if bad:
            lo, hi = int(self.idx.min()), int(self.idx.max())
            raise ParameterError(
                f"`indices` must lie in [0, {self.cells}) (flat positions in each output plane of spatial "
                f"shape {self.spec.out_spatial}; -1 marks no position) for {self.op}; "
                f"got values from {lo} to {hi}."
            )

    def flat(self, array, dtype):
        """A user-shaped array (x's shape or the output's) as the kernel's contiguous 2-D/3-D
        view: (N*C, cells) channels-first, (N, cells, C) channels-last."""
        k = np.ascontiguousarray(self.view.to_kernel(array), dtype=dtype)
        return _flat_kernel(k, self.view.memory == "cf")


def _flat_kernel(k, cf):
    if cf:
        return k.reshape(k.shape[0] * k.shape[1], k.shape[2] * k.shape[3] * k.shape[4])
    return k.reshape(k.shape[0], k.shape[1] * k.shape[2] * k.shape[3], k.shape[4])


def _bits(array):
    """The same bytes as unsigned integers of the same width: the kernels only move values."""
    return array.view(f"u{array.dtype.itemsize}")


def _native(dtype):
    return np.dtype(dtype).newbyteorder("=")


def _forward(nd, x, indices, kernel_size, stride, padding, output_size, layout):
    call = _UnpoolCall(f"max_unpool{nd}d", nd, x, indices, kernel_size, stride, padding, output_size, layout,
                       "biuf")
    dtype = _native(call.x.dtype)
    xf = call.flat(call.x, dtype)
    out, outk = call.view.empty(call.out_shape, dtype)
    outf = _flat_kernel(outk, call.view.memory == "cf")
    if call.view.memory == "cf":
        bad = kernels.unpool_cf(_bits(xf), call.idx, _bits(outf))
    else:
        bad = kernels.unpool_cl(_bits(xf), call.idx, _bits(outf), channel_block(xf.shape[0], xf.shape[2]))
    call.check_moved(bad)
    return out if out.dtype == call.x.dtype else out.astype(call.x.dtype, order="K")


def _backward(nd, grad_output, x, indices, kernel_size, stride, padding, output_size, layout):
    op = f"max_unpool{nd}d_backward"
    call = _UnpoolCall(op, nd, x, indices, kernel_size, stride, padding, output_size, layout, "iuf")
    g = as_array(grad_output, op, name="grad_output", kinds="iuf")
    check_shape("grad_output", g, call.out_shape, op)
    if call.x.dtype.kind in "iu" and g.dtype.kind == "f":
        raise DTypeError(
            f"`grad_output` of dtype {g.dtype} would be truncated to `x`'s integer dtype {call.x.dtype} "
            f"for {op}; pass an integer `grad_output` or a float `x`."
        )
    dtype = _native(call.x.dtype)
    gf = call.flat(g, dtype)
    gx, gxk = call.view.empty(call.x.shape, dtype)
    gxf = _flat_kernel(gxk, call.view.memory == "cf")
    gather = kernels.gather_cf if call.view.memory == "cf" else kernels.gather_cl
    call.check_moved(gather(_bits(gf), call.idx, _bits(gxf)))
    return gx if gx.dtype == call.x.dtype else gx.astype(call.x.dtype, order="K")


_SPATIAL = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}

_DOC = """{nd}-D max unpooling, PyTorch's ``max_unpool{nd}d``: the partial inverse of ``max_pool{nd}d``.

    Every output cell is 0 except ``out[n, c][indices[n, c, i]] = x[n, c, i]``: each input
    value is written at its flat position in its own (N, C) plane.

    Parameters
    ----------
    x : ndarray
        Values to place, batched or unbatched; any strided view, never modified.  Any
        bool, integer or float dtype (PyTorch takes floats only); values are copied bit for bit.
    indices : integer ndarray, the shape of ``x``
        Flat positions in each output plane's spatial dims, PyTorch's format (``h * W_out + w``
        in 2-D), as ``max_pool{nd}d(..., return_indices=True)`` returns them.  ``-1`` (a pooling
        window wholly in padding) places nothing.
    kernel_size : int or tuple of {nd} ints
    stride : int or tuple of {nd} ints, optional
        Defaults to ``kernel_size``.
    padding : int, tuple of ints or of (before, after) pairs, default 0
        The padding of the pooling being inverted; it only enters the output size.
    output_size : sequence of {nd} or {nd2} ints, optional
        The output's spatial size (leading N, C entries are ignored, as in PyTorch).  It must
        lie strictly between ``default - stride`` and ``default + stride`` in every dimension.
    layout : {{"channels_first", "channels_last"}}
        Where the channel axis is.

    Returns
    -------
    out : ndarray, same dtype as ``x``

    Shape
    -----
    Input ``(N, C, {s})`` or ``(C, {s})`` (``channels_first``), ``(N, {s}, C)`` or ``({s}, C)``
    (``channels_last``); each output spatial size is ``output_size`` or::

        L_out = (L - 1) * stride - pad_lo - pad_hi + kernel_size

    Notes
    -----
    - Duplicate indices (overlapping pooling windows with a shared maximum): the value that
      comes last in input order wins, always, because each plane is scattered by one thread in
      order.  PyTorch's CPU kernel does the same with one thread, but with several it splits
      each plane's inputs between them (even a plane of four), so the winner varies from run
      to run.
    - An index outside ``[-1, L_out)`` (per plane) is a ``ParameterError`` before anything runs;
      PyTorch raises a RuntimeError for it, and for -1 too.
    - ``max_unpool{nd}d_backward(grad_output, x, indices, ...)`` is the gather
      ``grad_x[n, c, i] = grad_output[n, c][indices[n, c, i]]``.

    Examples
    --------
{example}
"""

_EXAMPLES = {
    1: """    >>> import numpy as np, numpool.unpool
    >>> x = np.array([[[1., 3., 2., 5., 4., 0.]]])
    >>> out, idx = numpool.max_pool1d(x, 2, return_indices=True)
    >>> numpool.unpool.max_unpool1d(out, idx, 2)
    array([[[0., 3., 0., 5., 4., 0.]]])""",
    2: """    >>> import numpy as np, numpool.unpool
    >>> x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    >>> out, idx = numpool.max_pool2d(x, 2, return_indices=True)
    >>> numpool.unpool.max_unpool2d(out, idx, 2)
    array([[[[ 0.,  0.,  0.,  0.],
             [ 0.,  5.,  0.,  7.],
             [ 0.,  0.,  0.,  0.],
             [ 0., 13.,  0., 15.]]]], dtype=float32)""",
    3: """    >>> import numpy as np, numpool.unpool
    >>> out = numpool.unpool.max_unpool3d(np.array([[[[[7.]]]]]), np.array([[[[[7]]]]]), 2)
    >>> out.ravel()
    array([0., 0., 0., 0., 0., 0., 0., 7.])""",
}

_BACKWARD_DOC = """Gradient of :func:`max_unpool{nd}d` with respect to ``x``: a gather.

    Takes the output gradient and the same ``x``, ``indices`` and keyword arguments as the
    forward call (only ``x``'s shape and dtype matter); returns
    ``grad_x[n, c, i] = grad_output[n, c][indices[n, c, i]]`` (0 where the index is -1) with the
    shape and dtype of ``x``.  Every duplicate of an index receives the full gradient, as in
    PyTorch's autograd.  Exact and deterministic.
"""


def _make(nd):
    def forward(x, indices, kernel_size, stride=None, padding=0, output_size=None, layout="channels_first"):
        return _forward(nd, x, indices, kernel_size, stride, padding, output_size, layout)

    def backward(grad_output, x, indices, kernel_size, stride=None, padding=0, output_size=None,
                 layout="channels_first"):
        return _backward(nd, grad_output, x, indices, kernel_size, stride, padding, output_size, layout)

    name = f"max_unpool{nd}d"
    forward.__name__ = forward.__qualname__ = name
    forward.__doc__ = _DOC.format(nd=nd, nd2=nd + 2, s=", ".join(_SPATIAL[nd]), example=_EXAMPLES[nd])
    backward.__name__ = backward.__qualname__ = name + "_backward"
    backward.__doc__ = _BACKWARD_DOC.format(nd=nd)
    return forward, backward


max_unpool1d, max_unpool1d_backward = _make(1)
max_unpool2d, max_unpool2d_backward = _make(2)
max_unpool3d, max_unpool3d_backward = _make(3)
