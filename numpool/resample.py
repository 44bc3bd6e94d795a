"""Resampling: ``interpolate`` and ``interpolate_backward`` (PyTorch's modes, ONNX Resize's options).

Thin, like ``numpool.functional``: ``numpool._params.resample_spec`` validates every argument
and builds one source table per spatial axis, ``numpool._layout`` maps the array onto the
kernels' 5-D view, and ``numpool.kernels.resample`` applies the tables one axis at a time.
``mode="area"`` is adaptive average pooling and runs ``numpool.adaptive_avg_pool*d``.
Every formula is in ``docs/semantics.md``, section "Resampling (interpolate)".
"""

from __future__ import annotations

import numba
import numpy as np

from . import _params
from ._checks import as_array, check_nonempty_spatial, check_shape, kernel_dtype
from ._errors import DTypeError
from ._layout import plan_view
from .functional import (adaptive_avg_pool1d, adaptive_avg_pool1d_backward, adaptive_avg_pool2d,
                         adaptive_avg_pool2d_backward, adaptive_avg_pool3d, adaptive_avg_pool3d_backward)
from .kernels import resample as kernels

__all__ = ["interpolate", "interpolate_backward"]

_AREA = {1: (adaptive_avg_pool1d, adaptive_avg_pool1d_backward),
         2: (adaptive_avg_pool2d, adaptive_avg_pool2d_backward),
         3: (adaptive_avg_pool3d, adaptive_avg_pool3d_backward)}


_RING_CELLS = 1 << 16  # scratch cells per task of the fused 2-D kernels (256 KB of float32)


class _Resample:
    """One validated interpolate call: array, view, spec, and the order the axes run in."""

    def __init__(self, op, x, size, scale_factor, mode, options, layout, kinds):
        self.op = op
        self.x = as_array(x, op, kinds=kinds)
        self.layout = _params.normalize_layout(layout, op)
        nd = _params.resample_rank(self.x.ndim, size, scale_factor, mode if isinstance(mode, str) else None, op)
        self.view = plan_view(self.x, nd, self.layout, op)
        spatial = self.view.spatial_shape(self.x.shape)
        check_nonempty_spatial(spatial, self.x.shape, op)
        floating = self.x.dtype.kind == "f"
        # PyTorch's coordinate arithmetic (opmath): float64 for float64 input, else float32
        acc = np.dtype(np.float64 if self.x.dtype == np.float64 else np.float32)
        self.spec = _params.resample_spec(op, spatial, size, scale_factor, mode, dtype=acc, **options)
        if self.spec.mode != "nearest" and not floating:
            raise DTypeError(
                f"{op} with mode={mode!r} interpolates and needs a float input (float16, float32 or float64); "
                f"got dtype {self.x.dtype}. Only the nearest modes keep integer and bool dtypes: cast first."
            )
        self.nd = nd
        self.out_shape = self.view.with_spatial(self.x.shape, self.spec.out_spatial)
        # Axes run innermost first (W, then H, then D): PyTorch's nesting, W interpolated inside
        # H inside D.  Every memory order and the fused H-and-W kernels use this order, so they
        # round identically.  In channels-first memory the W pass gathers one cell at a time
        # while the others move whole contiguous rows, so running it first, on the smallest
        # array when upsampling, is also the fast order.
        order = list(range(nd))[::-1]
        self.order = [a for a in order if self.spec.mode == "area" or not self.spec.tables[a].identity]

    def position(self, axis):
        """Index of spatial ``axis`` in the 5-D kernel view."""
        return (2 if self.view.memory == "cf" else 1) + 3 - self.nd + axis

    def run(self, array, axes, transpose, values=None):
        """Apply the tables of ``axes`` (in that order) to a contiguous 5-D kernel array.

        ``values``: the dtype the array's bits stand for, when nearest copies them as unsigned ints.

        Forward, an output that some axis fills (ONNX's ``extrapolation_value``: no taps) is set
        to its fill again at the end, so later axes' weights (whose float32 sum may miss 1) never
        touch it: the output is the fill exactly, whatever the axis order."""
        refill = []
        for axis in axes:
            table = self.spec.tables[axis]
            p = self.position(axis)
            size = self.spec.in_spatial[axis]
            if transpose:
                table = table.transposed(size)
            shape = array.shape
            outer, inner = int(np.prod(shape[:p])), int(np.prod(shape[p + 1:]))
            count = len(table.ptr) - 1
            result = np.empty(shape[:p] + (count,) + shape[p + 1:], dtype=array.dtype)
            src, dst = array.reshape(outer, shape[p], inner), result.reshape(outer, count, inner)
            fill = table.fill.astype(array.dtype) if values is None else table.fill.astype(values).view(array.dtype)
            empty = np.diff(table.ptr) == 0
            if not transpose and empty.any():
                refill.append((p, np.flatnonzero(empty), fill[empty]))
            if table.gather and not transpose:
                kernels.gather_axis(src, dst, table.ptr, table.idx, fill)
            elif inner == 1 and table.inner_periodic[1] > 0:
                kernels.apply_inner(src.reshape(outer, shape[p]), dst.reshape(outer, count), table.ptr, table.idx,
                                    table.weight.astype(array.dtype), fill, transpose,
                                    *_periodic_taps(table, array.dtype))
            else:
                kernels.apply_axis(src, dst, table.ptr, table.idx, table.weight.astype(array.dtype), fill, transpose)
            array = result
        for p, rows, values_ in refill:
            index = (slice(None),) * p + (rows,)
            array[index] = values_.reshape((-1,) + (1,) * (array.ndim - p - 1))
        return array

    def _changing_hw(self):
        """``(H table, W table)`` of a linear or cubic resize that changes both of the last two
        axes, which the fused kernels run in one pass; else None."""
        nd, tables = self.nd, self.spec.tables
        if nd < 2 or self.spec.mode in ("nearest", "area"):
            return None
        th, tw = tables[nd - 2], tables[nd - 1]
        return None if th.identity or tw.identity else (th, tw)

    def fused_hw(self, array):
        """Resample the last two spatial axes of the contiguous float 5-D kernel ``array`` in
        one pass (``kernels.linear_hw_cf`` / ``_cl``): both axes change, and both tables have a
        fixed number of taps and no fill.  None where that does not hold, or where the task's
        ring of W-resampled rows would not fit in a few hundred KB (wide antialiasing)."""
        hw = self._changing_hw()
        if hw is None or hw[0].dense is None or hw[1].dense is None:
            return None
        th, tw = hw
        cf = self.view.memory == "cf"
        out_h, out_w = self.spec.out_spatial[-2:]
        shape = array.shape
        if th.span * out_w * (1 if cf else shape[4]) > _RING_CELLS:
            return None
        outer = shape[0] * shape[1] * (shape[2] if cf else 1)
        rows = _rows_per_task(outer, out_h)
        dtype = array.dtype
        hargs = (th.ptr, th.idx, th.weight.astype(dtype), tw.dense[0], tw.dense[1].astype(dtype), th.span, rows)
        if cf:
            out = np.empty(shape[:3] + (out_h, out_w), dtype=dtype)
            kernels.linear_hw_cf(array.reshape(outer, shape[3], shape[4]), out.reshape(outer, out_h, out_w), *hargs,
                                 tw.periodic)
        else:
            out = np.empty(shape[:2] + (out_h, out_w, shape[4]), dtype=dtype)
            kernels.linear_hw_cl(array.reshape(outer, *shape[2:]), out.reshape(outer, out_h, out_w, shape[4]),
                                 *hargs, tw.periodic)
        return out

    def fused_hw_backward(self, g):
        """The gradient of a channels-first linear or cubic resampling whose last two axes
        both change, for the contiguous float 5-D kernel ``g``: the other axes' transposed
        passes, then H and W in one pass (``kernels.linear_hw_backward_cf``), bitwise the
        separable passes.  None where that does not hold."""
        hw = self._changing_hw()
        if hw is None or self.view.memory != "cf":
            return None
        h_in, w_in = self.spec.in_spatial[-2:]
        th, tw = hw[0].transposed(h_in), hw[1].transposed(w_in)
        if not len(tw.idx):
            return None
        g = self.run(g, [a for a in self.order[::-1] if a < self.nd - 2], transpose=True)
        dtype, shape = g.dtype, g.shape
        outer = shape[0] * shape[1] * shape[2]
        gx = np.empty(shape[:3] + (h_in, w_in), dtype=dtype)
        kernels.linear_hw_backward_cf(g.reshape(outer, shape[3], shape[4]), gx.reshape(outer, h_in, w_in), th.ptr,
                                      th.idx, th.weight.astype(dtype), tw.ptr, tw.idx, tw.weight.astype(dtype),
                                      *_periodic_taps(tw, dtype), _rows_per_task(outer, h_in))
        return gx

    def single_taps(self):
        """Per lifted axis, each output's one source index, when every axis is a pure gather
        (nearest without extrapolation); else None."""
        tables = self.spec.tables
        if self.spec.mode != "nearest" or not all(t.gather and np.all(np.diff(t.ptr) == 1) for t in tables):
            return None
        lift = [np.zeros(1, dtype=np.int64)] * (3 - self.nd)
        return lift + [np.ascontiguousarray(t.idx, dtype=np.int64) for t in tables]

    def inverse_taps(self):
        """For each lifted axis, CSR (ptr, idx) of the outputs that read each input index."""
        lift = [(np.array([0, 1], dtype=np.int64), np.zeros(1, dtype=np.int64))] * (3 - self.nd)
        inv = []
        for table, size in zip(self.spec.tables, self.spec.in_spatial):
            t = table.transposed(size)
            inv.append((np.ascontiguousarray(t.ptr, dtype=np.int64), np.ascontiguousarray(t.idx, dtype=np.int64)))
        return lift + inv

    def finish(self, kernel_array):
        user = self.view.from_kernel(kernel_array)
        if user.dtype == self.x.dtype:
            return user
        if self.x.dtype == np.bool_:
            return user.view(np.bool_)
        return user.astype(self.x.dtype, order="K")


def _periodic_taps(table, dtype):
    """``(run, base, weights)`` for the kernels' periodic runs (``kernels.apply_inner``):
    :attr:`AxisTable.inner_periodic` and the first period's taps, ``(taps, period)`` each
    (placeholders where the table has no run)."""
    run = table.inner_periodic
    lo, period, taps = run[0], max(run[2], 1), max(run[4], 1)
    first = np.minimum(table.ptr[lo:lo + period][None, :] + np.arange(taps)[:, None], len(table.idx) - 1)
    return run, table.idx[first], table.weight[first].astype(dtype)


def _rows_per_task(planes, out_h):
    """Output rows per parallel task of the fused kernels, whose tasks are blocks of rows of
    one plane: whole planes when there are enough of them for every thread, else fewer."""
    blocks = min(out_h, -(-8 * numba.get_num_threads() // max(planes, 1)))
    return -(-out_h // blocks)


def _nearest_cf_plan(in_w, out_shape, sw):
    """``(rows, rep2)`` for :func:`numpool.kernels.resample.nearest_cf`: :func:`_rows_per_task`
    and :func:`_repeats_twice`."""
    return _rows_per_task(int(np.prod(out_shape[:3])), out_shape[3]), _repeats_twice(in_w, sw)


def _repeats_twice(in_w, sw):
    """Whether nearest's W sources ``sw`` repeat each of the ``in_w`` inputs twice (``ow // 2``)."""
    return bool(len(sw) == 2 * in_w and np.array_equal(sw, np.arange(len(sw)) // 2))


def _call(op, x, size, scale_factor, mode, align_corners, recompute_scale_factor, antialias,
          coordinate_transformation_mode, nearest_mode, cubic_coeff_a, exclude_outside, roi, extrapolation_value,
          keep_aspect_ratio_policy, layout, kinds):
    options = dict(align_corners=align_corners, recompute_scale_factor=recompute_scale_factor, antialias=antialias,
                   coordinate_transformation_mode=coordinate_transformation_mode, nearest_mode=nearest_mode,
                   cubic_coeff_a=cubic_coeff_a, exclude_outside=exclude_outside, roi=roi,
                   extrapolation_value=extrapolation_value, keep_aspect_ratio_policy=keep_aspect_ratio_policy)
    return _Resample(op, x, size, scale_factor, mode, options, layout, kinds)


def interpolate(x, size=None, scale_factor=None, mode="nearest", align_corners=None, recompute_scale_factor=None,
                antialias=False, coordinate_transformation_mode=None, nearest_mode=None, cubic_coeff_a=None,
                exclude_outside=False, roi=None, extrapolation_value=0.0, keep_aspect_ratio_policy="stretch",
                layout="channels_first"):
    """Resize the spatial dims of ``x``: PyTorch's ``F.interpolate``, and ONNX's ``Resize``.

    Without ONNX options this is ``torch.nn.functional.interpolate``: the same output size,
    source coordinates, weights and errors.  Along each spatial axis of input size ``L`` and
    output size ``O`` (``scale = 1 / scale_factor`` when ``scale_factor`` is given and
    ``recompute_scale_factor`` is not True, else ``L / O``):

    - ``"nearest"``: ``src = min(floor(o * scale), L - 1)`` (in float32, as PyTorch);
    - ``"nearest-exact"``: ``src = min(floor((o + 0.5) * scale), L - 1)``;
    - ``"linear"``, ``"bilinear"``, ``"trilinear"``: two taps around
      ``s = (o + 0.5) * scale - 0.5`` clamped at 0 (``align_corners=False``) or
      ``s = o * (L - 1) / (O - 1)`` (``align_corners=True``), weights ``1 - t, t``;
    - ``"bicubic"``: four taps ``floor(s) - 1 .. floor(s) + 2`` clamped into the input, Keys'
      cubic weights with ``a = -0.75`` (``s`` not clamped at 0);
    - ``"area"``: adaptive average pooling to the output size;
    - ``antialias=True`` (bilinear, bicubic): PyTorch's normalised triangle or cubic
      (``a = -0.5``) filter, widened by ``scale`` when downsampling.

    Giving any ONNX option (``coordinate_transformation_mode``, ``nearest_mode``,
    ``cubic_coeff_a``, ``exclude_outside=True``, ``roi``, ``keep_aspect_ratio_policy`` other
    than ``"stretch"``) switches to ONNX Resize's definition, with ONNX's defaults
    (``half_pixel``, ``round_prefer_floor``, ``a = -0.75``) for the options not given; modes
    are then ``"nearest"``, ``"linear"`` (or bilinear/trilinear) and ``"cubic"`` (or bicubic).

    Parameters
    ----------
    x : ndarray
        ``(N, C, *spatial)`` or ``(C, *spatial)`` (``channels_first``), ``(N, *spatial, C)`` or
        ``(*spatial, C)`` (``channels_last``), 1 to 3 spatial dims.  Never modified.  The
        spatial rank is ``len(size)`` or ``len(scale_factor)`` when one is a sequence, else
        fixed by the mode (linear 1, bilinear/bicubic 2, trilinear 3), else ``x.ndim - 2``.
    size : int or sequence of ints, optional
        Output spatial size.  Exactly one of ``size`` and ``scale_factor`` is given.
    scale_factor : float or sequence of floats, optional
        Output size ``floor(L * scale_factor)`` per axis.
    mode : str, default "nearest"
        "nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear", "area"
        ("cubic" with ONNX options).
    align_corners : bool, optional
        Interpolating modes only (default False).  With ONNX options, True means
        ``coordinate_transformation_mode="align_corners"`` and False ``"pytorch_half_pixel"``.
    recompute_scale_factor : bool, optional
        True: compute coordinates from the output size, not from ``scale_factor``.
    antialias : bool, default False
        Antialiased downsampling (bilinear, bicubic; ONNX: linear, cubic).
    coordinate_transformation_mode, nearest_mode, cubic_coeff_a, exclude_outside, roi, extrapolation_value, keep_aspect_ratio_policy
        ONNX Resize's attributes.  ``roi`` (tf_crop_and_resize only) is the spatial axes'
        starts then ends, ``2 * nd`` numbers, used in their dtype as ONNX's roi tensor (a
        float32 array computes as ONNX's float32 roi; Python floats as float64).
    layout : {"channels_first", "channels_last"}

    Returns
    -------
    out : ndarray
        ``x``'s dtype.  Nearest modes accept bool and integer inputs and copy values; the
        other modes need float input (float16 computes in float32).

    Examples
    --------
    >>> import numpy as np
    >>> from numpool.resample import interpolate
    >>> interpolate(np.array([[[1., 2.]]]), scale_factor=2)
    array([[[1., 1., 2., 2.]]])
    >>> interpolate(np.array([[[1., 2.]]]), size=4, mode="linear")
    array([[[1.  , 1.25, 1.75, 2.  ]]])
    """
    call = _call("interpolate", x, size, scale_factor, mode, align_corners, recompute_scale_factor, antialias,
                 coordinate_transformation_mode, nearest_mode, cubic_coeff_a, exclude_outside, roi,
                 extrapolation_value, keep_aspect_ratio_policy, layout, "biuf")
    if call.spec.mode == "area":
        return _AREA[call.nd][0](call.x, call.spec.out_spatial, layout=call.layout)
    xk = call.view.to_kernel(call.x)
    if call.spec.mode == "nearest":
        # a copy of every value: move the bits as unsigned ints (one compiled kernel per item
        # size, and float16 and bool need no widening)
        values = call.x.dtype.newbyteorder("=")
        xk = np.ascontiguousarray(xk, dtype=values)
        taps = call.single_taps()
        if taps is not None:  # one fused pass over all axes
            bits = xk.view(f"u{values.itemsize}")
            _, outk = call.view.empty(call.out_shape, bits.dtype)
            if call.view.memory == "cf":
                kernels.nearest_cf(bits, outk, *taps, *_nearest_cf_plan(bits.shape[4], outk.shape, taps[2]))
            else:
                kernels.nearest_cl(bits, outk, *taps)
            return call.finish(outk.view(values))
        out = call.run(xk.view(f"u{values.itemsize}"), call.order, transpose=False, values=values).view(values)
    else:
        xk = np.ascontiguousarray(xk, dtype=kernel_dtype(call.x.dtype))
        fused = call.fused_hw(xk)
        if fused is None:
            out = call.run(xk, call.order, transpose=False)
        else:  # then D, where it changes: PyTorch's nesting, W inside H inside D
            out = call.run(fused, [a for a in call.order if a < call.nd - 2], transpose=False)
    if np.shares_memory(out, call.x):  # every axis unchanged: still a new array
        out = out.copy()
    return call.finish(out)


def interpolate_backward(grad_output, x, size=None, scale_factor=None, mode="nearest", align_corners=None,
                         recompute_scale_factor=None, antialias=False, coordinate_transformation_mode=None,
                         nearest_mode=None, cubic_coeff_a=None, exclude_outside=False, roi=None,
                         extrapolation_value=0.0, keep_aspect_ratio_policy="stretch", layout="channels_first"):
    """Gradient of :func:`interpolate` with respect to ``x`` (``x``'s shape and dtype).

    Each input cell sums ``weight * grad_output`` over the outputs that read it, in output
    order, one axis at a time (the forward's axes in reverse): deterministic for any number
    of threads.  Outputs filled with ``extrapolation_value`` pass no gradient.  ``mode="area"``
    is ``adaptive_avg_pool*d_backward``.  An integer ``x`` (nearest modes) takes an integer
    ``grad_output``.
    """
    op = "interpolate_backward"
    call = _call(op, x, size, scale_factor, mode, align_corners, recompute_scale_factor, antialias,
                 coordinate_transformation_mode, nearest_mode, cubic_coeff_a, exclude_outside, roi,
                 extrapolation_value, keep_aspect_ratio_policy, layout, "iuf")
    g = as_array(grad_output, op, name="grad_output", kinds="iuf")
    check_shape("grad_output", g, call.out_shape, op)
    if call.x.dtype.kind in "iu" and g.dtype.kind == "f":
        raise DTypeError(f"`grad_output` of dtype {g.dtype} would be truncated to `x`'s integer dtype {call.x.dtype} "
                         f"for {op}; pass an integer `grad_output` or a float `x`.")
    if call.spec.mode == "area":
        return _AREA[call.nd][1](g, call.x, call.spec.out_spatial, layout=call.layout)
    acc = kernel_dtype(call.x.dtype)
    gk = np.ascontiguousarray(call.view.to_kernel(g), dtype=acc)
    taps = call.single_taps()
    if taps is not None:  # nearest: one fused gather per input cell
        _, gxk = call.view.empty(call.x.shape, acc)
        inv = [a for pair in call.inverse_taps() for a in pair]
        if call.view.memory == "cf":
            kernels.nearest_backward_cf(gk, gxk, *inv, _repeats_twice(gxk.shape[4], taps[2]))
        else:
            kernels.nearest_backward_cl(gk, gxk, *inv)
        return call.finish(gxk)
    gx = call.fused_hw_backward(gk) if gk.dtype.kind == "f" else None
    if gx is None:
        gx = call.run(gk, call.order[::-1], transpose=True)
    if gx is gk and np.shares_memory(gx, g):
        gx = gx.copy()
    return call.finish(gx)
