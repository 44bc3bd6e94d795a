"""The one place that turns user arguments into window geometry.

Everything that knows about integers-or-tuples, padding strings, ``ceil_mode`` and output
size formulas lives here.  The result is a frozen, hashable :class:`PoolSpec`; after it,
no code handles a string or a scalar parameter again.  Per-axis window tables (the first
input cell and the number of cells each output window covers) are computed here too, so
the compiled kernels only loop.

Output size along one spatial axis (``L`` input cells, kernel ``k``, stride ``s``,
dilation ``d``, padding ``(lo, hi)``)::

    effective = d * (k - 1) + 1
    out = floor_or_ceil((L + lo + hi - effective) / s) + 1
    if ceil_mode and (out - 1) * s >= L + lo:  # PyTorch: the last window must start
        out -= 1                                # inside the input or the left padding

``padding="same"`` is TensorFlow's and ONNX's SAME_UPPER: ``out = ceil(L / s)``,
``total = max((out - 1) * s + effective - L, 0)``, ``lo = total // 2``, ``hi = total - lo``
(the odd cell goes at the end); ``"same_lower"`` puts it at the start.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ._cache import byte_cache
from ._errors import ParameterError

LAYOUTS = {
    "channels_first": "channels_first",
    "channels_last": "channels_last",
    "ncw": "channels_first",
    "nchw": "channels_first",
    "ncdhw": "channels_first",
    "nwc": "channels_last",
    "nhwc": "channels_last",
    "ndhwc": "channels_last",
}

PADDING_STRINGS = ("valid", "same", "same_lower")

# Every window parameter must fit comfortably in int64 arithmetic inside the kernels.
MAX_EXTENT = 2**31 - 1


def normalize_layout(layout, op):
    """Return ``"channels_first"`` or ``"channels_last"`` for any accepted spelling."""
    if isinstance(layout, str) and layout.lower() in LAYOUTS:
        return LAYOUTS[layout.lower()]
    raise ParameterError(
        f"`layout` must be 'channels_first' or 'channels_last'; got layout={layout!r} for {op}."
    )


def is_int(value):
    """An int or NumPy integer (0-d integer arrays too), and not a bool."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


_is_int = is_int


def _scalar(value):
    """A 0-d array as its scalar (NumPy's ``np.array(5)``); anything else as it is."""
    return value[()] if isinstance(value, np.ndarray) and value.ndim == 0 else value


def int_tuple(name, value, nd, op, minimum):
    """Normalise an int or a sequence of ``nd`` ints to a tuple, each ``>= minimum``."""
    if _is_int(value):
        values = (int(value),) * nd
    else:
        try:
            values = tuple(value)
        except TypeError:
            values = None
        if values is None or not all(_is_int(v) for v in values):
            raise ParameterError(
                f"`{name}` must be an int or a sequence of {nd} ints; got {name}={value!r} for {op}."
            )
        values = tuple(int(v) for v in values)
        if len(values) == 1 and nd > 1:
            values = values * nd
        if len(values) != nd:
            raise ParameterError(
                f"`{name}` must have 1 or {nd} values for {op}; got {name}={value!r}."
            )
    if any(v < minimum for v in values):
        raise ParameterError(
            f"`{name}` must be >= {minimum} in every dimension; got {name}={value!r} for {op}."
        )
    if any(v > MAX_EXTENT for v in values):
        raise ParameterError(f"`{name}` must be <= {MAX_EXTENT}; got {name}={value!r} for {op}.")
    return values


def padding_pairs(padding, nd, spatial, kernel, stride, dilation, op):
    """Turn every padding spelling into one ``(lo, hi)`` pair per spatial dimension."""
    if isinstance(padding, str):
        mode = padding.lower()
        if mode not in PADDING_STRINGS:
            raise ParameterError(
                f"`padding` string must be one of {PADDING_STRINGS}; got padding={padding!r} for {op}."
            )
        if mode == "valid":
            return ((0, 0),) * nd
        pairs = []
        for size, k, s, d in zip(spatial, kernel, stride, dilation):
            out = -(-size // s)
            total = max((out - 1) * s + d * (k - 1) + 1 - size, 0)
            small = total // 2
            pairs.append((small, total - small) if mode == "same" else (total - small, small))
        return tuple(pairs)
    if _is_int(padding):
        pairs = ((int(padding), int(padding)),) * nd
    else:
        try:
            items = tuple(padding)
        except TypeError:
            items = None
        if items is None:
            raise ParameterError(
                f"`padding` must be an int, a sequence of ints or (before, after) pairs, or one of "
                f"{PADDING_STRINGS}; got padding={padding!r} for {op}."
            )
        if len(items) == 1 and nd > 1:
            items = items * nd
        if len(items) != nd:
            raise ParameterError(
                f"`padding` must have 1 or {nd} entries for {op}; got padding={padding!r}."
            )
        pairs = []
        for item in items:
            if _is_int(item):
                pairs.append((int(item), int(item)))
                continue
            try:
                pair = tuple(item)
            except TypeError:
                pair = ()
            if len(pair) != 2 or not all(_is_int(v) for v in pair):
                raise ParameterError(
                    f"each `padding` entry must be an int or a (before, after) pair of ints; "
                    f"got padding={padding!r} for {op}."
                )
            pairs.append((int(pair[0]), int(pair[1])))
        pairs = tuple(pairs)
    if any(v < 0 for pair in pairs for v in pair):
        raise ParameterError(f"`padding` must be >= 0; got padding={padding!r} for {op}.")
    if any(v > MAX_EXTENT for pair in pairs for v in pair):
        raise ParameterError(f"`padding` must be <= {MAX_EXTENT}; got padding={padding!r} for {op}.")
    return pairs


def divisor_override(value, op):
    """``divisor_override`` as an int, 0 for None (the kernels' "no override")."""
    if value is None:
        return 0
    if _is_int(value) and 0 < value <= MAX_EXTENT:
        return int(value)
    raise ParameterError(
        f"`divisor_override` must be None or an int >= 1 and <= {MAX_EXTENT}; "
        f"got divisor_override={value!r} for {op}."
    )


def out_size(size, kernel, stride, dilation, lo, hi, ceil_mode):
    """Number of windows along one axis (the formula in this module's docstring).

    The ``ceil_mode`` correction only ever removes the window that rounding up added: with
    padding wider than a window (which PyTorch forbids and numpool allows), floor mode can
    keep windows that start in the right padding, and ceil mode keeps them too.
    """
    span = size + lo + hi - dilation * (kernel - 1) - 1
    floor_out = span // stride + 1
    if not ceil_mode:
        return max(floor_out, 0)
    out = -(-span // stride) + 1
    if out > floor_out and (out - 1) * stride >= size + lo:
        out -= 1
    return max(out, 0)


@dataclass(frozen=True)
class PoolSpec:
    """Normalised geometry of one pooling call; every tuple has one entry per spatial dim."""

    op: str
    in_spatial: tuple
    kernel_size: tuple
    stride: tuple
    dilation: tuple
    padding: tuple  # ((lo, hi), ...)
    ceil_mode: bool
    out_spatial: tuple

    @property
    def nd(self):
        return len(self.in_spatial)

    def lifted(self):
        """The same geometry on the canonical 3-D view (size-1 axes in front)."""
        extra = 3 - self.nd
        return (
            (1,) * extra + self.in_spatial,
            (1,) * extra + self.kernel_size,
            (1,) * extra + self.stride,
            (1,) * extra + self.dilation,
            ((0, 0),) * extra + self.padding,
            (1,) * extra + self.out_spatial,
        )


def _key(value):
    """A hashable, type-strict stand-in for an argument, so specs can be cached.

    Types are part of the key: ``True == 1`` and ``2.0 == 2`` in Python, but only the int
    is a valid kernel size, so a cached spec for one must never answer for the other.
    """
    if isinstance(value, (list, tuple)):
        return (type(value).__name__,) + tuple(_key(v) for v in value)
    if isinstance(value, np.ndarray):
        return ("ndarray", str(value.dtype), value.shape, tuple(_key(v) for v in value.ravel().tolist()))
    hash(value)
    return (type(value).__name__, value)


_SPEC_CACHE = {}


def pool_spec(op, in_spatial, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
              input_shape=None):
    """Validate and normalise window parameters; compute the output's spatial shape.

    ``input_shape`` is only used to make error messages name the whole input.
    """
    args = (op, tuple(in_spatial), kernel_size, stride, padding, dilation, ceil_mode)
    try:
        key = _key(args)
    except TypeError:  # an unhashable argument: validate without the cache
        key = None
    if key is not None and key in _SPEC_CACHE:
        return _SPEC_CACHE[key]
    spec = _pool_spec(*args, input_shape)
    if key is not None:
        if len(_SPEC_CACHE) >= 1024:
            _SPEC_CACHE.clear()
        _SPEC_CACHE[key] = spec
    return spec


def _default_stride(stride):
    """None, and PyTorch's other spelling of the default: an empty ``stride`` (``()``, ``[]``)."""
    return stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0)


def _pool_spec(op, in_spatial, kernel_size, stride, padding, dilation, ceil_mode, input_shape):
    nd = len(in_spatial)
    kernel = int_tuple("kernel_size", kernel_size, nd, op, 1)
    strides = kernel if _default_stride(stride) else int_tuple("stride", stride, nd, op, 1)
    dilations = int_tuple("dilation", dilation, nd, op, 1)
    if not isinstance(ceil_mode, (bool, np.bool_)):
        raise ParameterError(f"`ceil_mode` must be True or False; got ceil_mode={ceil_mode!r} for {op}.")
    pads = padding_pairs(padding, nd, in_spatial, kernel, strides, dilations, op)
    outs = tuple(
        out_size(size, k, s, d, lo, hi, bool(ceil_mode))
        for size, k, s, d, (lo, hi) in zip(in_spatial, kernel, strides, dilations, pads)
    )
    if any(o < 1 for o in outs):
        shape = input_shape if input_shape is not None else in_spatial
        raise ParameterError(
            f"output size would be {outs} (< 1) for {op} on input of shape {tuple(shape)} with "
            f"kernel_size={kernel}, stride={strides}, padding={pads}, dilation={dilations}: "
            f"the (dilated) window {tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilations))} "
            f"is larger than the padded input."
        )
    return PoolSpec(op, in_spatial, kernel, strides, dilations, pads, bool(ceil_mode), outs)


def _taps_between(start, kernel, dilation, low, high):
    """For windows starting at ``start`` (an array): first tap index and tap count in ``[low, high)``."""
    first = np.maximum(0, -((start - low) // dilation))  # ceil((low - start) / d), at least 0
    last = np.minimum(kernel - 1, (high - 1 - start) // dilation)
    return first, np.maximum(last - first + 1, 0)


@byte_cache
def window_table(size, kernel, stride, dilation, lo, hi, out):
    """Per-output window facts along one axis, as a ``(3, out)`` int64 array.

    Row 0: the input index of the window's first tap that lies inside the input (0 when
    there is none).
    Row 1: how many taps lie inside the input (0 for a window wholly in padding).
    Row 2: how many taps lie inside the padded input ``[-lo, size + hi)``: the divisor
    factor of ``count_include_pad=True`` averaging (PyTorch's rule, generalised to dilation).
    Rows, not columns, so that kernels read each fact contiguously.
    """
    start = np.arange(out, dtype=np.int64) * stride - lo
    first, inside = _taps_between(start, kernel, dilation, 0, size)
    _, padded = _taps_between(start, kernel, dilation, -lo, size + hi)
    table = np.stack([np.where(inside > 0, start + first * dilation, 0), inside, padded]).astype(np.int64)
    table.setflags(write=False)
    return table


@dataclass(frozen=True)
class AdaptiveSpec:
    """Normalised geometry of an adaptive pooling call: PyTorch's bins per spatial dim."""

    op: str
    in_spatial: tuple
    out_spatial: tuple

    @property
    def nd(self):
        return len(self.in_spatial)


def adaptive_spec(op, in_spatial, output_size, input_shape=None):
    """Validate ``output_size`` (an int, or one int or None per spatial dim; None keeps the
    input's size) and return the :class:`AdaptiveSpec`."""
    nd = len(in_spatial)
    if _is_int(output_size):
        sizes = (int(output_size),) * nd
    else:
        try:
            sizes = tuple(output_size)
        except TypeError:
            sizes = None
        if sizes is None or len(sizes) != nd or not all(v is None or _is_int(v) for v in sizes):
            raise ParameterError(
                f"`output_size` must be an int or a sequence of {nd} ints or None; "
                f"got output_size={output_size!r} for {op}."
            )
        sizes = tuple(size if v is None else int(v) for v, size in zip(sizes, in_spatial))
    if any(v < 1 or v > MAX_EXTENT for v in sizes):
        raise ParameterError(
            f"`output_size` must be between 1 and {MAX_EXTENT} in every dimension; "
            f"got output_size={output_size!r} for {op}"
            + (f" on input of shape {tuple(input_shape)}." if input_shape is not None else ".")
        )
    return AdaptiveSpec(op, tuple(in_spatial), sizes)


@byte_cache
def adaptive_table(size, out):
    """PyTorch's adaptive bins as a window table (see :func:`window_table`):
    bin ``i`` covers ``[floor(i * size / out), ceil((i + 1) * size / out))``."""
    i = np.arange(out, dtype=np.int64)
    start = (i * size) // out
    end = -((-(i + 1) * size) // out)
    table = np.stack([start, end - start, end - start])
    table.setflags(write=False)
    return table


@dataclass(frozen=True)
class FractionalSpec:
    """Fractional max pooling's geometry; its windows depend on per-plane samples, so the
    window tables are built by the caller (see :func:`fractional_starts`)."""

    op: str
    in_spatial: tuple
    kernel_size: tuple
    out_spatial: tuple


def fractional_spec(op, in_spatial, kernel_size, output_size, output_ratio):
    """Validate fractional max pooling's arguments: the output size comes from ``output_size``
    or ``output_ratio`` (PyTorch: ``int(L * ratio)``), and every window must fit:
    ``O + k - 1 <= L``."""
    nd = len(in_spatial)
    kernel = int_tuple("kernel_size", kernel_size, nd, op, 1)
    if (output_size is None) == (output_ratio is None):
        raise ParameterError(
            f"{op} needs exactly one of `output_size` and `output_ratio`; got output_size={output_size!r}, "
            f"output_ratio={output_ratio!r}."
        )
    if output_size is not None:
        outs = int_tuple("output_size", output_size, nd, op, 1)
    else:
        output_ratio = _scalar(output_ratio)
        ratios = output_ratio if isinstance(output_ratio, (list, tuple, np.ndarray)) else (output_ratio,) * nd
        ratios = tuple(ratios) * (nd if len(ratios) == 1 else 1)
        if len(ratios) != nd or not all(isinstance(r, (int, float, np.integer, np.floating))
                                        and not isinstance(r, (bool, np.bool_)) and 0 < r < 1 for r in ratios):
            raise ParameterError(
                f"`output_ratio` must be a number or {nd} numbers in (0, 1); got output_ratio={output_ratio!r} for {op}."
            )
        outs = tuple(int(size * float(r)) for size, r in zip(in_spatial, ratios))
    for size, k, o in zip(in_spatial, kernel, outs):
        if o < 1 or o + k - 1 > size:
            raise ParameterError(
                f"{op}: output size {outs} with kernel_size {kernel} does not fit input size {tuple(in_spatial)} "
                f"(each dim needs 1 <= output and output + kernel_size - 1 <= input)."
            )
    return FractionalSpec(op, tuple(in_spatial), kernel, outs)


def fractional_starts(samples, size, out, kernel, dtype):
    """PyTorch's fractional-pooling window starts for one axis, one row per sample.

    ``alpha = (size - kernel) / (out - 1)`` and ``start_i = int((i + u) * alpha) - int(u * alpha)``
    for ``i < out - 1``, computed in ``dtype`` (the input's float dtype, as PyTorch does);
    the last window starts at ``size - kernel``.
    """
    samples = np.asarray(samples, dtype=dtype)
    starts = np.empty(samples.shape + (out,), dtype=np.int64)
    if out > 1:
        alpha = dtype.type(size - kernel) / dtype.type(out - 1)
        i = np.arange(out - 1).astype(dtype)
        with np.errstate(all="ignore"):
            starts[..., :-1] = (((i + samples[..., None]) * alpha).astype(np.int64)
                                - (samples[..., None] * alpha).astype(np.int64))
    starts[..., -1] = size - kernel
    return starts


def interior_range(size, kernel, stride, dilation, lo, out):
    """Outputs ``[first, stop)`` along one axis whose every tap lies inside the input."""
    last_offset = dilation * (kernel - 1)
    first = min(-(-lo // stride), out)
    stop = 0 if size - 1 - last_offset + lo < 0 else min((size - 1 - last_offset + lo) // stride + 1, out)
    return first, max(first, stop)


@byte_cache
def table_spec(spec):
    """Tables and scalars the kernels need for one spec on the canonical 3-D view."""
    if isinstance(spec, AdaptiveSpec):
        lift = 3 - spec.nd
        sizes = (1,) * lift + spec.in_spatial
        outs = (1,) * lift + spec.out_spatial
        tables = tuple(adaptive_table(sizes[a], outs[a]) for a in range(3))
        # Bins vary in size, so every output takes the table path: no interior range, no taps.
        return tables, np.ones(3, dtype=np.int64), np.array([1, 0, 0, 1, 0, 0], dtype=np.int64)
    sizes, kernel, stride, dilation, pads, outs = spec.lifted()
    tables = tuple(
        window_table(sizes[a], kernel[a], stride[a], dilation[a], pads[a][0], pads[a][1], outs[a])
        for a in range(3)
    )
    first, stop = interior_range(sizes[2], kernel[2], stride[2], dilation[2], pads[2][0], outs[2])
    # The innermost axis gets a branch-free path over its interior outputs.
    wgeom = np.array([stride[2], pads[2][0], kernel[2], dilation[2], first, stop], dtype=np.int64)
    dil = np.array(dilation, dtype=np.int64)
    return tables, dil, wgeom


# Channels-first planes at most this wide are pooled a whole plane per loop
# (numpool.kernels.planes); wider rows are long enough for the row kernels.
PLANE_MAX_WIDTH = 64


def plane_geometry(spec):
    """``(kh, sh, dh, pad_top, kw, sw, dw, pad_left, Hp, J, stackable)`` for :mod:`numpool.kernels.planes`,
    or ``None`` where that path does not apply: planes wider than :data:`PLANE_MAX_WIDTH`,
    and adaptive bins of varying size (an adaptive axis whose size is a multiple of its
    output size has equal bins, a window of ``size / out`` cells at that stride).

    ``Hp`` padded rows and ``J`` columns per phase hold every tap of every output.
    """
    if isinstance(spec, AdaptiveSpec):
        lift = 3 - spec.nd
        sizes = (1,) * lift + spec.in_spatial
        outs = (1,) * lift + spec.out_spatial
        if any(n % o for n, o in zip(sizes[1:], outs[1:])):
            return None
        kernel = stride = tuple(n // o for n, o in zip(sizes, outs))
        dilation, pads = (1, 1, 1), ((0, 0),) * 3
    else:
        sizes, kernel, stride, dilation, pads, outs = spec.lifted()
    # read when a plan is made: tests that move it drop the cached plans (functional._forget_plans)
    if sizes[2] > PLANE_MAX_WIDTH:
        return None
    if stride[1] > sizes[1] + pads[1][0] or stride[2] > sizes[2] + pads[2][0]:
        return None  # the accumulator's pitch is stride * J: it would follow the stride, not the plane
    (_, kh, kw), (_, sh, sw), (_, dh, dw) = kernel, stride, dilation
    hp = (outs[1] - 1) * sh + (kh - 1) * dh + 1
    j = outs[2] + (kw - 1) * dw // sw
    # Planes stack: with no depth axis, no top padding, rows tiled exactly by the stride and
    # windows no taller than it, the windows of consecutive planes are those of one plane
    # of their stacked rows (plane p's output row r is stacked row p * OH + r).
    stack = (sizes[0] == outs[0] == 1 and pads[1][0] == 0 and sizes[1] == outs[1] * sh and (kh - 1) * dh < sh)
    return np.array([kh, sh, dh, pads[1][0], kw, sw, dw, pads[2][0], hp, j, stack], dtype=np.int64)


@byte_cache
def divisor_factors(spec, count_include_pad):
    """Per-axis divisor factors of average pooling on the lifted view (int64 arrays)."""
    tables, _, _ = table_spec(spec)
    return tuple(table[2 if count_include_pad else 1] for table in tables)


@dataclass(frozen=True)
class UnpoolSpec:
    """Normalised geometry of a max-unpooling call (the inverse of one pooling geometry)."""

    op: str
    in_spatial: tuple
    out_spatial: tuple


def unpool_spec(op, in_spatial, kernel_size, stride=None, padding=0, output_size=None, input_shape=None):
    """Output spatial size of max unpooling, PyTorch's rule.

    Default ``out = (L - 1) * stride - pad_lo - pad_hi + kernel_size`` per axis (the input
    size of the pooling that gave ``L`` windows).  An ``output_size`` of ``nd`` or ``nd + 2``
    ints (the leading N, C are ignored) picks one of the sizes that pooling maps to ``L``:
    it must satisfy ``default - stride < out < default + stride``.  Padding strings other
    than ``"valid"`` depend on the unknown pooled input's size, so they are refused.
    """
    nd = len(in_spatial)
    shape = tuple(input_shape) if input_shape is not None else tuple(in_spatial)
    kernel = int_tuple("kernel_size", kernel_size, nd, op, 1)
    strides = kernel if _default_stride(stride) else int_tuple("stride", stride, nd, op, 1)
    if isinstance(padding, str) and padding.lower() != "valid":
        raise ParameterError(
            f"`padding` must be an int, per-dim ints or (before, after) pairs for {op} (a {padding!r} "
            f"padding depends on the pooled input's size: pass output_size instead); got padding={padding!r}."
        )
    pads = padding_pairs(padding, nd, in_spatial, kernel, strides, (1,) * nd, op)
    default = tuple((size - 1) * s - lo - hi + k for size, k, s, (lo, hi) in zip(in_spatial, kernel, strides, pads))
    if output_size is None:
        outs = default
    else:
        try:
            sizes = tuple(output_size)
        except TypeError:
            sizes = None
        if sizes is not None and len(sizes) == nd + 2:
            sizes = sizes[2:]
        if sizes is None or len(sizes) != nd or not all(_is_int(v) for v in sizes):
            raise ParameterError(
                f"`output_size` must be None or a sequence of {nd} or {nd + 2} ints for {op}; "
                f"got output_size={output_size!r}."
            )
        outs = tuple(int(v) for v in sizes)
        for axis, (out, d, s) in enumerate(zip(outs, default, strides)):
            if not d - s < out < d + s:
                raise ParameterError(
                    f"`output_size` must lie strictly between {d - s} and {d + s} in spatial dim {axis} "
                    f"(default size {d} -/+ stride {s}) for {op} on input of shape {shape}; "
                    f"got output_size={output_size!r}."
                )
    if any(o < 1 or o > MAX_EXTENT for o in outs):
        raise ParameterError(
            f"output size would be {outs} for {op} on input of shape {shape} with kernel_size={kernel}, "
            f"stride={strides}, padding={pads}; every size must be between 1 and {MAX_EXTENT}."
        )
    return UnpoolSpec(op, tuple(in_spatial), outs)


# =======================================================================================
# resampling (interpolate): modes, output size, per-axis source tables
#
# Everything ``numpool.resample.interpolate`` needs to know about its arguments is turned
# here into a :class:`ResampleSpec` holding, per spatial axis, one :class:`AxisTable`: a
# sparse matrix in CSR form (``ptr``, ``idx``, ``weight``) that maps the input axis to the
# output axis, plus a ``fill`` value for outputs with no source (ONNX's extrapolation).
# Resampling is separable, so the kernels apply one table per axis and only loop; the
# backward applies the transposed tables (also CSR, so it gathers: no two writers).
# Every formula is written out in docs/semantics.md, section "Resampling (interpolate)".

RESAMPLE_MODES = ("nearest", "nearest-exact", "linear", "bilinear", "trilinear", "bicubic", "area", "cubic")
_MODE_RANK = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}
ONNX_COORDINATE_MODES = ("half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners",
                         "asymmetric", "tf_crop_and_resize")
ONNX_NEAREST_MODES = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")
ASPECT_POLICIES = ("stretch", "not_larger", "not_smaller")


def _periodic_run(idx, w, mid):
    """``(lo, count, period, step)`` of :attr:`AxisTable.inner_periodic` for dense ``(taps,
    outputs)`` tables, the run holding output ``mid``."""
    out = idx.shape[1]
    for period in range(1, 9):
        if mid + period >= out:
            break
        step = int(idx[0, mid + period] - idx[0, mid])
        if step < 1:
            continue
        same = ((idx[:, period:] == idx[:, :-period] + step).all(0) & (w[:, period:] == w[:, :-period]).all(0))
        if not same[mid]:
            continue
        # the longest run of consecutive True in `same`
        edges = np.flatnonzero(np.diff(np.concatenate(([0], same.astype(np.int8), [0]))))
        starts, ends = edges[0::2], edges[1::2]
        best = int(np.argmax(ends - starts))
        count = (int(ends[best] - starts[best])) // period + 1
        return np.array([starts[best], count, period, step], dtype=np.int64)
    return np.zeros(4, dtype=np.int64)


@dataclass(frozen=True)
class AxisTable:
    """One axis of a resampling: ``out[o] = sum(weight[k] * in[idx[k]] for k in ptr[o]:ptr[o+1])``,
    or ``fill[o]`` for an output with no tap (``fill`` is 0 wherever there are taps).

    ``gather`` tables have exactly one tap of weight 1 per output (or none, where ``fill``
    applies): the kernels copy the value, which keeps integers and the sign of zero.
    """

    ptr: np.ndarray
    idx: np.ndarray
    weight: np.ndarray  # float64; the caller casts to the accumulation dtype
    fill: np.ndarray
    gather: bool
    identity: bool

    @functools.cached_property
    def dense(self):
        """``(idx, weight)`` as ``(taps, outputs)`` arrays, the fused 2-D kernels' form, when every
        output has the same number of taps and none takes ``fill``; else None."""
        counts = np.diff(self.ptr)
        if not len(counts) or counts[0] == 0 or (counts != counts[0]).any() or self.fill.any():
            return None
        taps = int(counts[0])
        return (np.ascontiguousarray(self.idx.reshape(-1, taps).T),
                np.ascontiguousarray(self.weight.reshape(-1, taps).T))

    @functools.cached_property
    def span(self):
        """The most input cells one output's taps range over, first to last (1 for a gather)."""
        if not len(self.idx):
            return 1
        rows = np.repeat(np.arange(len(self.ptr) - 1), np.diff(self.ptr))
        first = np.full(len(self.ptr) - 1, np.iinfo(np.int64).max)
        last = np.full(len(self.ptr) - 1, -1)
        np.minimum.at(first, rows, self.idx)
        np.maximum.at(last, rows, self.idx)
        return int(np.max(last - first, where=last >= 0, initial=0)) + 1

    @functools.cached_property
    def periodic(self):
        """``(lo, count, period, step)``: the longest run of outputs ``lo + period * i + p``
        (``i < count``, ``p < period``) whose taps are output ``lo + p``'s moved ``step * i``
        inputs on, with the same weights: upsampling by ``period / step`` away from the borders.
        The fused channels-first kernel computes that run phase by phase, from strided slices
        instead of gathering through ``idx``.  ``count`` is 0 where there is no such run."""
        if self.dense is None:
            return np.zeros(4, dtype=np.int64)
        return self.inner_periodic[:4]  # every output has the same taps: one run may span them all

    @functools.cached_property
    def inner_periodic(self):
        """``(lo, count, period, step, taps)`` like :attr:`periodic`, for tables whose tap
        counts vary at the borders (the transposed ones): the run lies within the outputs
        around the middle that have ``taps`` taps each.  ``count`` is 0 where there is none."""
        counts = np.diff(self.ptr)
        none = np.zeros(5, dtype=np.int64)
        if not len(counts) or self.fill.any():
            return none
        mid = len(counts) // 2
        taps = int(counts[mid])
        if taps == 0:
            return none
        lo = mid
        while lo > 0 and counts[lo - 1] == taps:
            lo -= 1
        hi = mid + 1
        while hi < len(counts) and counts[hi] == taps:
            hi += 1
        k0, k1 = self.ptr[lo], self.ptr[hi]
        run = _periodic_run(np.ascontiguousarray(self.idx[k0:k1].reshape(-1, taps).T),
                            np.ascontiguousarray(self.weight[k0:k1].reshape(-1, taps).T), mid - lo)
        run[0] += lo
        return np.append(run, taps)

    def transposed(self, size):
        """The adjoint table (input ``size`` cells as outputs); taps of weight 0 are dropped.
        Kept on the table (the axis tables are themselves cached), so a repeated backward
        call reuses it and its :attr:`inner_periodic` run."""
        if size not in self._transposes:
            self._transposes[size] = self._transpose(size)
        return self._transposes[size]

    @functools.cached_property
    def _transposes(self):
        return {}

    def _transpose(self, size):
        rows = np.repeat(np.arange(len(self.ptr) - 1, dtype=np.int64), np.diff(self.ptr))
        keep = self.weight != 0
        rows, cols, w = rows[keep], self.idx[keep], self.weight[keep]
        order = np.lexsort((rows, cols))  # by input cell, then output order: a fixed sum order
        ptr = np.zeros(size + 1, dtype=np.int64)
        np.add.at(ptr, cols + 1, 1)
        return AxisTable(np.cumsum(ptr), rows[order], w[order], np.zeros(size), False, self.identity)


@dataclass(frozen=True)
class ResampleSpec:
    """Normalised resampling call: the rule name, sizes and one :class:`AxisTable` per axis."""

    op: str
    mode: str  # "nearest", "linear", "cubic" or "area"
    onnx: bool
    in_spatial: tuple
    out_spatial: tuple
    tables: tuple  # AxisTable per axis; empty for "area"

    @property
    def nd(self):
        return len(self.in_spatial)


def resample_rank(x_ndim, size, scale_factor, mode, op):
    """Spatial rank of an interpolate call: from a sequence ``size``/``scale_factor``, else from
    the mode (linear 1, bilinear/bicubic 2, trilinear 3), else ``x.ndim - 2`` (batched)."""
    for value in (_scalar(size), _scalar(scale_factor)):
        if isinstance(value, (list, tuple, np.ndarray)) and 1 <= len(value) <= 3:
            return len(value)
    if mode in _MODE_RANK:
        return _MODE_RANK[mode]
    if x_ndim - 2 not in (1, 2, 3):
        raise ParameterError(
            f"{op} cannot tell the spatial rank of an input of {x_ndim} dims: pass `size` or `scale_factor` "
            f"as a sequence of 1 to 3 values, or a batched input (N, C, *spatial) with 1 to 3 spatial dims."
        )
    return x_ndim - 2


def _per_axis(name, value, nd, op, kind):
    """An int (kind "int") or positive finite number (kind "float") or a sequence of ``nd`` of them."""
    value = _scalar(value)
    items = tuple(value) if isinstance(value, (list, tuple, np.ndarray)) else (value,) * nd
    ok = len(items) == nd and all(
        _is_int(v) if kind == "int" else
        (isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_)))
        for v in items)
    if not ok:
        words = "int" if kind == "int" else "number"
        raise ParameterError(f"`{name}` must be an {words} or a sequence of {nd} {words}s; got {name}={value!r} for {op}.")
    return tuple(int(v) if kind == "int" else float(v) for v in items)


def _check_choice(name, value, choices, op):
    if not isinstance(value, str) or value not in choices:
        raise ParameterError(f"`{name}` must be one of {choices}; got {name}={value!r} for {op}.")
    return value


def resample_spec(op, in_spatial, size=None, scale_factor=None, mode="nearest", align_corners=None,
                  recompute_scale_factor=None, antialias=False, coordinate_transformation_mode=None,
                  nearest_mode=None, cubic_coeff_a=None, exclude_outside=False, roi=None,
                  extrapolation_value=0.0, keep_aspect_ratio_policy="stretch", dtype=np.float64):
    """Validate every interpolate argument; return the :class:`ResampleSpec`.

    ``dtype`` is the accumulation dtype: PyTorch computes source coordinates and weights in
    float32 for float16/float32 inputs, and so do the PyTorch-mode tables here.
    """
    args = (op, tuple(in_spatial), size, scale_factor, mode, align_corners, recompute_scale_factor, antialias,
            coordinate_transformation_mode, nearest_mode, cubic_coeff_a, exclude_outside, roi,
            extrapolation_value, keep_aspect_ratio_policy, np.dtype(dtype).str)
    try:
        key = ("resample",) + _key(args)
    except TypeError:
        key = None
    if key is not None and key in _SPEC_CACHE:
        return _SPEC_CACHE[key]
    spec = _resample_spec(*args)
    if key is not None:
        if len(_SPEC_CACHE) >= 1024:
            _SPEC_CACHE.clear()
        _SPEC_CACHE[key] = spec
    return spec


def _resample_spec(op, in_spatial, size, scale_factor, mode, align_corners, recompute_scale_factor, antialias,
                   ctm, nearest_mode, cubic_coeff_a, exclude_outside, roi, extrapolation_value, policy, dtype):
    nd = len(in_spatial)
    mode = _check_choice("mode", mode, RESAMPLE_MODES, op)
    for name, value in (("antialias", antialias), ("exclude_outside", exclude_outside)):
        if not isinstance(value, (bool, np.bool_)):
            raise ParameterError(f"`{name}` must be True or False; got {name}={value!r} for {op}.")
    if align_corners is not None and not isinstance(align_corners, (bool, np.bool_)):
        raise ParameterError(f"`align_corners` must be None, True or False; got align_corners={align_corners!r} for {op}.")
    if recompute_scale_factor is not None and not isinstance(recompute_scale_factor, (bool, np.bool_)):
        raise ParameterError(f"`recompute_scale_factor` must be None, True or False; "
                             f"got recompute_scale_factor={recompute_scale_factor!r} for {op}.")
    policy = _check_choice("keep_aspect_ratio_policy", policy, ASPECT_POLICIES, op)
    onnx = (ctm is not None or nearest_mode is not None or cubic_coeff_a is not None or bool(exclude_outside)
            or roi is not None or policy != "stretch")
    if mode in _MODE_RANK and _MODE_RANK[mode] != nd and not onnx:
        raise ParameterError(f"mode={mode!r} needs {_MODE_RANK[mode]} spatial dims (as in PyTorch); "
                             f"got {nd} for {op}.")
    if size is not None and scale_factor is not None:
        raise ParameterError(f"only one of `size` and `scale_factor` may be given; got size={size!r} and "
                             f"scale_factor={scale_factor!r} for {op}.")
    if size is None and scale_factor is None:
        raise ParameterError(f"one of `size` and `scale_factor` must be given for {op}.")
    if size is not None and recompute_scale_factor:
        raise ParameterError(f"`recompute_scale_factor` is not meaningful with an explicit `size` "
                             f"(got size={size!r}, recompute_scale_factor=True) for {op}.")
    if size is not None:
        outs = _per_axis("size", size, nd, op, "int")
        scales = tuple(o / i for o, i in zip(outs, in_spatial))  # ONNX's scale when sizes are given
        given = (None,) * nd
    else:
        given = _per_axis("scale_factor", scale_factor, nd, op, "float")
        if any(not (s > 0 and np.isfinite(s)) for s in given):
            raise ParameterError(f"`scale_factor` must be > 0 and finite; got scale_factor={scale_factor!r} for {op}.")
        outs = tuple(int(np.floor(i * s)) for i, s in zip(in_spatial, given))  # floor(in * scale), in float64
        scales = given
    if onnx:
        kind = {"bilinear": "linear", "trilinear": "linear", "bicubic": "cubic"}.get(mode, mode)
        if kind not in ("nearest", "linear", "cubic"):
            raise ParameterError(f"ONNX options (coordinate_transformation_mode, nearest_mode, cubic_coeff_a, "
                                 f"exclude_outside, roi, keep_aspect_ratio_policy) apply to modes 'nearest', "
                                 f"'linear' and 'cubic'; got mode={mode!r} for {op}.")
        if policy != "stretch" and size is not None:
            scale = min(scales) if policy == "not_larger" else max(scales)
            scales = (scale,) * nd
            outs = tuple(int(scale * i + 0.5) for i in in_spatial)
        _check_out(outs, op, size, scale_factor, in_spatial)
        tables = _onnx_tables(op, kind, in_spatial, outs, scales, align_corners, antialias, ctm, nearest_mode,
                              cubic_coeff_a, bool(exclude_outside), roi, extrapolation_value)
        return ResampleSpec(op, kind, True, tuple(in_spatial), outs, tables)
    _check_out(outs, op, size, scale_factor, in_spatial)
    if mode in ("nearest", "area", "nearest-exact", "cubic"):
        if mode == "cubic":
            raise ParameterError(f"mode='cubic' is ONNX's name: pass an ONNX option (e.g. "
                                 f"coordinate_transformation_mode) or use mode='bicubic' for {op}.")
        if align_corners is not None:
            raise ParameterError(f"`align_corners` can only be set with the interpolating modes linear, bilinear, "
                                 f"bicubic and trilinear; got align_corners={align_corners!r} with mode={mode!r} for {op}.")
    if antialias and mode not in ("bilinear", "bicubic"):
        raise ParameterError(f"`antialias=True` needs mode 'bilinear' or 'bicubic' (as in PyTorch); "
                             f"got mode={mode!r} for {op}.")
    if mode == "area":  # PyTorch always recomputes the size: adaptive average pooling
        return ResampleSpec(op, "area", False, tuple(in_spatial), outs, ())
    # PyTorch passes the user's scale factors to its kernels unless they are recomputed
    passed = (None,) * nd if recompute_scale_factor else given
    kind = {"nearest": "nearest", "nearest-exact": "nearest-exact", "bicubic": "cubic"}.get(mode, "linear")
    if kind == "nearest" and nd == 2:  # PyTorch's 2-D nearest kernel has its own index rule
        kind = "nearest-2d"
    tables = tuple(torch_axis_table(kind, i, o, s, bool(align_corners), bool(antialias), np.dtype(dtype).str)
                   for i, o, s in zip(in_spatial, outs, passed))
    return ResampleSpec(op, "nearest" if kind.startswith("nearest") else kind, False, tuple(in_spatial), outs, tables)


def _check_out(outs, op, size, scale_factor, in_spatial):
    if any(o < 1 or o > MAX_EXTENT for o in outs):
        raise ParameterError(f"output size would be {outs} for {op} on spatial input {tuple(in_spatial)} with "
                             f"size={size!r}, scale_factor={scale_factor!r}; every size must be between 1 and {MAX_EXTENT}.")


def _table(idx, weight, fill=None, gather=False, size=-1):
    """An :class:`AxisTable` from a dense ``(out, taps)`` index/weight pair (``size``: input cells,
    given where the table may be the identity)."""
    out, taps = idx.shape
    fill = np.zeros(out) if fill is None else fill
    identity = bool(out == size and taps == 1 and gather and np.array_equal(idx[:, 0], np.arange(out))
                    and not fill.any())
    for a in (idx, weight, fill):
        a.setflags(write=False)
    ptr = np.arange(out + 1, dtype=np.int64) * taps
    return AxisTable(ptr, np.ascontiguousarray(idx.reshape(-1), dtype=np.int64), weight.reshape(-1).astype(np.float64),
                     fill, gather, identity)


def _compress(idx, weight, valid, fill, gather=False):
    """CSR table from dense taps, keeping only the ``valid`` ones (rows with none take ``fill``)."""
    ptr = np.concatenate([[0], np.cumsum(valid.sum(axis=1))]).astype(np.int64)
    return AxisTable(ptr, idx[valid].astype(np.int64), weight[valid].astype(np.float64), fill, gather, False)


def _cubic(t, a):
    """Keys' cubic convolution weights of the 4 taps around a point at fraction ``t`` (PyTorch's and
    ONNX's polynomials), in the dtype of ``t``."""
    one = t.dtype.type(1)
    a = t.dtype.type(a)
    def near(x):  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + one
    def far(x):  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return np.stack([far(t + one), near(t), near(one - t), far((one - t) + one)], axis=-1)


def _aa_filter(kind, x):
    x = np.abs(x)
    if kind == "linear":
        return np.clip(1 - x, 0, 1).astype(x.dtype)
    a = x.dtype.type(-0.5)
    w = np.where(x < 1, ((a + 2) * x - (a + 3)) * x * x + 1, ((a * x - 5 * a) * x + 8 * a) * x - 4 * a)
    return np.where(x < 2, w, 0).astype(x.dtype)


@byte_cache
def torch_axis_table(kind, size, out, scale_factor, align_corners, antialias, dtype):
    """PyTorch's CPU source indices and weights along one axis (``kind``: "nearest",
    "nearest-exact", "linear" or "cubic"); arithmetic in ``dtype`` as PyTorch's ``opmath``."""
    o = np.arange(out, dtype=np.int64)
    T = np.dtype(dtype).type
    if kind.startswith("nearest"):
        # PyTorch's (contiguous) nearest kernel: coordinates in opmath (float32, or float64 for
        # float64 input), then floorf, which rounds them to float32 first
        if kind == "nearest-2d":
            T = np.float32
        scale = T(1.0 / scale_factor) if scale_factor is not None and scale_factor > 0 else T(size) / T(out)
        if kind == "nearest-2d":
            # 2-D: float32 whatever the dtype, and two shortcuts by size alone
            src = o if out == size else o >> 1 if out == 2 * size else o.astype(np.float32) * scale
        else:
            src = scale * o.astype(T) if kind == "nearest" else np.maximum(_half_pixel(scale, o, T), T(0)) + T(0.5)
        idx = np.minimum(np.floor(src.astype(np.float32)).astype(np.int64), size - 1)[:, None]
        return _table(idx, np.ones(idx.shape), gather=True, size=size)
    if align_corners:
        scale = T(size - 1) / T(out - 1) if out > 1 else T(0)
    elif scale_factor is not None and scale_factor > 0:
        scale = T(1.0 / scale_factor)
    else:
        scale = T(size) / T(out)
    if antialias:
        if out == size:  # PyTorch's separable antialiased kernel skips an axis of unchanged size
            return _table(o[:, None], np.ones((out, 1)), gather=True, size=size)
        return _torch_aa_table(kind, size, out, scale, T)
    src = scale * o.astype(T) if align_corners else _half_pixel(scale, o, T)
    if kind == "linear":
        if out == size:  # PyTorch copies the axis unchanged
            return _table(o[:, None], np.ones((out, 1)), gather=True, size=size)
        src = src if align_corners else np.maximum(src, T(0))
        i0 = np.minimum(np.floor(src.astype(np.float32)).astype(np.int64), size - 1)  # floorf, as PyTorch
        lam1 = np.minimum(np.maximum(src - i0.astype(T), T(0)), T(1))
        i1 = i0 + (i0 < size - 1)
        return _table(np.stack([i0, i1], axis=1), np.stack([T(1) - lam1, lam1], axis=1))
    i0 = np.minimum(np.floor(src.astype(np.float32)).astype(np.int64), size - 1)
    t = np.minimum(np.maximum(src - i0.astype(T), T(0)), T(1))
    idx = np.clip(i0[:, None] - 1 + np.arange(4), 0, size - 1)
    return _table(idx, _cubic(t.astype(T), -0.75))


def _half_pixel(scale, o, T):
    """``scale * (o + 0.5) - 0.5`` as PyTorch's CPU build computes it: one fused multiply-add.
    In float32 that is the float64 result rounded once (the product is exact in float64);
    float64 keeps two roundings (docs/semantics.md: rare last-index differences)."""
    if T is np.float32:
        return (np.float64(scale) * (o.astype(np.float64) + 0.5) - 0.5).astype(np.float32)
    return scale * (o.astype(T) + T(0.5)) - T(0.5)


def _torch_aa_table(kind, size, out, scale, T):
    """PyTorch's antialiased (separable, normalised) filter: triangle for linear, cubic a=-0.5."""
    interp = 2 if kind == "linear" else 4
    support = T(interp * 0.5) * scale if scale >= 1 else T(interp * 0.5)
    invscale = T(1) / scale if scale >= 1 else T(1)
    center = scale * (np.arange(out).astype(T) + T(0.5))
    xmin = np.maximum(np.trunc(center - support + T(0.5)).astype(np.int64), 0)
    xmax = np.minimum(np.trunc(center + support + T(0.5)).astype(np.int64), size)
    taps = max(int((xmax - xmin).max()), 1)
    j = xmin[:, None] + np.arange(taps)
    valid = j < xmax[:, None]
    w = np.where(valid, _aa_filter(kind, ((j.astype(T) - center[:, None]) + T(0.5)) * invscale), T(0)).astype(T)
    total = w.sum(axis=1, dtype=T)
    w = np.where(total[:, None] != 0, w / np.where(total == 0, T(1), total)[:, None], w).astype(T)
    return _compress(np.minimum(j, size - 1), w, valid, np.zeros(out))


def _onnx_tables(op, kind, in_spatial, outs, scales, align_corners, antialias, ctm, nearest_mode, cubic_coeff_a,
                 exclude_outside, roi, extrapolation_value):
    nd = len(in_spatial)
    if ctm is None:
        ctm = "half_pixel" if align_corners is None else ("align_corners" if align_corners else "pytorch_half_pixel")
    ctm = _check_choice("coordinate_transformation_mode", ctm, ONNX_COORDINATE_MODES, op)
    if align_corners is not None and (ctm == "align_corners") != bool(align_corners):
        raise ParameterError(f"`align_corners={align_corners!r}` contradicts coordinate_transformation_mode={ctm!r} "
                             f"for {op}; pass only one of them.")
    if nearest_mode is not None and kind != "nearest":
        raise ParameterError(f"`nearest_mode` applies to mode 'nearest' only; got nearest_mode={nearest_mode!r} "
                             f"with mode={kind!r} for {op}.")
    nearest_mode = _check_choice("nearest_mode", "round_prefer_floor" if nearest_mode is None else nearest_mode,
                                 ONNX_NEAREST_MODES, op)
    if cubic_coeff_a is None:
        cubic_coeff_a = -0.75
    if not isinstance(cubic_coeff_a, (int, float, np.integer, np.floating)) or isinstance(cubic_coeff_a, bool) \
            or not np.isfinite(cubic_coeff_a):
        raise ParameterError(f"`cubic_coeff_a` must be a finite number; got cubic_coeff_a={cubic_coeff_a!r} for {op}.")
    if antialias and kind == "nearest":
        raise ParameterError(f"`antialias=True` needs mode 'linear' or 'cubic' with ONNX options; got mode='nearest' for {op}.")
    if not isinstance(extrapolation_value, (int, float, np.integer, np.floating)) or isinstance(extrapolation_value, bool):
        raise ParameterError(f"`extrapolation_value` must be a number; got extrapolation_value={extrapolation_value!r} for {op}.")
    if ctm == "tf_crop_and_resize":
        try:
            box = tuple(float(v) for v in roi)
        except (TypeError, ValueError):
            box = ()
        if len(box) != 2 * nd or not all(np.isfinite(box)):
            raise ParameterError(f"coordinate_transformation_mode='tf_crop_and_resize' needs `roi` = {2 * nd} finite "
                                 f"numbers (starts of the {nd} spatial axes, then their ends, as fractions of the "
                                 f"input); got roi={roi!r} for {op}.")
        boxes = [(box[a], box[nd + a]) for a in range(nd)]
        # ONNX computes with the roi tensor's own float type (float16, float32 or float64): an
        # ndarray (or np.float32 scalars) of one keeps it, plain Python numbers are float64
        roi_dtype = np.asarray(roi).dtype
        roi_dtype = roi_dtype.str if roi_dtype in (np.float16, np.float32, np.float64) else "<f8"
    elif roi is not None:
        raise ParameterError(f"`roi` applies only to coordinate_transformation_mode='tf_crop_and_resize'; "
                             f"got roi={roi!r} with {ctm!r} for {op}.")
    else:
        boxes, roi_dtype = [None] * nd, None
    return tuple(
        onnx_axis_table(kind, size, out, float(scale), ctm, nearest_mode, float(cubic_coeff_a), bool(exclude_outside),
                        bool(antialias), box, float(extrapolation_value), roi_dtype)
        for size, out, scale, box in zip(in_spatial, outs, scales, boxes))


@byte_cache
def onnx_axis_table(kind, size, out, scale, ctm, nearest_mode, a, exclude_outside, antialias, box, extrapolation,
                    roi_dtype=None):
    """ONNX Resize's source taps along one axis, with the precision of each step of its
    reference (onnx.reference.ops.op_resize): coordinates in float64, the roi terms in the
    roi's dtype (``roi_dtype``), Keys' cubic coefficients in float32 (the attribute
    ``cubic_coeff_a`` is a float32, and NumPy computes ``float32 * float`` in float32)."""
    y = np.arange(out, dtype=np.float64)
    fill = np.zeros(out)
    if _isclose(scale, 1.0) and out == size and (box is None or (_isclose(box[0], 0.0) and _isclose(box[1], 1.0))):
        return _table(np.arange(out, dtype=np.int64)[:, None], np.ones((out, 1)), gather=True, size=size)  # ONNX skips it
    width = scale * size
    if ctm == "align_corners":
        x = np.zeros(out) if width == 1 else y * (size - 1) / (width - 1)
    elif ctm == "asymmetric":
        x = y / scale
    elif ctm == "tf_crop_and_resize":
        T = np.dtype(roi_dtype or "<f8").type
        start, span, last = T(box[0]), T(box[1]) - T(box[0]), T(size - 1)  # roi[1] - roi[0] in the roi's dtype
        x = np.full(out, float(span * last / T(2))) if width == 1 else y * float(span) * (size - 1) / (width - 1)
        x = x + float(start * last)  # roi[0] * (L - 1) in the roi's dtype, then added in float64
    elif ctm == "pytorch_half_pixel":
        x = np.full(out, -0.5) if width == 1 else (y + 0.5) / scale - 0.5
    elif ctm == "half_pixel":
        x = (y + 0.5) / scale - 0.5
    else:  # half_pixel_symmetric
        x = size / 2 * (1 - out / width) + (y + 0.5) / scale - 0.5
    outside = (x < 0) | (x > size - 1) if ctm == "tf_crop_and_resize" else np.zeros(out, dtype=bool)
    fill = np.where(outside, extrapolation, 0.0)
    base = np.floor(x).astype(np.int64)
    whole = x == base
    ratio = np.where(whole, 1.0, x - base)  # in (0, 1]: a whole coordinate is the right end of its pair
    if kind == "nearest":
        up = {"round_prefer_floor": ratio > 0.5, "round_prefer_ceil": ratio >= 0.5,
              "floor": np.zeros(out, bool), "ceil": np.ones(out, bool)}[nearest_mode]
        src = np.where(whole, x.astype(np.int64), base + up)
        valid = ~outside & ((src >= 0) & (src < size) if exclude_outside else True)
        idx = np.clip(src, 0, size - 1)[:, None]
        if valid.all():
            return _table(idx, np.ones((out, 1)), gather=True, size=size)
        return _compress(idx, np.ones((out, 1)), valid[:, None], fill, gather=True)
    if antialias:
        s = min(scale, 1.0)
        first = int(np.floor((-1 if kind == "linear" else -2) / s) + 1)
        taps = np.arange(first, 2 - first)  # offsets from the pair's right end
        args = (taps[None, :] - ratio[:, None]) * s
        if kind == "linear":
            w = np.clip(1 - np.abs(args), 0, 1)
            w = w / _sum_in_order(w)[:, None]
        else:
            w = _onnx_cubic_antialias(args, a)
    elif kind == "linear":
        taps = np.arange(0, 2)
        w = np.stack([1 - ratio, ratio], axis=1)
    else:
        taps = np.arange(-1, 3)
        w = _onnx_cubic(ratio, a)
    # taps are counted from the cell left of x (``base``, or x - 1 when x is whole)
    left = np.where(whole, x.astype(np.int64) - 1, base)
    src = left[:, None] + taps[None, :]
    if exclude_outside:  # in float64, NumPy's row sum, as the reference
        w = np.where((src < 0) | (src >= size), 0.0, w)
        total = w.sum(axis=1, keepdims=True)
        w = w / np.where(total == 0, 1.0, total)
    valid = np.broadcast_to(~outside[:, None], src.shape)
    return _compress(np.clip(src, 0, size - 1), w, valid, fill)


def _isclose(u, v):
    """``math.isclose`` (relative 1e-9, no absolute slack), as ONNX's reference tests an identity axis."""
    return abs(u - v) <= 1e-9 * max(abs(u), abs(v))


def _sum_in_order(w):
    """Row sums added left to right (Python's ``sum`` over a row, as ONNX's antialias filters)."""
    total = np.zeros(len(w), dtype=w.dtype)
    for k in range(w.shape[1]):
        total = total + w[:, k]
    return total


def _onnx_cubic(ratio, a):
    """ONNX's ``_cubic_coeffs``: the 4 Keys weights at fraction ``ratio`` (float64). ``A`` is a
    float32, so each argument (``ratio + 1``, ``ratio``, ``1 - ratio``, ``(1 - ratio) + 1``, formed
    in float64) is rounded to float32 and the polynomial is evaluated in float32."""
    f = np.float32
    A = f(a)

    def near(x):
        return ((A + f(2)) * x - (A + f(3))) * x * x + f(1)

    def far(x):
        return ((A * x - f(5) * A) * x + f(8) * A) * x - f(4) * A

    m = 1 - ratio
    w = np.stack([far((ratio + 1).astype(f)), near(ratio.astype(f)), near(m.astype(f)), far((m + 1).astype(f))],
                 axis=-1)
    return w.astype(np.float64)


def _onnx_cubic_antialias(args, a):
    """ONNX's ``_cubic_coeffs_antialias`` for every row of filter arguments ``args`` (float64):
    ``|x|``, ``x^2 = x*x``, ``x^3 = x*x^2`` in float64, each rounded to float32 for the float32
    polynomial; taps with ``|x| >= 2`` are a Python ``0.0``.  The row is divided by its float32
    left-to-right sum: in float32 when every tap is a float32, in float64 when a ``0.0`` tap made
    NumPy build a float64 array."""
    f = np.float32
    A = f(a)
    x = np.abs(args)
    x2 = x * x
    x3 = x * x2
    x_, x2_, x3_ = x.astype(f), x2.astype(f), x3.astype(f)
    near = (A + f(2)) * x3_ - (A + f(3)) * x2_ + f(1)
    far = A * x3_ - f(5) * A * x2_ + f(8) * A * x_ - f(4) * A
    zero = x >= 2
    w = np.where(x <= 1, near, np.where(zero, f(0), far)).astype(f)
    total = _sum_in_order(w)[:, None]
    return np.where(zero.any(axis=1)[:, None], w.astype(np.float64) / total.astype(np.float64),
                    (w / total).astype(np.float64))
