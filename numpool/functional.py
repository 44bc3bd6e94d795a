"""Public pooling functions: validate -> spec -> view -> kernel -> result.

Each function is thin: ``numpool._params`` normalises the parameters, ``numpool._layout``
maps the array onto a kernel's 5-D view without copying, and a kernel from
``numpool.kernels`` does the loops.  Every rule is written out in ``docs/semantics.md``.

What the checks and planning compute depends only on the op, the input's shape, strides
and dtype, and the other arguments, so it is cached under those (``_PLANS``), and a forward
call stores a runner that repeats just the allocation and the kernel (``_RUNNERS``).
"""

from __future__ import annotations

import dataclasses
import functools

import numba
import numpy as np

from . import _params
from ._checks import (as_array, check_bool, check_grad_output, check_nonempty_spatial, check_result_size,
                      check_shape, kernel_dtype, lowest)
from ._cache import ByteCache, byte_cache, table_bytes
from ._errors import DTypeError, ParameterError
from ._layout import channel_block, plan_view
from .kernels import avgpool, maxpool, planes

__all__ = [
    "max_pool1d", "max_pool2d", "max_pool3d",
    "max_pool1d_backward", "max_pool2d_backward", "max_pool3d_backward",
    "avg_pool1d", "avg_pool2d", "avg_pool3d",
    "avg_pool1d_backward", "avg_pool2d_backward", "avg_pool3d_backward",
    "max_pool_with_argmax", "relu", "relu_backward",
    "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d",
    "adaptive_max_pool1d_backward", "adaptive_max_pool2d_backward", "adaptive_max_pool3d_backward",
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
    "adaptive_avg_pool1d_backward", "adaptive_avg_pool2d_backward", "adaptive_avg_pool3d_backward",
    "global_max_pool", "global_max_pool_backward", "global_avg_pool", "global_avg_pool_backward",
    "lp_pool1d", "lp_pool2d", "lp_pool3d", "lp_pool1d_backward", "lp_pool2d_backward", "lp_pool3d_backward",
    "leaky_relu", "leaky_relu_backward", "relu6", "relu6_backward",
    "fractional_max_pool2d", "fractional_max_pool3d", "fractional_max_pool2d_backward",
    "fractional_max_pool3d_backward", "convert_indices",
]


# ---------------------------------------------------------------------------------------
# shared plumbing


_PLAN_LIMIT = 256  # cached call plans, one per (op, shape, strides, dtype, arguments)
# least recently used out first, at _PLAN_LIMIT entries or at the byte budget of their tables
_PLANS = ByteCache(limit=_PLAN_LIMIT)
_SCALARS = (type(None), bool, int, float, str, np.bool_, np.integer, np.floating)


def _arg_key(value):
    """``value`` as a dict key that also tells apart equal values of other types (``7``,
    ``7.0``, ``True``), so that a cached plan never skips a check another call needs;
    raises TypeError for anything but scalars and (nested) tuples and lists of them."""
    if isinstance(value, (tuple, list)):
        return type(value), tuple(_arg_key(v) for v in value)
    if isinstance(value, _SCALARS):
        return type(value), value
    raise TypeError(value)


class _Plan:
    """What a call's arguments and its input's shape, strides and dtype determine: the
    view, the spec, the output shape and the kernels' geometry.  Computing it is most of
    a call's Python time, so calls that repeat a shape and arguments reuse it."""

    def __init__(self, op, nd, x, layout, make_spec, memory):
        self.layout = _params.normalize_layout(layout, op)
        self.view = plan_view(x, nd, self.layout, op)
        if memory is not None:
            self.view = dataclasses.replace(self.view, memory=memory)
        spatial = self.view.spatial_shape(x.shape)
        check_nonempty_spatial(spatial, x.shape, op)
        self.spec = make_spec(spatial)
        self.out_shape = self.view.with_spatial(x.shape, self.spec.out_spatial)
        check_result_size(self.out_shape, max(x.dtype.itemsize, 8), op, x.shape)  # values or int64 indices
        self.out_kernel_shape = self.view.kernel_shape(self.out_shape)
        # Where the kernel's memory order is the layout's own, the kernel views are reshapes:
        # of a fresh output, and of an input that is C-contiguous in the kernel's dtype.
        self.reshape_out = self.view.memory == ("cl" if self.layout == "channels_last" else "cf")
        self.kernel_dtype = kernel_dtype(x.dtype)
        self.in_kernel_shape = self.view.kernel_shape(x.shape)
        self.reshape_in = self.reshape_out and x.dtype == self.kernel_dtype and x.flags.c_contiguous

    @functools.cached_property
    def geometry(self):
        return _params.table_spec(self.spec)

    def kernel_input(self, x, dtype=None):
        """``x`` as the kernel reads it: a view, or a widened copy for float16."""
        if dtype is None and self.reshape_in:
            return x.reshape(self.in_kernel_shape)
        dtype = self.kernel_dtype if dtype is None else np.dtype(dtype)
        xk = self.view.to_kernel(x)
        if x.dtype == np.bool_ and dtype == np.uint8:
            xk = xk.view(np.uint8)
        # Kernels address the input by flat offsets, so a view that is contiguous in neither
        # layout is read through one contiguous copy (float16 is widened in the same pass).
        return np.ascontiguousarray(xk, dtype=dtype)

    def empty(self, dtype):
        """A new output, ``(user's view, kernel's view)``; see :meth:`numpool._layout.View.empty`."""
        kernel = np.empty(self.out_kernel_shape, dtype=dtype)
        return (kernel.reshape(self.out_shape) if self.reshape_out else self.view.from_kernel(kernel)), kernel

    @functools.cached_property
    def plane(self):
        return _params.plane_geometry(self.spec) if self.view.memory == "cf" else None


def _plan(op, nd, x, layout, kinds, make_spec, memory, args):
    """The :class:`_Plan` of a call, from the cache where ``args`` (the raw arguments that
    ``make_spec`` and ``layout`` read) make a key.  Only plans whose checks passed are cached."""
    try:
        key = (op, nd, kinds, memory, x.shape, x.strides, x.dtype, _arg_key(layout), _arg_key(args))
        plan = _PLANS.get(key)
    except TypeError:  # an argument that is no key (an array, say): plan afresh
        return _Plan(op, nd, x, layout, make_spec, memory)
    if plan is None:
        plan = _Plan(op, nd, x, layout, make_spec, memory)
        _PLANS.put(key, plan, table_bytes(plan.spec))
    return plan


_RUNNERS = ByteCache(limit=_PLAN_LIMIT)  # a repeated forward call's whole path, see _runner_key


def _runner_key(op, x, args):
    """The key of a forward call in :data:`_RUNNERS`: its op, ``x``'s shape, strides and dtype
    and its other arguments, typed (:func:`_arg_key`).  A runner is stored only after the
    call's checks passed, and a call that repeats all of these would pass them again, so it
    runs the stored runner straight away: after the benchmark's pause, the checks and
    planning of a 0.3 ms call (global average of (32, 2048, 7, 7)) took about 70 us more
    than the kernel and its output.  None where ``x`` is not a plain ndarray or an argument
    makes no key."""
    if type(x) is not np.ndarray:
        return None
    try:
        return op, x.shape, x.strides, x.dtype, _arg_key(args)
    except TypeError:
        return None


def _stored_runner(op, x, args):
    """``(key, runner)``: this call's :func:`_runner_key` and the runner stored under it, or None."""
    key = _runner_key(op, x, args)
    return key, _RUNNERS.get(key)


def _keep_runner(key, runner, call):
    """Store ``runner`` (of ``call``) under ``key`` (unless None) and return it."""
    if key is not None:
        _RUNNERS.put(key, runner, table_bytes(call.spec))
    return runner


def _forget_plans():
    """Drop every cached plan and runner (tests that move the plane kernels' width limit)."""
    _PLANS.clear()
    _RUNNERS.clear()


class _Call:
    """One validated pooling call: the array, its view, the spec and the kernel geometry."""

    def __init__(self, op, nd, x, layout, kinds, make_spec, memory=None, args=None):
        """``make_spec(spatial_shape)`` validates the window arguments and returns the spec;
        ``memory`` ("cf" or "cl") forces the kernels' memory order instead of following x's;
        ``args``, the raw arguments ``make_spec`` reads, lets the plan be cached (None: never)."""
        self.op = op
        self.x = as_array(x, op, kinds=kinds)
        if args is None:
            plan = _Plan(op, nd, self.x, layout, make_spec, memory)
        else:
            plan = _plan(op, nd, self.x, layout, kinds, make_spec, memory, args)
        self.plan = plan
        self.layout, self.view, self.spec, self.out_shape = plan.layout, plan.view, plan.spec, plan.out_shape

    # the kernels' window tables and scalars (see numpool._params.table_spec)
    td = property(lambda self: self.plan.geometry[0][0])
    th = property(lambda self: self.plan.geometry[0][1])
    tw = property(lambda self: self.plan.geometry[0][2])
    dil = property(lambda self: self.plan.geometry[1])
    wgeom = property(lambda self: self.plan.geometry[2])

    @property
    def plane(self):
        """Geometry for the whole-plane channels-first kernels, or None (row kernels)."""
        return self.plan.plane

    @property
    def cf(self):
        return self.view.memory == "cf"

    def kernel_input(self, dtype=None):
        """The input as the kernel reads it (:meth:`_Plan.kernel_input`)."""
        return self.plan.kernel_input(self.x, dtype)

    def empty(self, dtype):
        """A new output, ``(user's view, kernel's view)`` (:meth:`_Plan.empty`)."""
        return self.plan.empty(dtype)

    def grad_view(self, grad_output, dtype):
        """``grad_output`` checked and laid out like the kernel's output, as ``dtype``."""
        g = check_grad_output(grad_output, self.x, self.out_shape, self.op)
        return np.ascontiguousarray(self.view.to_kernel(g), dtype=dtype)


def _window_call(op, nd, x, kernel_size, stride, padding, dilation, ceil_mode, layout, kinds):
    def make_spec(spatial):
        return _params.pool_spec(op, spatial, kernel_size, stride, padding, dilation,
                                 check_bool("ceil_mode", ceil_mode, op), np.shape(x))

    return _Call(op, nd, x, layout, kinds, make_spec, args=(kernel_size, stride, padding, dilation, ceil_mode))


def _adaptive_call(op, nd, x, output_size, layout, kinds):
    return _Call(op, nd, x, layout, kinds, lambda spatial: _params.adaptive_spec(op, spatial, output_size, np.shape(x)),
                 args=(output_size,))


_STACK_CELLS = 8192  # input cells a group of stacked planes may span (32 KB of float32)


def _plane_tasks(xk, pg):
    """``(blocks, stack)`` for the whole-plane kernels: a few parallel tasks per thread, each
    with its scratch, pooling groups of ``stack`` planes where ``pg`` lets planes stack
    (fourteen-cell-wide planes cost more in loop set-up than in work one at a time)."""
    threads = numba.get_num_threads()
    tasks = xk.shape[0] * xk.shape[1] * xk.shape[2]
    stack = 1
    if pg[10]:
        stack = max(1, min(_STACK_CELLS // (xk.shape[3] * xk.shape[4]), tasks // (4 * threads)))
    groups = -(-tasks // stack)
    return max(1, min(groups, 4 * threads)), stack


def _finish(out_user, dtype):
    """Cast a kernel result back to ``dtype`` (float16 outputs, bool views)."""
    if out_user.dtype == dtype:
        return out_user
    if dtype == np.bool_:
        return out_user.view(np.bool_)
    return out_user.astype(dtype, order="K")


# ---------------------------------------------------------------------------------------
# max pooling


def _run_max(call, want_indices, nan_wins=True):
    """Max pooling of a validated call: ``out`` or ``(out, indices)`` in PyTorch's index format."""
    if not want_indices:
        return _max_runner(call)(call.x)
    xk = call.kernel_input()
    out, outk = call.empty(xk.dtype)
    low = lowest(xk.dtype)
    idx, idxk = call.empty(np.int64)
    if call.cf:
        maxpool.argmax_cf(xk, outk, idxk, call.td, call.th, call.tw, call.dil, call.wgeom, low, nan_wins)
    else:
        maxpool.argmax_cl(xk, outk, idxk, call.td, call.th, call.tw, call.dil, low, nan_wins)
    return _finish(out, call.x.dtype), idx


def _max_runner(call):
    """``run(x)``: max pooling values of ``call``'s plan for any ``x`` that shares its key."""
    plan, dtype = call.plan, call.x.dtype
    td, th, tw, dil, wgeom, pg = call.td, call.th, call.tw, call.dil, call.wgeom, call.plane
    cf = call.cf
    low = lowest(plan.kernel_dtype)
    ones = np.ones(1)  # divisors unused by max pooling

    def run(x):
        xk = plan.kernel_input(x)
        out, outk = plan.empty(xk.dtype)
        if pg is not None:
            planes.pool_planes_cf(xk, outk, td, dil, pg, True, low, ones, ones, ones, 1.0, 0, *_plane_tasks(xk, pg))
        elif cf:
            maxpool.max_cf(xk, outk, td, th, tw, dil, wgeom, low)
        else:
            maxpool.max_cl(xk, outk, td, th, tw, dil, low)
        return _finish(out, dtype)

    return run


def _run_max_backward(call, grad_output, indices):
    """Gradient of :func:`_run_max`: each output gradient added at its window's argmax."""
    acc = kernel_dtype(call.x.dtype)
    g = call.grad_view(grad_output, acc)
    gx, gxk = call.view.zeros(call.x.shape, acc)
    n = gxk.shape[0]
    if call.cf:
        planes, cells = n * gxk.shape[1], int(np.prod(gxk.shape[2:]))
        gx_flat = gxk.reshape(planes, cells)
    else:
        planes, cells = n, int(np.prod(gxk.shape[1:4]))
        gx_flat = gxk.reshape(n, cells, gxk.shape[4])
    if indices is not None:
        idx = _check_indices(indices, call, cells, call.op)
        # explicit sizes, not -1: with no planes (N or C is 0) -1 has nothing to divide by
        if call.cf:
            outs = int(np.prod(g.shape[2:]))
            maxpool.scatter_add_cf(g.reshape(planes, outs), idx.reshape(planes, outs), gx_flat)
        else:
            c = gxk.shape[4]
            outs = int(np.prod(g.shape[1:4]))
            maxpool.scatter_add_cl(g.reshape(n, outs, c), idx.reshape(n, outs, c), gx_flat, channel_block(n, c))
        return _finish(gx, call.x.dtype)
    xk = call.kernel_input()
    low = lowest(xk.dtype)
    if call.cf:
        maxpool.max_backward_cf(xk, g, gx_flat, call.td, call.th, call.tw, call.dil, call.wgeom, low)
    else:
        maxpool.max_backward_cl(xk, g, gx_flat, call.td, call.th, call.tw, call.dil, low,
                                channel_block(n, gxk.shape[4]))
    return _finish(gx, call.x.dtype)


def _max_forward(nd, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices, layout):
    op = f"max_pool{nd}d"
    key, run = _stored_runner(op, x, (kernel_size, stride, padding, dilation, ceil_mode, return_indices, layout))
    if run is not None:
        return run(x)
    call = _window_call(op, nd, x, kernel_size, stride, padding, dilation, ceil_mode, layout, "biuf")
    if check_bool("return_indices", return_indices, op):
        return _run_max(call, True)
    return _keep_runner(key, _max_runner(call), call)(call.x)


def _max_backward(nd, grad_output, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
                  layout, indices, ties="first"):
    op = f"max_pool{nd}d_backward"
    call = _window_call(op, nd, x, kernel_size, stride, padding, dilation, ceil_mode, layout, "iuf")
    check_bool("return_indices", return_indices, op)
    return _tied_max_backward(call, grad_output, indices, ties)


def _tied_max_backward(call, grad_output, indices, ties):
    """The max gradient under a tie policy: "first" through the max kernels (or ``indices``),
    "all" and "split" through the N-D engine (see :func:`numpool.reduce_window_backward`)."""
    from . import _engine
    from .windows import tie_code

    code = tie_code(ties, indices, call.x, call.op)
    if code is None:
        return _run_max_backward(call, grad_output, indices)
    g = check_grad_output(grad_output, call.x, call.out_shape, call.op)
    return _engine.backward(call.view, call.spec, call.x, g, _engine.kernels.MAX, ties=code)


def _check_indices(indices, call, cells, op):
    try:
        idx = np.asarray(indices)
    except ValueError as exc:  # ragged nested lists
        raise ParameterError(f"`indices` must be an integer array for {op}; could not convert it: {exc}") from None
    if idx.dtype.kind not in "iu":
        raise DTypeError(f"`indices` must be an integer array for {op}; got dtype {idx.dtype}.")
    check_shape("indices", idx, call.out_shape, op)
    if idx.size:
        lo, hi = int(idx.min()), int(idx.max())
        if lo < -1 or hi >= cells:
            raise ParameterError(
                f"`indices` must lie in [0, {cells}) (flat positions in each input plane; -1 marks a window "
                f"wholly in padding) for {op}; got values from {lo} to {hi}."
            )
    return np.ascontiguousarray(call.view.to_kernel(idx), dtype=np.int64)


# ---------------------------------------------------------------------------------------
# average pooling


def _avg_args(call, include, override, chain):
    """Divisor factors, override and division mode for the average kernels.

    Factors are in the accumulation dtype, so that every division is rounded in that
    dtype, as PyTorch's kernels do (float32 / int64 would go through float64).  Where
    every divisor is a power of two the kernels get the reciprocals instead and multiply:
    ``v * 2**-k`` is ``v / 2**k`` exactly, and a division cost as much as the rest of a
    2x2 average (see :func:`numpool.kernels.avgpool._divide`).
    """
    return _divisors(call.spec, include, override, chain, call.plan.kernel_dtype)


def _power_of_two(v):
    return v > 0 and float(np.frexp(v)[0]) == 0.5


@byte_cache
def _divisors(spec, include, override, chain, acc):
    factors = _params.divisor_factors(spec, include)
    mode = avgpool.CHAIN if chain else avgpool.PRODUCT
    if (override == 0 or _power_of_two(override)) and all(_power_of_two(v) for f in factors for v in f):
        mode += avgpool.RECIPROCAL
        factors = tuple(1 / f for f in factors)
        override = 1 / override if override else 0
    return tuple(f.astype(acc) for f in factors), acc.type(override), mode


@byte_cache
def _plane_divisors(spec, include, override, chain, acc, stack, pitch):
    """:func:`_divisors`' H and W factors per cell of the whole-plane kernels' accumulator
    for a group of ``stack`` planes: row ``r`` (pitch ``pitch``) is output row ``r % OH``; the
    cells past each row's ``OW`` outputs are never stored and get 1."""
    (_, fh, fw), _, _ = _divisors(spec, include, override, chain, acc)
    cell = np.arange(stack * len(fh) * pitch)
    col = cell % pitch
    bt = fh[(cell // pitch) % len(fh)]
    ft = np.where(col < len(fw), fw[np.minimum(col, len(fw) - 1)], 1).astype(acc)
    return bt, ft


def _run_avg(call, include, override, chain=False):
    return _avg_runner(call, include, override, chain)(call.x)


def _avg_runner(call, include, override, chain=False):
    """``run(x)``: average pooling of ``call``'s plan for any ``x`` that shares its key."""
    (fd, fh, fw), over, mode = _avg_args(call, include, override, chain)
    plan, dtype, spec = call.plan, call.x.dtype, call.spec
    td, th, tw, dil, wgeom, pg = call.td, call.th, call.tw, call.dil, call.wgeom, call.plane
    cf = call.cf

    def run(x):
        xk = plan.kernel_input(x)
        out, outk = plan.empty(xk.dtype)
        if pg is not None:
            blocks, stack = _plane_tasks(xk, pg)
            pitch = int(pg[1] * pg[9])  # the accumulator's row pitch, sh * J
            bt, ft = _plane_divisors(spec, include, override, chain, xk.dtype, stack, pitch)
            planes.pool_planes_cf(xk, outk, td, dil, pg, False, 0, fd, bt, ft, over, mode, blocks, stack)
        elif cf:
            avgpool.avg_cf(xk, outk, td, th, tw, dil, wgeom, fd, fh, fw, over, mode)
        else:
            avgpool.avg_cl(xk, outk, td, th, tw, dil, fd, fh, fw, over, mode)
        return _finish(out, dtype)

    return run


def _run_avg_backward(call, grad_output, include, override, chain=False):
    (fd, fh, fw), over, mode = _avg_args(call, include, override, chain)
    acc = kernel_dtype(call.x.dtype)
    g = call.grad_view(grad_output, acc)
    gx, gxk = call.view.zeros(call.x.shape, acc)
    if call.cf:
        avgpool.avg_backward_cf(g, gxk, call.td, call.th, call.tw, call.dil, call.wgeom, fd, fh, fw, over, mode)
    else:
        avgpool.avg_backward_cl(g, gxk, call.td, call.th, call.tw, call.dil, fd, fh, fw, over, mode,
                                channel_block(gxk.shape[0], gxk.shape[4]))
    return _finish(gx, call.x.dtype)


def _avg_forward(nd, x, kernel_size, stride, padding, dilation, ceil_mode, count_include_pad, divisor_override,
                 layout):
    op = f"avg_pool{nd}d"
    key, run = _stored_runner(op, x, (kernel_size, stride, padding, dilation, ceil_mode, count_include_pad,
                                      divisor_override, layout))
    if run is not None:
        return run(x)
    call = _window_call(op, nd, x, kernel_size, stride, padding, dilation, ceil_mode, layout, "f")
    run = _avg_runner(call, check_bool("count_include_pad", count_include_pad, op),
                      _params.divisor_override(divisor_override, op))
    return _keep_runner(key, run, call)(call.x)


def _avg_backward(nd, grad_output, x, kernel_size, stride, padding, dilation, ceil_mode, count_include_pad,
                  divisor_override, layout):
    op = f"avg_pool{nd}d_backward"
    call = _window_call(op, nd, x, kernel_size, stride, padding, dilation, ceil_mode, layout, "f")
    return _run_avg_backward(call, grad_output, check_bool("count_include_pad", count_include_pad, op),
                             _params.divisor_override(divisor_override, op))


# ---------------------------------------------------------------------------------------
# public 1-D / 2-D / 3-D names, documented from one template per operation

_SPATIAL = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}

_SHAPE_DOC = """
    Shape
    -----
    - Input: ``(N, C, {s})`` or ``(C, {s})`` with ``layout="channels_first"``;
      ``(N, {s}, C)`` or ``({s}, C)`` with ``layout="channels_last"``.
    - Output: the same with each spatial size ``L`` replaced by::

          L_out = floor_or_ceil((L + pad_lo + pad_hi - dilation * (kernel_size - 1) - 1) / stride) + 1

      (ceil with ``ceil_mode=True``; then ``L_out -= 1`` if the last window would start at or
      beyond ``L + pad_lo``).  ``padding="same"`` gives ``L_out = ceil(L / stride)``."""

_COMMON_PARAMS = """
    x : ndarray
        Input, batched or unbatched; any strided view.  It is never modified.
    kernel_size : int or tuple of {nd} ints
        Window size per spatial dimension.
    stride : int or tuple of {nd} ints, optional
        Step between windows; defaults to ``kernel_size``.
    padding : int, tuple, or str, default 0
        An int per dimension, a ``(before, after)`` pair per dimension, ``"valid"`` (none),
        ``"same"`` (TensorFlow/ONNX SAME_UPPER: the odd cell at the end) or ``"same_lower"``.
        Any non-negative amount is accepted, even more than half the window.
    dilation : int or tuple of {nd} ints, default 1
        Spacing between window taps.
    ceil_mode : bool, default False
        Round the output size up (PyTorch's rule), keeping only windows that start inside
        the input or the left padding.
"""

_MAX_DOC = """{nd}-D max pooling, bitwise equal to PyTorch's ``max_pool{nd}d``.

    ``out[..., o] = max(x[..., o * stride - pad_lo + t * dilation] for t in range(kernel_size))``
    per spatial dimension, over the taps that fall inside the input (padding acts as -inf).

    Parameters
    ----------{params}    return_indices : bool, default False
        Also return the argmax of every window as int64 flat indices into each (N, C)
        plane's spatial dims (PyTorch's format, e.g. ``h * W + w`` in 2-D).
    layout : {{"channels_first", "channels_last"}}
        Where the channel axis is.

    Returns
    -------
    out : ndarray, same dtype as ``x``
    indices : ndarray of int64, only with ``return_indices=True``
{shape}

    Notes
    -----
    - Ties go to the first tap in row-major window order.
    - NaN propagates: a NaN tap always replaces the running maximum, so the index is that
      of the last NaN in the window (PyTorch's CPU rule).
    - A window that lies wholly in padding (possible with large padding or dilation) gives
      ``-inf`` (the dtype's minimum for integers) and index ``-1``; its gradient is dropped.
    - float16 is compared in float32; bool, int8..int64 and uint8 are supported.
    - ``max_pool{nd}d_backward(grad_output, x, ...)`` gives the gradient with respect to ``x``.

    Examples
    --------
{example}
"""

_MAX_EXAMPLES = {
    1: """    >>> import numpy as np, numpool
    >>> numpool.max_pool1d(np.array([[[1., 3., 2., 5., 4.]]]), 2)
    array([[[3., 5.]]])""",
    2: """    >>> import numpy as np, numpool
    >>> x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    >>> numpool.max_pool2d(x, 3, stride=2, padding=1)
    array([[[[ 5.,  7.],
             [13., 15.]]]], dtype=float32)
    >>> out, idx = numpool.max_pool2d(x, 2, return_indices=True)
    >>> idx
    array([[[[ 5,  7],
             [13, 15]]]])""",
    3: """    >>> import numpy as np, numpool
    >>> x = np.arange(8.).reshape(1, 1, 2, 2, 2)
    >>> numpool.max_pool3d(x, 2)
    array([[[[[7.]]]]])""",
}

_AVG_DOC = """{nd}-D average pooling, equal to PyTorch's ``avg_pool{nd}d`` to float rounding.

    ``out = sum(window) / divisor``, the sum running over the taps inside the input.

    Parameters
    ----------{params}    count_include_pad : bool, default True
        Divide by the number of taps inside the padded input (explicit padding counts; the
        ``ceil_mode`` overhang beyond it does not).  With False, divide by the taps inside
        the input; ``padding="same", count_include_pad=False`` is ``tf.nn.avg_pool``.
    divisor_override : int, optional
        Divide every window by this number instead.
    layout : {{"channels_first", "channels_last"}}
        Where the channel axis is.

    Returns
    -------
    out : ndarray, same dtype as ``x`` (float16, float32 or float64)
{shape}

    Notes
    -----
    - Taps are summed in row-major window order in float32 (float16 and float32 inputs) or
      float64, then divided once, as PyTorch's CPU kernels do.
    - ``dilation`` is supported (as in ONNX AveragePool and JAX); PyTorch has none.
    - A window wholly in padding with ``count_include_pad=False`` has no cells: 0 / 0 = NaN.
    - Integer inputs are rejected: cast them to a float dtype first.

    Examples
    --------
{example}
"""

_AVG_EXAMPLES = {
    1: """    >>> import numpy as np, numpool
    >>> numpool.avg_pool1d(np.array([[[1., 3., 2., 6.]]]), 2)
    array([[[2., 4.]]])""",
    2: """    >>> import numpy as np, numpool
    >>> x = np.arange(9, dtype=np.float32).reshape(1, 1, 3, 3)
    >>> numpool.avg_pool2d(x, 2, stride=1)
    array([[[[2., 3.],
             [5., 6.]]]], dtype=float32)
    >>> numpool.avg_pool2d(x, 2, stride=1, padding=1, count_include_pad=False)[0, 0, 0]
    array([0. , 0.5, 1.5, 2. ], dtype=float32)""",
    3: """    >>> import numpy as np, numpool
    >>> numpool.avg_pool3d(np.arange(8.).reshape(1, 1, 2, 2, 2), 2)
    array([[[[[3.5]]]]])""",
}

_BACKWARD_DOC = """Gradient of :func:`{name}` with respect to ``x``.

    Takes the output gradient and the same ``x`` and keyword arguments as the forward call;
    returns an array with the shape and dtype of ``x``.  {extra}  The result is deterministic:
    each cell sums its contributions in a fixed order, whatever the number of threads.
"""


def _doc(template, nd, example):
    s = ", ".join(_SPATIAL[nd])
    return template.format(nd=nd, params=_COMMON_PARAMS.format(nd=nd), shape=_SHAPE_DOC.format(s=s),
                           example=example)


def _named(fn, name, doc):
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return fn


def _make_max(nd):
    def forward(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False,
                layout="channels_first"):
        return _max_forward(nd, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices, layout)

    def backward(grad_output, x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                 return_indices=False, layout="channels_first", indices=None, ties="first"):
        return _max_backward(nd, grad_output, x, kernel_size, stride, padding, dilation, ceil_mode,
                             return_indices, layout, indices, ties)

    name = f"max_pool{nd}d"
    extra = ("Each output gradient goes to its window's argmax, summed where windows overlap. "
             "Pass ``indices=`` from the forward call to reuse them; without it the argmax is "
             "recomputed from ``x`` (same ties and NaN rule). ``ties=\"all\"`` gives the whole "
             "gradient to every tied maximum (TensorFlow's 3-D rule) and ``ties=\"split\"`` an equal "
             "share to each (see :func:`numpool.reduce_window_backward`).")
    return (_named(forward, name, _doc(_MAX_DOC, nd, _MAX_EXAMPLES[nd])),
            _named(backward, name + "_backward", _BACKWARD_DOC.format(name=name, extra=extra)))


def _make_avg(nd):
    def forward(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, count_include_pad=True,
                divisor_override=None, layout="channels_first"):
        return _avg_forward(nd, x, kernel_size, stride, padding, dilation, ceil_mode, count_include_pad,
                            divisor_override, layout)

    def backward(grad_output, x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                 count_include_pad=True, divisor_override=None, layout="channels_first"):
        return _avg_backward(nd, grad_output, x, kernel_size, stride, padding, dilation, ceil_mode,
                             count_include_pad, divisor_override, layout)

    name = f"avg_pool{nd}d"
    extra = "Each output gradient is divided by its window's divisor and added to every tap inside the input."
    return (_named(forward, name, _doc(_AVG_DOC, nd, _AVG_EXAMPLES[nd])),
            _named(backward, name + "_backward", _BACKWARD_DOC.format(name=name, extra=extra)))


max_pool1d, max_pool1d_backward = _make_max(1)
max_pool2d, max_pool2d_backward = _make_max(2)
max_pool3d, max_pool3d_backward = _make_max(3)
avg_pool1d, avg_pool1d_backward = _make_avg(1)
avg_pool2d, avg_pool2d_backward = _make_avg(2)
avg_pool3d, avg_pool3d_backward = _make_avg(3)


# ---------------------------------------------------------------------------------------
# Lp pooling


def _norm_type(norm_type, op):
    if isinstance(norm_type, (int, float, np.integer, np.floating)) and not isinstance(norm_type, (bool, np.bool_)):
        p = float(norm_type)
        if p > 0 or p == -np.inf:
            return p
    raise ParameterError(f"`norm_type` must be a number > 0, inf or -inf; got norm_type={norm_type!r} for {op}.")


def _lp_calls(nd, x, norm_type, kernel_size, stride, padding, dilation, ceil_mode, signed, layout, op):
    p = _norm_type(norm_type, op)
    call = _window_call(op, nd, x, kernel_size, stride, padding, dilation, ceil_mode, layout, "f")
    return p, call, check_bool("signed", signed, op)


def _abs_call(call, op, nd, kernel_size, stride, padding, dilation, ceil_mode, layout, sign=1):
    """The same window call on ``sign * |x|`` (for p = +-inf, which are max / min pools of |x|)."""
    a = sign * np.abs(call.x)
    return _window_call(op, nd, a, kernel_size, stride, padding, dilation, ceil_mode, layout, "f")


def _lp_forward(nd, x, norm_type, kernel_size, stride, padding, dilation, ceil_mode, signed, layout):
    op = f"lp_pool{nd}d"
    p, call, signed = _lp_calls(nd, x, norm_type, kernel_size, stride, padding, dilation, ceil_mode, signed,
                                layout, op)
    args = (op, nd, kernel_size, stride, padding, dilation, ceil_mode, layout)
    if p == np.inf:
        return _run_max(_abs_call(call, *args), False)
    if p == -np.inf:
        return -_run_max(_abs_call(call, *args, sign=-1), False)
    acc = kernel_dtype(call.x.dtype)
    base = call.x.astype(acc)
    powered = base ** acc.type(p) if signed else np.abs(base) ** acc.type(p)
    pcall = _window_call(op, nd, powered, kernel_size, stride, padding, dilation, ceil_mode, layout, "f")
    if signed:
        # PyTorch: avg_pool(x ** p) * prod(kernel_size), then ** (1 / p); the divisor counts
        # the padded window, so ceil_mode's clipped border windows come out over-scaled.
        total = _run_avg(pcall, True, 0) * acc.type(np.prod(call.spec.kernel_size))
    else:
        total = _run_avg(pcall, True, 1)  # divisor 1: the plain sum of |x| ** p
    with np.errstate(invalid="ignore"):  # a negative signed sum to a fractional power is NaN, as in PyTorch
        return (total ** acc.type(1.0 / p)).astype(call.x.dtype, copy=False)


def _lp_backward(nd, grad_output, x, norm_type, kernel_size, stride, padding, dilation, ceil_mode, signed, layout):
    op = f"lp_pool{nd}d_backward"
    p, call, signed = _lp_calls(nd, x, norm_type, kernel_size, stride, padding, dilation, ceil_mode, signed,
                                layout, op)
    args = (op, nd, kernel_size, stride, padding, dilation, ceil_mode, layout)
    acc = kernel_dtype(call.x.dtype)
    base = call.x.astype(acc)
    sign = np.sign(base)
    g = as_array(grad_output, op, name="grad_output", kinds="iuf")
    check_shape("grad_output", g, call.out_shape, op)
    if p in (np.inf, -np.inf):
        # out = s * maxpool(s * |x|) with s = +-1: the gradient is routed to that argmax, times sign(x)
        back = _run_max_backward(_abs_call(call, *args, sign=1 if p > 0 else -1), g, None)
        return (back * sign).astype(call.x.dtype, copy=False)
    out = _lp_forward(nd, base, p, kernel_size, stride, padding, dilation, ceil_mode, signed, layout)
    g = g.astype(acc)
    # d out / d total = out ** (1 - p) / p, taken as 0 where out is 0 (PyTorch zeroes it there too)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(out != 0, g * out ** acc.type(1 - p), acc.type(0))
    pcall = _window_call(op, nd, base, kernel_size, stride, padding, dilation, ceil_mode, layout, "f")
    if signed:
        spread = _run_avg_backward(pcall, scale * acc.type(np.prod(call.spec.kernel_size)), True, 0)
        power = base ** acc.type(p - 1)
    else:
        spread = _run_avg_backward(pcall, scale, True, 1)
        power = np.abs(base) ** acc.type(p - 1) * sign
    return (spread * power).astype(call.x.dtype, copy=False)


_LP_DOC = """{nd}-D power-average (Lp) pooling.

    By default the true p-norm of each window, ONNX's ``LpPool``::

        out = (sum over the window's cells inside the input of |x| ** p) ** (1 / p)

    With ``signed=True``, PyTorch's ``lp_pool{nd}d`` formula instead: the signed power sum
    ``(avg_pool(x ** p) * prod(kernel_size)) ** (1 / p)``, which has no absolute value (p = 1
    gives signed sums; odd p on negative sums gives NaN) and, with ``ceil_mode``, scales a
    clipped border window up to the full window size.  ``norm_type=inf`` is the maximum of
    ``|x|`` and ``-inf`` the minimum of ``|x|``, in both forms.

    Parameters
    ----------
    x : ndarray
        Float input, batched or unbatched; any strided view.  It is never modified.
    norm_type : float
        ``p``: a number > 0, or ``inf`` / ``-inf``.{params}    signed : bool, default False
        PyTorch's signed power sum instead of the norm.
    layout : {{"channels_first", "channels_last"}}
        Where the channel axis is.

    Returns
    -------
    out : ndarray, same dtype as ``x``
{shape}

    Notes
    -----
    The powers are taken in the accumulation dtype (float32 for float16 and float32 input),
    then summed in row-major window order by the average-pooling kernel.  PyTorch's
    ``lp_pool`` has no padding or dilation; numpool's apply to both forms (padding cells
    contribute nothing to the sum).  ``lp_pool{nd}d_backward(grad_output, x, ...)`` gives the
    gradient, which is 0 for a window whose result is 0.

    Examples
    --------
{example}
"""

_LP_EXAMPLES = {
    1: """    >>> import numpy as np, numpool
    >>> numpool.lp_pool1d(np.array([[[3., -4., 1., 0.]]]), 2, 2)
    array([[[5., 1.]]])
    >>> numpool.lp_pool1d(np.array([[[3., -4., 1., 0.]]]), 1, 2, signed=True)
    array([[[-1.,  1.]]])""",
    2: """    >>> import numpy as np, numpool
    >>> numpool.lp_pool2d(np.full((1, 1, 2, 2), 2.0), 2, 2)
    array([[[[4.]]]])""",
    3: """    >>> import numpy as np, numpool
    >>> numpool.lp_pool3d(np.full((1, 1, 2, 2, 2), -1.0), np.inf, 2)
    array([[[[[1.]]]]])""",
}


def _make_lp(nd):
    def forward(x, norm_type, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, signed=False,
                layout="channels_first"):
        return _lp_forward(nd, x, norm_type, kernel_size, stride, padding, dilation, ceil_mode, signed, layout)

    def backward(grad_output, x, norm_type, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                 signed=False, layout="channels_first"):
        return _lp_backward(nd, grad_output, x, norm_type, kernel_size, stride, padding, dilation, ceil_mode,
                            signed, layout)

    name = f"lp_pool{nd}d"
    extra = "Each output gradient flows back through the power sum to every cell of its window."
    return (_named(forward, name, _doc(_LP_DOC, nd, _LP_EXAMPLES[nd])),
            _named(backward, name + "_backward", _BACKWARD_DOC.format(name=name, extra=extra)))


lp_pool1d, lp_pool1d_backward = _make_lp(1)
lp_pool2d, lp_pool2d_backward = _make_lp(2)
lp_pool3d, lp_pool3d_backward = _make_lp(3)


# ---------------------------------------------------------------------------------------
# adaptive and global pooling

_ADAPTIVE_DOC = """{nd}-D adaptive {kind} pooling, equal to PyTorch's ``adaptive_{kind}_pool{nd}d``{exact}.

    Each output cell ``i`` of a spatial axis of input size ``L`` and output size ``O`` covers
    PyTorch's bin ``[floor(i * L / O), ceil((i + 1) * L / O))``; bins may overlap or differ in
    size by one when ``O`` does not divide ``L``.

    Parameters
    ----------
    x : ndarray
        Input, batched or unbatched; any strided view.  It is never modified.
    output_size : int or tuple of {nd} (int or None)
        Output size per spatial dimension; ``None`` keeps that dimension's input size.{extra_params}
    layout : {{"channels_first", "channels_last"}}
        Where the channel axis is.

    Returns
    -------
    {returns}

    Shape
    -----
    Input ``(N, C, {s})`` or ``(C, {s})`` (``channels_first``), ``(N, {s}, C)`` or ``({s}, C)``
    (``channels_last``); the output replaces each spatial size by ``output_size``.

    Notes
    -----
    {notes}
    ``adaptive_{kind}_pool{nd}d_backward(grad_output, x, output_size, ...)`` gives the gradient.

    Examples
    --------
{example}
"""

_ADAPTIVE_MAX_NOTES = """Ties, NaN and dtypes follow :func:`max_pool{nd}d`: the first maximum in row-major
    bin order wins, a NaN always propagates (index of the last NaN), float16 is compared in
    float32, and bool and integer inputs keep their dtype."""

_ADAPTIVE_AVG_NOTES = """Each bin is summed in row-major order in float32 (float16 and float32 inputs) or
    float64 and then divided by each axis's bin length in turn, ``sum / kh / kw``, exactly
    as PyTorch's CPU kernel rounds.  Integer inputs are rejected."""

_ADAPTIVE_EXAMPLES = {
    ("max", 1): """    >>> import numpy as np, numpool
    >>> numpool.adaptive_max_pool1d(np.array([[[1., 5., 2., 4., 3.]]]), 2)
    array([[[5., 4.]]])""",
    ("max", 2): """    >>> import numpy as np, numpool
    >>> x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    >>> out, idx = numpool.adaptive_max_pool2d(x, (3, None), return_indices=True)
    >>> out.shape, idx[0, 0, :, 0]
    ((1, 1, 3, 4), array([ 4,  8, 12]))""",
    ("max", 3): """    >>> import numpy as np, numpool
    >>> numpool.adaptive_max_pool3d(np.arange(8.).reshape(1, 1, 2, 2, 2), 1)
    array([[[[[7.]]]]])""",
    ("avg", 1): """    >>> import numpy as np, numpool
    >>> numpool.adaptive_avg_pool1d(np.array([[[1., 5., 2., 4., 3.]]]), 2)
    array([[[2.66666667, 3.        ]]])""",
    ("avg", 2): """    >>> import numpy as np, numpool
    >>> x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    >>> numpool.adaptive_avg_pool2d(x, 2)
    array([[[[ 2.5,  4.5],
             [10.5, 12.5]]]], dtype=float32)""",
    ("avg", 3): """    >>> import numpy as np, numpool
    >>> numpool.adaptive_avg_pool3d(np.arange(8.).reshape(1, 1, 2, 2, 2), 1)
    array([[[[[3.5]]]]])""",
}


def _make_adaptive_max(nd):
    def forward(x, output_size, return_indices=False, layout="channels_first"):
        op = f"adaptive_max_pool{nd}d"
        key, run = _stored_runner(op, x, (output_size, return_indices, layout))
        if run is not None:
            return run(x)
        call = _adaptive_call(op, nd, x, output_size, layout, "biuf")
        if check_bool("return_indices", return_indices, op):
            return _run_max(call, True)
        return _keep_runner(key, _max_runner(call), call)(call.x)

    def backward(grad_output, x, output_size, return_indices=False, layout="channels_first", indices=None,
                 ties="first"):
        op = f"adaptive_max_pool{nd}d_backward"
        call = _adaptive_call(op, nd, x, output_size, layout, "iuf")
        check_bool("return_indices", return_indices, op)
        return _tied_max_backward(call, grad_output, indices, ties)

    name = f"adaptive_max_pool{nd}d"
    doc = _ADAPTIVE_DOC.format(
        nd=nd, kind="max", exact=" bit for bit, indices included", s=", ".join(_SPATIAL[nd]),
        extra_params="""
    return_indices : bool, default False
        Also return each bin's argmax as int64 flat indices into the (N, C) plane's
        spatial dims (PyTorch's format).""",
        returns="out : ndarray, same dtype as ``x``\n    indices : ndarray of int64, only with ``return_indices=True``",
        notes=_ADAPTIVE_MAX_NOTES.format(nd=nd), example=_ADAPTIVE_EXAMPLES["max", nd])
    extra = ("Each output gradient goes to its bin's argmax; pass ``indices=`` from the forward call "
             "to reuse them, or let the argmax be recomputed from ``x``.")
    return (_named(forward, name, doc), _named(backward, name + "_backward", _BACKWARD_DOC.format(name=name, extra=extra)))


def _make_adaptive_avg(nd):
    def forward(x, output_size, layout="channels_first"):
        op = f"adaptive_avg_pool{nd}d"
        key, run = _stored_runner(op, x, (output_size, layout))
        if run is not None:
            return run(x)
        call = _adaptive_call(op, nd, x, output_size, layout, "f")
        return _keep_runner(key, _avg_runner(call, False, 0, chain=True), call)(call.x)

    def backward(grad_output, x, output_size, layout="channels_first"):
        call = _adaptive_call(f"adaptive_avg_pool{nd}d_backward", nd, x, output_size, layout, "f")
        return _run_avg_backward(call, grad_output, False, 0, chain=True)

    name = f"adaptive_avg_pool{nd}d"
    doc = _ADAPTIVE_DOC.format(
        nd=nd, kind="avg", exact=" to float rounding", s=", ".join(_SPATIAL[nd]), extra_params="",
        returns="out : ndarray, same dtype as ``x`` (float16, float32 or float64)",
        notes=_ADAPTIVE_AVG_NOTES, example=_ADAPTIVE_EXAMPLES["avg", nd])
    extra = "Each output gradient is divided by its bin's lengths and added to every cell of the bin."
    return (_named(forward, name, doc), _named(backward, name + "_backward", _BACKWARD_DOC.format(name=name, extra=extra)))


adaptive_max_pool1d, adaptive_max_pool1d_backward = _make_adaptive_max(1)
adaptive_max_pool2d, adaptive_max_pool2d_backward = _make_adaptive_max(2)
adaptive_max_pool3d, adaptive_max_pool3d_backward = _make_adaptive_max(3)
adaptive_avg_pool1d, adaptive_avg_pool1d_backward = _make_adaptive_avg(1)
adaptive_avg_pool2d, adaptive_avg_pool2d_backward = _make_adaptive_avg(2)
adaptive_avg_pool3d, adaptive_avg_pool3d_backward = _make_adaptive_avg(3)


def _global_rank(x, op):
    """Spatial rank of a batched input to a global pool: ``x.ndim - 2``, which must be 1, 2 or 3."""
    ndim = np.ndim(x)
    if ndim not in (3, 4, 5):
        raise ParameterError(
            f"{op} expects a batched input with 1 to 3 spatial dims, (N, C, *spatial) or (N, *spatial, C); "
            f"got an array of shape {np.shape(x)}."
        )
    return ndim - 2


def _dropped_shape(shape, nd, layout):
    """A global pool's output ``shape`` without its ``nd`` size-1 spatial dims."""
    axes = range(1, 1 + nd) if layout == "channels_last" else range(2, 2 + nd)
    return tuple(n for i, n in enumerate(shape) if i not in axes)


def _keep_spatial(grad_output, x, nd, layout, keepdims, op):
    """``grad_output`` of a global pool with its size-1 spatial dims restored."""
    g = as_array(grad_output, op, name="grad_output", kinds="iuf")
    if keepdims:
        return g
    n, c = (x.shape[0], x.shape[-1]) if layout == "channels_last" else x.shape[:2]
    check_shape("grad_output", g, (n, c), op)
    return g.reshape((n,) + (1,) * nd + (c,) if layout == "channels_last" else (n, c) + (1,) * nd)


def global_max_pool(x, keepdims=False, layout="channels_first"):
    """Maximum over all spatial dims of a batched input (1, 2 or 3 spatial dims).

    The same as ``adaptive_max_pool{n}d(x, 1)`` (ties, NaN and dtypes as there), returning
    ``(N, C)``, or ``(N, C, 1, ...)`` / ``(N, 1, ..., C)`` with ``keepdims=True``
    (Keras' ``GlobalMaxPooling*D``, ONNX's ``GlobalMaxPool``).

    Examples
    --------
    >>> import numpy as np, numpool
    >>> numpool.global_max_pool(np.arange(16.).reshape(2, 2, 4))
    array([[ 3.,  7.],
           [11., 15.]])
    """
    op = "global_max_pool"
    key, run = _stored_runner(op, x, (keepdims, layout))
    if run is not None:
        return run(x)
    x = as_array(x, op, kinds="biuf")
    layout = _params.normalize_layout(layout, op)
    nd = _global_rank(x, op)
    keep = check_bool("keepdims", keepdims, op)
    call = _adaptive_call(op, nd, x, 1, layout, "biuf")
    return _keep_runner(key, _global_runner(_max_runner(call), call, keep), call)(x)


def _global_runner(inner, call, keep):
    """``inner``'s result with the size-1 spatial dims dropped unless ``keep``."""
    if keep:
        return inner
    shape = _dropped_shape(call.out_shape, call.view.nd, call.layout)
    return lambda x: inner(x).reshape(shape)


def global_max_pool_backward(grad_output, x, keepdims=False, layout="channels_first"):
    """Gradient of :func:`global_max_pool`: each gradient goes to its plane's (first) maximum."""
    op = "global_max_pool_backward"
    x = as_array(x, op, kinds="iuf")
    layout = _params.normalize_layout(layout, op)
    nd = _global_rank(x, op)
    g = _keep_spatial(grad_output, x, nd, layout, check_bool("keepdims", keepdims, op), op)
    return _run_max_backward(_adaptive_call(op, nd, x, 1, layout, "iuf"), g, None)


def global_avg_pool(x, keepdims=False, layout="channels_first"):
    """Mean over all spatial dims of a batched input (1, 2 or 3 spatial dims).

    The mean of each (n, c) plane in float32 (float16, float32 input) or float64.  In
    channels-first memory the sum is vectorised (its order is not row-major), as PyTorch's
    own ``mean()`` is for this case; results equal PyTorch's to float rounding.  Returns
    ``(N, C)``, or keeps size-1 spatial dims with ``keepdims=True`` (Keras'
    ``GlobalAveragePooling*D``, ONNX's ``GlobalAveragePool``).

    Examples
    --------
    >>> import numpy as np, numpool
    >>> numpool.global_avg_pool(np.arange(16.).reshape(2, 2, 4), keepdims=True)
    array([[[ 1.5],
            [ 5.5]],
    <BLANKLINE>
           [[ 9.5],
            [13.5]]])
    """
    op = "global_avg_pool"
    key, run = _stored_runner(op, x, (keepdims, layout))
    if run is not None:
        return run(x)
    x = as_array(x, op, kinds="f")
    layout = _params.normalize_layout(layout, op)
    nd = _global_rank(x, op)
    keep = check_bool("keepdims", keepdims, op)
    call = _adaptive_call(op, nd, x, 1, layout, "f")
    inner = _plane_mean_runner(call) if call.cf else _avg_runner(call, False, 0, chain=True)
    return _keep_runner(key, _global_runner(inner, call, keep), call)(x)


def _plane_mean_runner(call):
    """``run(x)``: channels-first global average of ``call``'s plan (one sum per plane)."""
    plan, dtype = call.plan, call.x.dtype
    planes_shape = (plan.in_kernel_shape[0] * plan.in_kernel_shape[1], -1)
    zero = plan.kernel_dtype.type(0)

    def run(x):
        xk = plan.kernel_input(x)
        out, outk = plan.empty(xk.dtype)
        if outk.size:  # no planes (N or C is 0): nothing to average, and no -1 to reshape by
            avgpool.plane_mean(xk.reshape(planes_shape), outk.reshape(-1), zero)
        return _finish(out, dtype)

    return run


def global_avg_pool_backward(grad_output, x, keepdims=False, layout="channels_first"):
    """Gradient of :func:`global_avg_pool`: each gradient spread evenly over its plane."""
    op = "global_avg_pool_backward"
    x = as_array(x, op, kinds="f")
    layout = _params.normalize_layout(layout, op)
    nd = _global_rank(x, op)
    g = _keep_spatial(grad_output, x, nd, layout, check_bool("keepdims", keepdims, op), op)
    return _run_avg_backward(_adaptive_call(op, nd, x, 1, layout, "f"), g, False, 0, chain=True)


# ---------------------------------------------------------------------------------------
# fractional max pooling


def _fractional_setup(nd, x, kernel_size, output_size, output_ratio, random_samples, seed, layout, op, kinds):
    """Validate a fractional call; return (call on channels-first memory, per-plane window tables)."""
    # windows vary per plane, so the kernel runs on plane-major (channels-first) memory
    call = _Call(op, nd, x, layout, kinds,
                 lambda spatial: _params.fractional_spec(op, spatial, kernel_size, output_size, output_ratio),
                 memory="cf")
    view, spatial, kernel, outs = call.view, call.spec.in_spatial, call.spec.kernel_size, call.spec.out_spatial
    n, c = view.kernel_shape(call.x.shape)[:2]
    acc = kernel_dtype(call.x.dtype) if call.x.dtype.kind == "f" else np.dtype(np.float32)
    if random_samples is None:
        if seed is not None and not (_params.is_int(seed) and seed >= 0):
            raise ParameterError(f"`seed` must be None or an int >= 0; got seed={seed!r} for {op}.")
        samples = np.random.default_rng(seed).random((n, c, nd)).astype(acc)
    else:
        if seed is not None:
            raise ParameterError(f"give `random_samples` or `seed` to {op}, not both.")
        samples = as_array(random_samples, op, name="random_samples", kinds="f").astype(acc)
        if samples.shape in ((c, nd),) and not view.batched:
            samples = samples[None]
        if samples.shape != (n, c, nd):
            raise ParameterError(
                f"`random_samples` must have shape {(n, c, nd)} (batch, channels, one per spatial dim) for {op}; "
                f"got {samples.shape}."
            )
        if not ((samples >= 0) & (samples < 1)).all():
            raise ParameterError(f"`random_samples` must lie in [0, 1) for {op}.")
    # PyTorch's order of samples: 2-D (W, H), 3-D (D, H, W)
    order = (1, 0) if nd == 2 else (0, 1, 2)
    lift = 3 - nd
    sizes, kernels, outs3 = (1,) * lift + spatial, (1,) * lift + kernel, (1,) * lift + outs
    tables = []
    for axis in range(3):
        planes = n * c
        if axis < lift:
            starts = np.zeros((planes, 1), dtype=np.int64)
        else:
            u = samples[:, :, order[axis - lift]].reshape(planes)
            starts = _params.fractional_starts(u, sizes[axis], outs3[axis], kernels[axis], acc)
        table = np.empty((planes, 3, outs3[axis]), dtype=np.int64)
        table[:, 0], table[:, 1], table[:, 2] = starts, kernels[axis], kernels[axis]
        tables.append(table)
    return call, tables


def _fractional_forward(nd, x, kernel_size, output_size, output_ratio, return_indices, random_samples, seed, layout):
    op = f"fractional_max_pool{nd}d"
    call, (td, th, tw) = _fractional_setup(nd, x, kernel_size, output_size, output_ratio, random_samples, seed,
                                           layout, op, "biuf")
    want = check_bool("return_indices", return_indices, op)
    xk = call.kernel_input()
    out, outk = call.empty(xk.dtype)
    idx, idxk = call.empty(np.int64)
    maxpool.fractional_cf(xk, outk, idxk, td, th, tw, lowest(xk.dtype))
    out = _finish(out, call.x.dtype)
    return (out, idx) if want else out


def _fractional_backward(nd, grad_output, x, kernel_size, output_size, output_ratio, return_indices, random_samples,
                         seed, layout, indices):
    op = f"fractional_max_pool{nd}d_backward"
    check_bool("return_indices", return_indices, op)
    if indices is None:
        if random_samples is None and seed is None:
            raise ParameterError(
                f"{op} needs the forward's windows: pass `indices`, or the same `random_samples` or `seed`."
            )
        _, indices = _fractional_forward(nd, x, kernel_size, output_size, output_ratio, True, random_samples, seed,
                                         layout)
    call, _ = _fractional_setup(nd, x, kernel_size, output_size, output_ratio, random_samples, seed, layout, op,
                                "iuf")
    return _run_max_backward(call, grad_output, indices)


_FRACTIONAL_DOC = """{nd}-D fractional max pooling (Graham, 2014), PyTorch's ``fractional_max_pool{nd}d``.

    Windows of size ``kernel_size`` start at pseudo-random, increasing positions so that the
    output has any size between 1 and ``L - kernel_size + 1``.  Given the same
    ``random_samples`` the output and indices are bit for bit PyTorch's.

    Per axis, with ``u`` the plane's sample for that axis and ``alpha = (L - k) / (O - 1)``
    (computed in the input's float dtype), window ``i < O - 1`` starts at
    ``int((i + u) * alpha) - int(u * alpha)`` and the last at ``L - k``.

    Parameters
    ----------
    x : ndarray
        Input, batched or unbatched; never modified.
    kernel_size : int or tuple of {nd} ints
    output_size : int or tuple of {nd} ints, optional
    output_ratio : float or tuple of {nd} floats in (0, 1), optional
        ``O = int(L * output_ratio)``; give exactly one of ``output_size`` and ``output_ratio``.
    return_indices : bool, default False
        Also return PyTorch-format (per-plane flat) int64 indices.
    random_samples : ndarray of shape (N, C, {nd}), optional
        One sample in [0, 1) per plane and spatial dim, in PyTorch's order ({order}).
    seed : int, optional
        Seed for drawing ``random_samples`` with ``numpy.random.default_rng`` (reproducible
        runs); without either, fresh samples are drawn.
    layout : {{"channels_first", "channels_last"}}

    Returns
    -------
    out : ndarray, same dtype as ``x`` (and ``indices`` with ``return_indices=True``)

    Notes
    -----
    The max rule, ties and NaN follow :func:`max_pool{nd}d`, and integer and bool inputs
    are accepted (PyTorch takes floats only).  PyTorch's 3-D version refuses
    ``output + kernel_size - 1 == L`` (its 2-D version accepts it); numpool accepts it in both.
    The result is computed in channels-first memory whatever the input's.  ``fractional_max_pool{nd}d_backward`` needs
    the forward's windows: ``indices=``, or the same ``random_samples`` or ``seed``.

    Examples
    --------
{example}
"""

_FRACTIONAL_EXAMPLES = {
    2: """    >>> import numpy as np, numpool
    >>> x = np.arange(25.).reshape(1, 1, 5, 5)
    >>> numpool.fractional_max_pool2d(x, 2, output_size=3, random_samples=np.full((1, 1, 2), 0.5))
    array([[[[ 6.,  8.,  9.],
             [16., 18., 19.],
             [21., 23., 24.]]]])""",
    3: """    >>> import numpy as np, numpool
    >>> x = np.arange(27.).reshape(1, 1, 3, 3, 3)
    >>> numpool.fractional_max_pool3d(x, 2, output_size=2, random_samples=np.full((1, 1, 3), 0.5))[0, 0, 0]
    array([[13., 14.],
           [16., 17.]])""",
}


def _make_fractional(nd):
    def forward(x, kernel_size, output_size=None, output_ratio=None, return_indices=False, random_samples=None,
                seed=None, layout="channels_first"):
        return _fractional_forward(nd, x, kernel_size, output_size, output_ratio, return_indices, random_samples,
                                   seed, layout)

    def backward(grad_output, x, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                 random_samples=None, seed=None, layout="channels_first", indices=None):
        return _fractional_backward(nd, grad_output, x, kernel_size, output_size, output_ratio, return_indices,
                                    random_samples, seed, layout, indices)

    name = f"fractional_max_pool{nd}d"
    extra = "Each output gradient goes to its window's argmax."
    doc = _FRACTIONAL_DOC.format(nd=nd, order="W, H" if nd == 2 else "D, H, W", example=_FRACTIONAL_EXAMPLES[nd])
    return (_named(forward, name, doc), _named(backward, name + "_backward", _BACKWARD_DOC.format(name=name, extra=extra)))


fractional_max_pool2d, fractional_max_pool2d_backward = _make_fractional(2)
fractional_max_pool3d, fractional_max_pool3d_backward = _make_fractional(3)


# ---------------------------------------------------------------------------------------
# TensorFlow's max_pool_with_argmax


def _tf_window(name, value, op):
    """TF accepts ``ksize``/``strides`` as an int, 2 ints, or 4 ints with 1 for batch and channel.

    Anything but a 4-element list, tuple or array is passed on unchanged for
    :func:`numpool._params.pool_spec` to accept or reject with its usual message.
    """
    if not isinstance(value, (list, tuple, np.ndarray)):
        return value
    items = tuple(value)
    if not items:  # PyTorch's empty default means nothing to TensorFlow
        raise ParameterError(f"`{name}` must have 1 or 2 values (or 4, TensorFlow's (1, h, w, 1)) for {op}; "
                             f"got {name}={value!r}.")
    if len(items) == 4:
        if items[0] != 1 or items[3] != 1:
            raise ParameterError(
                f"4-element `{name}` must be (1, h, w, 1) (no pooling over batch or channels) for {op}; "
                f"got {name}={value!r}."
            )
        return items[1:3]
    return value


def max_pool_with_argmax(x, kernel_size, stride=None, padding="valid", include_batch_in_index=False):
    """2-D max pooling with TensorFlow's ``tf.nn.max_pool_with_argmax`` semantics (NHWC).

    Parameters
    ----------
    x : ndarray, shape ``(N, H, W, C)`` or ``(H, W, C)``
        Channels-last input; never modified.
    kernel_size, stride : int, 2 ints, or TF-style 4 ints ``(1, h, w, 1)``
        Window size and step (``stride`` defaults to ``kernel_size``).
    padding : {"valid", "same"} or any padding :func:`max_pool2d` accepts
        Case-insensitive; TF's ``"SAME"`` puts the odd padding cell at the end.
    include_batch_in_index : bool, default False
        Add the batch term to the flat index.

    Returns
    -------
    out : ndarray, same dtype as ``x``
    argmax : ndarray of int64, TF's flat format ``((b * H + y) * W + x) * C + c`` where the
        ``b * H`` term is present only with ``include_batch_in_index=True``.

    Notes
    -----
    TensorFlow's CPU kernel starts each window from its first tap inside the input and
    replaces the maximum only when a later tap is strictly greater, so ties keep the first
    position and a NaN wins only when it is that first tap.  numpool follows the same rule
    here (unlike :func:`max_pool2d`, where NaN always propagates as in PyTorch).

    Examples
    --------
    >>> import numpy as np, numpool
    >>> x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
    >>> out, argmax = numpool.max_pool_with_argmax(x, 2, padding="VALID")
    >>> argmax[0, :, :, 0]
    array([[ 5,  7],
           [13, 15]])
    """
    op = "max_pool_with_argmax"
    call = _window_call(op, 2, x, _tf_window("kernel_size", kernel_size, op), _tf_window("stride", stride, op),
                        padding, 1, False, "channels_last", "biuf")
    with_batch = check_bool("include_batch_in_index", include_batch_in_index, op)
    out, idx = _run_max(call, True, nan_wins=False)
    # PyTorch-style plane index p = y*W + x  ->  TF's (p * C + c) [+ b * H * W * C]
    shape = idx.shape if call.view.batched else (1,) + idx.shape
    h, w = call.spec.in_spatial
    c = shape[-1]
    plane_idx = idx.reshape(shape)
    tf_idx = plane_idx * c + np.arange(c, dtype=np.int64)
    if with_batch:
        tf_idx += (np.arange(shape[0], dtype=np.int64) * (h * w * c))[:, None, None, None]
    tf_idx[plane_idx < 0] = -1  # a window wholly in padding has no argmax
    tf_idx = tf_idx if call.view.batched else tf_idx[0]
    return out, tf_idx


# ---------------------------------------------------------------------------------------
# index formats

INDEX_FORMATS = ("pytorch", "onnx", "tensorflow")


def convert_indices(indices, input_shape, to, layout="channels_first", storage_order=0,
                    include_batch_in_index=False):
    """Convert max-pooling indices from numpool's (PyTorch's) format to ONNX's or TensorFlow's.

    numpool's ``return_indices=True`` gives PyTorch's flat index ``p`` within each (n, c)
    plane's spatial dims (row-major, e.g. ``h * W + w``).  The other conventions:

    - ``to="onnx"``: ONNX ``MaxPool``'s ``Indices``, flat over the whole channels-first tensor,
      ``(n * C + c) * prod(spatial) + q`` where ``q`` is ``p`` with ``storage_order=0``
      (row-major) or the column-major index ``h + w * H (+ d * H * W)`` with
      ``storage_order=1``;
    - ``to="tensorflow"``: ``tf.nn.max_pool_with_argmax``'s ``p * C + c``, plus
      ``n * prod(spatial) * C`` with ``include_batch_in_index=True``;
    - ``to="pytorch"``: unchanged (a copy).

    ``-1`` (a window wholly in padding) stays ``-1``.

    Parameters
    ----------
    indices : ndarray of int
        Indices as returned with ``return_indices=True``, batched, in ``layout``.
    input_shape : tuple of int
        Shape of the pooled input (batched, in ``layout``).
    to : {"pytorch", "onnx", "tensorflow"}
    layout : {"channels_first", "channels_last"}
    storage_order : {0, 1}
        For ``to="onnx"``.
    include_batch_in_index : bool
        For ``to="tensorflow"``.

    Returns
    -------
    ndarray of int64, the shape of ``indices``

    Examples
    --------
    >>> import numpy as np, numpool
    >>> x = np.arange(32.).reshape(2, 1, 4, 4)
    >>> _, idx = numpool.max_pool2d(x, 2, return_indices=True)
    >>> numpool.convert_indices(idx, x.shape, "onnx")[1, 0]
    array([[21, 23],
           [29, 31]])
    >>> numpool.convert_indices(idx, x.shape, "onnx", storage_order=1)[0, 0]
    array([[ 5, 13],
           [ 7, 15]])
    """
    op = "convert_indices"
    idx = as_array(indices, op, name="indices", kinds="iu").astype(np.int64)
    layout = _params.normalize_layout(layout, op)
    if to not in INDEX_FORMATS:
        raise ParameterError(f"`to` must be one of {INDEX_FORMATS}; got to={to!r} for {op}.")
    try:
        shape = tuple(input_shape)
    except TypeError:
        shape = None
    if shape is None or not all(_params.is_int(v) and v >= 0 for v in shape):
        raise ParameterError(f"`input_shape` must be a sequence of ints >= 0 (the pooled input's shape); "
                             f"got input_shape={input_shape!r} for {op}.")
    shape = tuple(int(v) for v in shape)
    if len(shape) not in (3, 4, 5) or idx.ndim != len(shape):
        raise ParameterError(
            f"`input_shape` must be a batched shape with 1 to 3 spatial dims and as many dims as `indices`; "
            f"got input_shape={tuple(input_shape)!r} and indices of shape {idx.shape} for {op}."
        )
    if storage_order not in (0, 1):
        raise ParameterError(f"`storage_order` must be 0 or 1; got storage_order={storage_order!r} for {op}.")
    with_batch = check_bool("include_batch_in_index", include_batch_in_index, op)
    # work channels-first: (N, C, *out_spatial)
    cf = idx if layout == "channels_first" else np.moveaxis(idx, -1, 1)
    spatial = shape[2:] if layout == "channels_first" else shape[1:-1]
    n, c = cf.shape[:2]
    cells = int(np.prod(spatial))
    if cf.size and (cf.min() < -1 or cf.max() >= cells):
        raise ParameterError(f"`indices` must lie in [-1, {cells}) for input spatial shape {spatial} in {op}.")
    missing = cf < 0
    if to == "pytorch":
        out = cf.copy()
    elif to == "onnx":
        q = cf
        if storage_order == 1:
            coords = np.unravel_index(np.where(missing, 0, cf), spatial)
            q = np.ravel_multi_index(coords, spatial, order="F")
        planes = (np.arange(n)[:, None] * c + np.arange(c)[None, :]).reshape((n, c) + (1,) * (cf.ndim - 2))
        out = planes * cells + q
    else:
        out = cf * c + np.arange(c).reshape((1, c) + (1,) * (cf.ndim - 2))
        if with_batch:
            out = out + (np.arange(n) * cells * c).reshape((n, 1) + (1,) * (cf.ndim - 2))
    out = np.where(missing, -1, out).astype(np.int64)
    return out if layout == "channels_first" else np.moveaxis(out, 1, -1)


# ---------------------------------------------------------------------------------------
# ReLU


def relu(x):
    """Rectified linear unit, PyTorch's ``torch.relu`` bit for bit: ``0 if x < 0 else x``.

    So NaN stays NaN and ``-0.0`` stays ``-0.0`` (it is not less than 0); the dtype is kept.

    Examples
    --------
    >>> import numpy as np, numpool
    >>> numpool.relu(np.array([[-1.5, 0.25], [2.0, -3.0]]))
    array([[0.  , 0.25],
           [2.  , 0.  ]])
    """
    a = as_array(x, "relu")
    if a.dtype == np.bool_ or a.dtype.kind == "u":
        return a.copy()
    return np.where(a < 0, a.dtype.type(0), a)


def relu_backward(grad_output, x):
    """Gradient of :func:`relu`, PyTorch's rule: ``0 where x <= 0, else grad_output``.

    At ``x = 0`` the gradient is 0; at a NaN input it passes ``grad_output`` through (NaN is
    not <= 0).  Returns an array with the shape and dtype of ``x``.
    """
    a = as_array(x, "relu_backward", kinds="iuf")
    g = as_array(grad_output, "relu_backward", name="grad_output", kinds="iuf")
    check_shape("grad_output", g, a.shape, "relu_backward")
    return np.where(a <= 0, 0, g).astype(a.dtype, copy=False)


def leaky_relu(x, negative_slope=0.01):
    """Leaky ReLU, PyTorch's ``leaky_relu`` bit for bit: ``x if x > 0 else x * negative_slope``.

    So ``-0.0`` stays ``-0.0`` and NaN stays NaN.  Float inputs only; the dtype is kept.  The
    product is taken in float32 for float16 input and in the input's dtype otherwise, as
    PyTorch does.

    Examples
    --------
    >>> import numpy as np, numpool
    >>> numpool.leaky_relu(np.array([-2.0, 0.0, 3.0]), 0.5)
    array([-1.,  0.,  3.])
    """
    a = as_array(x, "leaky_relu", kinds="f")
    acc = kernel_dtype(a.dtype)
    slope = acc.type(_slope(negative_slope, "leaky_relu"))
    return np.where(a > 0, a, (a.astype(acc) * slope).astype(a.dtype))


def leaky_relu_backward(grad_output, x, negative_slope=0.01):
    """Gradient of :func:`leaky_relu`: ``grad_output if x > 0 else grad_output * negative_slope``
    (so the slope applies at 0 and at NaN, as in PyTorch)."""
    a = as_array(x, "leaky_relu_backward", kinds="f")
    g = as_array(grad_output, "leaky_relu_backward", name="grad_output", kinds="iuf")
    check_shape("grad_output", g, a.shape, "leaky_relu_backward")
    acc = kernel_dtype(a.dtype)
    slope = acc.type(_slope(negative_slope, "leaky_relu_backward"))
    return np.where(a > 0, g.astype(a.dtype), (g.astype(acc) * slope).astype(a.dtype))


def _slope(value, op):
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)) \
            and np.isfinite(value):
        return float(value)
    raise ParameterError(f"`negative_slope` must be a finite number; got negative_slope={value!r} for {op}.")


def relu6(x):
    """ReLU capped at 6, PyTorch's ``relu6`` (``hardtanh(x, 0, 6)``) bit for bit:
    ``0 if x < 0, 6 if x > 6, else x``, so ``-0.0`` and NaN pass through unchanged.

    Examples
    --------
    >>> import numpy as np, numpool
    >>> numpool.relu6(np.array([-1.0, 3.0, 9.0]))
    array([0., 3., 6.])
    """
    a = as_array(x, "relu6")
    if a.dtype == np.bool_:
        return a.copy()
    zero, six = a.dtype.type(0), a.dtype.type(6)
    return np.where(a < 0, zero, np.where(a > six, six, a)) if a.dtype.kind != "u" else np.minimum(a, six)


def relu6_backward(grad_output, x):
    """Gradient of :func:`relu6`: ``grad_output`` where ``0 < x < 6``, else 0.

    At a NaN input the gradient is 0.  That is what PyTorch 2.13's vectorised CPU kernel
    gives; its scalar path (a tensor's last few elements) passes ``grad_output`` through
    instead, so PyTorch itself is not consistent there.
    """
    a = as_array(x, "relu6_backward", kinds="iuf")
    g = as_array(grad_output, "relu6_backward", name="grad_output", kinds="iuf")
    check_shape("grad_output", g, a.shape, "relu6_backward")
    return np.where((a > 0) & (a < 6), g, 0).astype(a.dtype, copy=False)
