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


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


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


def _pool_spec(op, in_spatial, kernel_size, stride, padding, dilation, ceil_mode, input_shape):
    nd = len(in_spatial)
    kernel = int_tuple("kernel_size", kernel_size, nd, op, 1)
    strides = kernel if stride is None else int_tuple("stride", stride, nd, op, 1)
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


@functools.lru_cache(maxsize=1024)
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


@functools.lru_cache(maxsize=1024)
def adaptive_table(size, out):
    """PyTorch's adaptive bins as a window table (see :func:`window_table`):
    bin ``i`` covers ``[floor(i * size / out), ceil((i + 1) * size / out))``."""
    i = np.arange(out, dtype=np.int64)
    start = (i * size) // out
    end = -((-(i + 1) * size) // out)
    table = np.stack([start, end - start, end - start])
    table.setflags(write=False)
    return table


def interior_range(size, kernel, stride, dilation, lo, out):
    """Outputs ``[first, stop)`` along one axis whose every tap lies inside the input."""
    last_offset = dilation * (kernel - 1)
    first = min(-(-lo // stride), out)
    stop = 0 if size - 1 - last_offset + lo < 0 else min((size - 1 - last_offset + lo) // stride + 1, out)
    return first, max(first, stop)


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


def divisor_factors(spec, count_include_pad):
    """Per-axis divisor factors of average pooling on the lifted view (int64 arrays)."""
    tables, _, _ = table_spec(spec)
    return tuple(table[2 if count_include_pad else 1] for table in tables)
