"""A slow, plain reference implementation of pooling, used only as the tests' oracle.

Nothing here is fast or clever, and nothing here shares code with the compiled path
(``numpool._params`` and ``numpool.kernels`` are deliberately not imported): every function
walks the output positions and each window's taps one at a time, the way a textbook writes
pooling, so that a disagreement with the kernels points at a real bug.

Conventions (numpool's documented semantics):

- Arrays are channels-first and batched, ``(N, C, *spatial)`` with 1, 2 or 3 spatial dims.
  The loops run over spatial positions only; each step handles the whole ``(N, C)`` block
  at once with NumPy, which changes no result because every ``(n, c)`` plane is independent.
- Every window parameter is a tuple with one entry per spatial dim; ``padding`` is a tuple
  of ``(lo, hi)`` pairs.  String and scalar spellings are the caller's business.
- Output size per axis is PyTorch's formula::

      out = floor_or_ceil((L + lo + hi - dilation * (kernel - 1) - 1) / stride) + 1

  and with ``ceil_mode`` the window that rounding up added is dropped when it would start
  at or beyond ``L + lo`` (it must start inside the input or the left padding).
- Window taps are visited in row-major order (last axis fastest).

Max pooling starts each window from its first tap inside the input and replaces the
running maximum when a later tap ``v`` has ``v > m`` or ``v`` is NaN: ties keep the first
tap, NaN propagates with the index of the last NaN.  Padding never wins.  A window with
no tap inside the input gives ``-inf`` (the dtype's minimum for integers, ``False`` for
bool) and index ``-1``.  Indices are flat over each ``(n, c)`` plane's spatial dims.

Average pooling sums the taps inside the input, starting from zero in the accumulation
dtype (float32 for float16 and float32, float64 for float64), and divides once by
``divisor_override``, else by the number of taps inside ``[-lo, L + hi)`` per axis
(``count_include_pad=True``, multiplied over the axes) or inside the input
(``count_include_pad=False``; an empty window then gives ``0 / 0 = NaN``).

Examples
--------
>>> import numpy as np
>>> from numpool import reference
>>> x = np.arange(16.0).reshape(1, 1, 4, 4)
>>> out, idx = reference.max_pool(x, (3, 3), (2, 2), ((1, 1), (1, 1)), (1, 1), False)
>>> out[0, 0]
array([[ 5.,  7.],
       [13., 15.]])
>>> idx[0, 0]
array([[ 5,  7],
       [13, 15]])
"""

from __future__ import annotations

import itertools
import math

import numpy as np

__all__ = [
    "output_size", "window_taps",
    "max_pool", "max_pool_backward", "avg_pool", "avg_pool_backward",
    "reduce_window", "reduce_window_backward",
]


def output_size(size, kernel, stride, dilation, pad_lo, pad_hi, ceil_mode):
    """Number of windows along one axis, with PyTorch's formula and ``ceil_mode`` rule.

    Parameters
    ----------
    size : int
        Input length along the axis.
    kernel, stride, dilation : int
        Window size, step between windows and spacing between taps.
    pad_lo, pad_hi : int
        Padding before and after the input.
    ceil_mode : bool
        Round up instead of down; a window that rounding up added is dropped again when
        it would start at or after ``size + pad_lo``.  Windows that floor mode has are
        never dropped (with padding wider than a window, which PyTorch forbids, floor mode
        can have windows starting in the right padding).

    Returns
    -------
    int
        The output length; 0 or less means the window does not fit.

    Examples
    --------
    >>> output_size(5, 2, 2, 1, 0, 0, False), output_size(5, 2, 2, 1, 0, 0, True)
    (2, 3)
    >>> output_size(5, 2, 2, 1, 1, 1, True)  # a 4th window would start in the right padding
    3
    >>> output_size(2, 3, 3, 1, 0, 0, False), output_size(2, 3, 3, 1, 0, 0, True)  # partial window
    (0, 1)
    >>> output_size(1, 1, 2, 1, 0, 3, True)  # floor mode's window at 2 (in the padding) stays
    2
    """
    span = size + pad_lo + pad_hi - dilation * (kernel - 1) - 1
    floor_out = math.floor(span / stride) + 1
    if not ceil_mode:
        return floor_out
    out = math.ceil(span / stride) + 1
    if out > floor_out and (out - 1) * stride >= size + pad_lo:
        out -= 1
    return out


def _output_shape(spatial, kernel_size, stride, padding, dilation, ceil_mode):
    shape = tuple(
        output_size(size, k, s, d, lo, hi, ceil_mode)
        for size, k, s, d, (lo, hi) in zip(spatial, kernel_size, stride, dilation, padding)
    )
    if any(o < 1 for o in shape):
        raise ValueError(f"window does not fit: output shape would be {shape}")
    return shape


def _check_args(x, kernel_size, stride, padding, dilation):
    nd = x.ndim - 2
    if nd not in (1, 2, 3):
        raise ValueError(f"expected (N, C, *spatial) with 1 to 3 spatial dims; got shape {x.shape}")
    for name, value in (("kernel_size", kernel_size), ("stride", stride), ("dilation", dilation),
                        ("padding", padding)):
        if len(value) != nd:
            raise ValueError(f"`{name}` needs {nd} entries; got {value!r}")
    return nd


def window_taps(out_pos, kernel_size, stride, padding, dilation):
    """Every tap of one window, in row-major order, as input coordinates (may be outside).

    Parameters
    ----------
    out_pos : tuple of int
        The output position.
    kernel_size, stride, dilation : tuple of int
    padding : tuple of (int, int)

    Returns
    -------
    list of tuple of int
        ``kernel_size[0] * kernel_size[1] * ...`` coordinates; a coordinate is in the
        padding (or beyond it) when it is negative or not less than the input size.

    Examples
    --------
    >>> window_taps((1,), (3,), (2,), ((1, 1),), (1,))
    [(1,), (2,), (3,)]
    """
    starts = [o * s - lo for o, s, (lo, _) in zip(out_pos, stride, padding)]
    per_axis = [[start + t * d for t in range(k)] for start, k, d in zip(starts, kernel_size, dilation)]
    return list(itertools.product(*per_axis))


def _inside(tap, spatial):
    return all(0 <= p < size for p, size in zip(tap, spatial))


def _flat(tap, spatial):
    index = 0
    for p, size in zip(tap, spatial):
        index = index * size + p
    return index


def _lowest(dtype):
    if dtype == np.bool_:
        return False
    if dtype.kind == "f":
        return -np.inf
    return np.iinfo(dtype).min


def _accumulation_dtype(dtype):
    if dtype == np.float64:
        return np.dtype(np.float64)
    if dtype in (np.float16, np.float32):
        return np.dtype(np.float32)
    raise TypeError(f"average pooling needs a float16, float32 or float64 input; got {dtype}")


def max_pool(x, kernel_size, stride, padding, dilation, ceil_mode):
    """Max pooling of a channels-first batched array, with argmax indices.

    Parameters
    ----------
    x : ndarray, shape (N, C, *spatial)
        Any real or bool dtype, 1 to 3 spatial dims.
    kernel_size, stride, dilation : tuple of int
        One entry per spatial dim.
    padding : tuple of (int, int)
        ``(lo, hi)`` per spatial dim; padding never wins the maximum.
    ceil_mode : bool
        PyTorch's ceil rounding of the output size.

    Returns
    -------
    out : ndarray, same dtype as ``x``
    indices : ndarray of int64
        Flat index of each maximum within its ``(n, c)`` plane's spatial dims (row-major),
        ``-1`` for a window with no tap inside the input.

    Examples
    --------
    >>> x = np.array([[[1.0, np.nan, 3.0, np.nan, 0.0]]])
    >>> max_pool(x, (5,), (5,), ((0, 0),), (1,), False)
    (array([[[nan]]]), array([[[3]]]))
    >>> max_pool(np.ones((1, 1, 1)), (2,), (1,), ((1, 1),), (2,), False)
    (array([[[-inf]]]), array([[[-1]]]))
    """
    x = np.asarray(x)
    _check_args(x, kernel_size, stride, padding, dilation)
    spatial = x.shape[2:]
    out_shape = _output_shape(spatial, kernel_size, stride, padding, dilation, ceil_mode)
    out = np.empty(x.shape[:2] + out_shape, dtype=x.dtype)
    indices = np.empty(x.shape[:2] + out_shape, dtype=np.int64)
    everything = (slice(None), slice(None))
    for pos in itertools.product(*(range(o) for o in out_shape)):
        taps = [t for t in window_taps(pos, kernel_size, stride, padding, dilation) if _inside(t, spatial)]
        if not taps:
            out[everything + pos] = _lowest(x.dtype)
            indices[everything + pos] = -1
            continue
        best = x[everything + taps[0]].copy()
        best_index = np.full(x.shape[:2], _flat(taps[0], spatial), dtype=np.int64)
        for tap in taps[1:]:
            value = x[everything + tap]
            replace = (value > best) | (value != value)  # v != v: v is NaN
            best = np.where(replace, value, best)
            best_index = np.where(replace, _flat(tap, spatial), best_index)
        out[everything + pos] = best
        indices[everything + pos] = best_index
    return out, indices


def max_pool_backward(grad_output, x, kernel_size, stride, padding, dilation, ceil_mode, indices=None):
    """Gradient of :func:`max_pool` with respect to ``x``.

    Parameters
    ----------
    grad_output : ndarray
        Same shape as :func:`max_pool`'s output.
    x : ndarray, shape (N, C, *spatial)
        The forward input (used for its shape and dtype, and for the argmax when
        ``indices`` is None).
    kernel_size, stride, padding, dilation, ceil_mode
        As for :func:`max_pool`.
    indices : ndarray of int, optional
        Argmax from the forward call; recomputed from ``x`` when None.

    Returns
    -------
    ndarray, shape and dtype of ``x``
        Each output gradient added (in output order, in float32 for float16) at its
        window's argmax; windows with index ``-1`` add nothing.

    Examples
    --------
    >>> x = np.array([[[1.0, 3.0, 2.0]]])
    >>> max_pool_backward(np.array([[[10.0, 20.0]]]), x, (2,), (1,), ((0, 0),), (1,), False)
    array([[[ 0., 30.,  0.]]])
    """
    x = np.asarray(x)
    if indices is None:
        _, indices = max_pool(x, kernel_size, stride, padding, dilation, ceil_mode)
    grad_output = np.asarray(grad_output)
    indices = np.asarray(indices)
    if grad_output.shape != indices.shape:
        raise ValueError(f"grad_output has shape {grad_output.shape}; expected {indices.shape}")
    acc = np.dtype(np.float32) if x.dtype == np.float16 else x.dtype
    n, c = x.shape[:2]
    grad_planes = np.zeros((n, c, int(np.prod(x.shape[2:]))), dtype=acc)
    for i in range(n):
        for j in range(c):
            for pos in itertools.product(*(range(o) for o in grad_output.shape[2:])):
                where = indices[(i, j) + pos]
                if where >= 0:
                    grad_planes[i, j, where] += grad_output[(i, j) + pos]
    return grad_planes.reshape(x.shape).astype(x.dtype)


def _divisor(taps, spatial, padding, count_include_pad, divisor_override):
    if divisor_override is not None:
        return divisor_override
    if count_include_pad:
        # taps inside the padded input [-lo, L + hi), counted per axis and multiplied
        divisor = 1
        for axis, (size, (lo, hi)) in enumerate(zip(spatial, padding)):
            along = sorted({tap[axis] for tap in taps})
            divisor *= sum(1 for p in along if -lo <= p < size + hi)
        return divisor
    return sum(1 for tap in taps if _inside(tap, spatial))


def avg_pool(x, kernel_size, stride, padding, dilation, ceil_mode, count_include_pad, divisor_override):
    """Average pooling of a channels-first batched float array.

    Parameters
    ----------
    x : ndarray, shape (N, C, *spatial)
        float16, float32 or float64.
    kernel_size, stride, dilation : tuple of int
    padding : tuple of (int, int)
    ceil_mode : bool
    count_include_pad : bool
        Divide by the taps inside the padded input (True) or inside the input (False).
    divisor_override : int or None
        Divide by this instead.

    Returns
    -------
    ndarray, same dtype as ``x``
        Sum of the taps inside the input (float32 accumulation for float16/float32),
        divided once; NaN for an empty window with ``count_include_pad=False``.

    Examples
    --------
    >>> x = np.arange(9.0).reshape(1, 1, 3, 3)
    >>> avg_pool(x, (2, 2), (2, 2), ((0, 1), (0, 1)), (1, 1), False, False, None)[0, 0]
    array([[2. , 3.5],
           [6.5, 8. ]])
    """
    x = np.asarray(x)
    _check_args(x, kernel_size, stride, padding, dilation)
    acc = _accumulation_dtype(x.dtype)
    spatial = x.shape[2:]
    out_shape = _output_shape(spatial, kernel_size, stride, padding, dilation, ceil_mode)
    out = np.empty(x.shape[:2] + out_shape, dtype=x.dtype)
    everything = (slice(None), slice(None))
    for pos in itertools.product(*(range(o) for o in out_shape)):
        taps = window_taps(pos, kernel_size, stride, padding, dilation)
        total = np.zeros(x.shape[:2], dtype=acc)
        divisor = _divisor(taps, spatial, padding, count_include_pad, divisor_override)
        with np.errstate(invalid="ignore", over="ignore"):  # inf - inf, 0 / 0 and overflow are results too
            for tap in taps:
                if _inside(tap, spatial):
                    total += x[everything + tap].astype(acc)
            out[everything + pos] = total / acc.type(divisor)
    return out


def avg_pool_backward(grad_output, x, kernel_size, stride, padding, dilation, ceil_mode, count_include_pad,
                      divisor_override):
    """Gradient of :func:`avg_pool` with respect to ``x``.

    Parameters
    ----------
    grad_output : ndarray
        Same shape as :func:`avg_pool`'s output.
    x : ndarray, shape (N, C, *spatial)
        The forward input (only its shape and dtype are used).
    kernel_size, stride, padding, dilation, ceil_mode, count_include_pad, divisor_override
        As for :func:`avg_pool`.

    Returns
    -------
    ndarray, shape and dtype of ``x``
        ``grad / divisor`` of each window added (in output order) to each of its taps
        inside the input.

    Examples
    --------
    >>> x = np.zeros((1, 1, 3))
    >>> avg_pool_backward(np.array([[[2.0, 4.0]]]), x, (2,), (1,), ((0, 0),), (1,), False, True, None)
    array([[[1., 3., 2.]]])
    """
    x = np.asarray(x)
    _check_args(x, kernel_size, stride, padding, dilation)
    acc = _accumulation_dtype(x.dtype)
    grad_output = np.asarray(grad_output)
    spatial = x.shape[2:]
    out_shape = _output_shape(spatial, kernel_size, stride, padding, dilation, ceil_mode)
    if grad_output.shape != x.shape[:2] + out_shape:
        raise ValueError(f"grad_output has shape {grad_output.shape}; expected {x.shape[:2] + out_shape}")
    grad_x = np.zeros(x.shape, dtype=acc)
    everything = (slice(None), slice(None))
    for pos in itertools.product(*(range(o) for o in out_shape)):
        taps = window_taps(pos, kernel_size, stride, padding, dilation)
        divisor = _divisor(taps, spatial, padding, count_include_pad, divisor_override)
        if divisor == 0:
            continue  # no tap inside the input: nothing to receive the gradient
        share = grad_output[everything + pos].astype(acc) / acc.type(divisor)
        for tap in taps:
            if _inside(tap, spatial):
                grad_x[everything + tap] += share
    return grad_x.astype(x.dtype)


# ---------------------------------------------------------------------------------------
# every reducer, any number of spatial dims (numpool.reduce_window)


def _windows(spatial, kernel_size, stride, padding, dilation, ceil_mode):
    """``(output position, cells inside in row-major order, taps inside the padded input)``
    for every window, in row-major output order."""
    out_shape = _output_shape(spatial, kernel_size, stride, padding, dilation, ceil_mode)
    for pos in itertools.product(*(range(o) for o in out_shape)):
        taps = window_taps(pos, kernel_size, stride, padding, dilation)
        cells = [t for t in taps if _inside(t, spatial)]
        padded = 1
        for axis, (size, (lo, hi)) in enumerate(zip(spatial, padding)):
            padded *= sum(1 for p in sorted({t[axis] for t in taps}) if -lo <= p < size + hi)
        yield pos, cells, padded


def _isnan(v):
    return bool(v != v)


def _order(values):
    """Window positions sorted by value, NaN last, equal values in window order."""
    return sorted(range(len(values)), key=lambda i: (_isnan(values[i]), 0 if _isnan(values[i]) else values[i]))


def _extreme(values, larger, skip_nan):
    """Index of the first extreme (the last NaN wins unless NaN is skipped)."""
    best = None
    for i, v in enumerate(values):
        if skip_nan and _isnan(v):
            continue
        if best is None or (v > values[best] if larger else v < values[best]) or (not skip_nan and _isnan(v)):
            best = i
    return 0 if best is None else best


def _round_half_even(numerator, denominator):
    q, r = divmod(numerator, denominator)
    if 2 * r > denominator or (2 * r == denominator and q % 2 == 1):
        q += 1
    return q


def _result_dtype(x_dtype, reducer, dtype):
    if dtype is not None:
        return np.dtype(dtype)
    if reducer in ("max", "min", "nanmax", "nanmin", "median_low", "mode") or x_dtype.kind == "f":
        return x_dtype
    if reducer in ("sum", "nansum"):
        return np.dtype(np.uint64 if x_dtype.kind == "u" else np.int64)
    return np.dtype(np.float64)


def _reduce_one(values, padded, reducer, x_dtype, result, count_include_pad, divisor_override, norm_type):
    """One window's result, as a Python or NumPy scalar (``values`` are its cells inside)."""
    floating = x_dtype.kind == "f"
    acc = _accumulation_dtype(x_dtype) if floating else None
    n = len(values)
    if reducer in ("max", "min", "nanmax", "nanmin"):
        larger = reducer.endswith("max")
        if n == 0 and x_dtype == np.bool_:
            return not larger
        if n == 0 and floating:
            return -np.inf if larger else np.inf
        if n == 0:
            return np.iinfo(x_dtype).min if larger else np.iinfo(x_dtype).max
        return values[_extreme(values, larger, reducer.startswith("nan"))]
    if reducer in ("sum", "nansum", "mean", "nanmean"):
        kept = [v for v in values if not (reducer.startswith("nan") and _isnan(v))]
        if floating:
            total = acc.type(0)
            for v in kept:
                total = acc.type(total + acc.type(v))
        else:
            total = sum(int(v) for v in kept)
        if reducer in ("sum", "nansum"):
            return total
        if reducer == "nanmean" and not kept:
            return np.nan
        divisor = divisor_override or ((padded - n + len(kept)) if count_include_pad else len(kept))
        if floating:
            with np.errstate(invalid="ignore", divide="ignore"):
                return total / acc.type(divisor)
        if result.kind in "iu":
            return 0 if divisor == 0 else _round_half_even(total, divisor)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.float64(total) / np.float64(divisor)
    if reducer == "lp":
        p = float(norm_type)
        mags = [abs(acc.type(v)) for v in values]
        if p in (np.inf, -np.inf):
            return mags[_extreme(mags, p > 0, False)] if mags else -p
        total = acc.type(0)
        for m in mags:
            total = acc.type(total + m ** acc.type(p))
        return total ** acc.type(1.0 / p)
    if n == 0:
        return np.nan if result.kind == "f" else 0
    order = _order(values)
    nans = [i for i in order if _isnan(values[i])]
    if reducer == "mode":
        best, best_len, i = 0, 0, 0
        while i < n:
            j = i + 1
            while j < n and (values[order[j]] == values[order[i]] or (_isnan(values[order[j]]) and _isnan(values[order[i]]))):
                j += 1
            if j - i > best_len:
                best, best_len = i, j - i
            i = j
        return values[order[best]]
    if nans:
        return values[nans[0]]
    if reducer == "median_low":
        return values[order[(n - 1) // 2]]
    a, b = values[order[(n - 1) // 2]], values[order[n // 2]]
    if floating:
        return (acc.type(a) + acc.type(b)) / acc.type(2)
    if result.kind in "iu":
        return _round_half_even(int(a) + int(b), 2)
    return (np.float64(a) + np.float64(b)) / 2.0


def reduce_window(x, reducer, kernel_size, stride, padding, dilation, ceil_mode, count_include_pad=True,
                  divisor_override=None, norm_type=None, dtype=None):
    """``numpool.reduce_window`` of a channels-first batched array, one window at a time.

    ``x`` is ``(N, C, *spatial)`` with any number of spatial dims; window arguments are
    per-dim tuples and ``(lo, hi)`` pairs.  ``reducer`` is a name of
    ``numpool.reduce_window`` or a Python function of a 1-D array of the window's cells.
    Windows with no cell inside give max's ``-inf`` (min's ``inf``), 0 for sums, ``0 / D``
    for means, and NaN (0 for integer results) for the order statistics and functions.

    Examples
    --------
    >>> x = np.array([[[3, 1, 1, 2, 7, 7, 7, 2]]], dtype=np.uint8)
    >>> reduce_window(x, "mode", (4,), (4,), ((0, 0),), (1,), False)
    array([[[1, 7]]], dtype=uint8)
    """
    x = np.asarray(x)
    spatial = x.shape[2:]
    out_shape = _output_shape(spatial, kernel_size, stride, padding, dilation, ceil_mode)
    if callable(reducer):
        result = np.dtype(dtype) if dtype is not None else None
    else:
        result = _result_dtype(x.dtype, reducer, dtype)
    values_out = {}
    for pos, cells, padded in _windows(spatial, kernel_size, stride, padding, dilation, ceil_mode):
        for n, c in itertools.product(range(x.shape[0]), range(x.shape[1])):
            values = [x[(n, c) + cell] for cell in cells]
            if callable(reducer):
                v = reducer(np.array(values, dtype=x.dtype)) if values else np.nan
            else:
                v = _reduce_one(values, padded, reducer, x.dtype, result, count_include_pad, divisor_override,
                                norm_type)
            values_out[(n, c) + pos] = v
    if result is None:
        result = np.asarray(next(iter(values_out.values()))).dtype if values_out else np.dtype(np.float64)
    out = np.empty(x.shape[:2] + out_shape, dtype=result)
    with np.errstate(invalid="ignore", over="ignore"):
        for index, v in values_out.items():
            out[index] = v
    return out


def _shares(values, padded, reducer, g, ties, count_include_pad, divisor_override, norm_type, out_value, acc):
    """Each cell's share of one window's gradient ``g`` (a list as long as ``values``)."""
    n = len(values)
    shares = [acc.type(0)] * n
    if reducer in ("max", "min", "nanmax", "nanmin"):
        skip = reducer.startswith("nan")
        k = _extreme(values, reducer.endswith("max"), skip)
        m = values[k]
        if skip and _isnan(m):
            return shares
        if ties == "first":
            shares[k] = g
            return shares
        tied = [i for i, v in enumerate(values) if v == m or (_isnan(v) and _isnan(m))]
        share = g if ties == "all" else g / acc.type(len(tied))
        for i in tied:
            shares[i] = share
        return shares
    if reducer in ("sum", "nansum"):
        return [acc.type(0) if reducer == "nansum" and _isnan(v) else g for v in values]
    if reducer in ("mean", "nanmean"):
        kept = [not (reducer == "nanmean" and _isnan(v)) for v in values]
        m = sum(kept)
        if m == 0:
            return shares
        divisor = divisor_override or ((padded - n + m) if count_include_pad else m)
        share = g / acc.type(divisor)
        return [share if k else acc.type(0) for k in kept]
    if reducer == "lp":
        p = float(norm_type)
        mags = [abs(acc.type(v)) for v in values]
        signs = [np.sign(acc.type(v)) for v in values]
        if p in (np.inf, -np.inf):
            k = _extreme(mags, p > 0, False)
            shares[k] = g * signs[k]
            return shares
        if out_value == 0:
            return shares
        scale = g * acc.type(out_value) ** acc.type(1 - p)
        return [scale * (mag ** acc.type(p - 1) * s) for mag, s in zip(mags, signs)]
    order = _order(values)
    nans = [i for i in order if _isnan(values[i])]
    if nans:
        shares[nans[0]] = g
    elif reducer == "median_low":
        shares[order[(n - 1) // 2]] = g
    elif n % 2:
        shares[order[n // 2]] = g
    else:
        shares[order[n // 2 - 1]] = g * acc.type(0.5)
        shares[order[n // 2]] = g * acc.type(0.5)
    return shares


def reduce_window_backward(grad_output, x, reducer, kernel_size, stride, padding, dilation, ceil_mode,
                           count_include_pad=True, divisor_override=None, norm_type=None, ties="first"):
    """Gradient of :func:`reduce_window` (named reducers but ``mode``), one window at a time:
    each window's shares added to its cells in output order.

    Examples
    --------
    >>> x = np.array([[[1.0, 3.0, 3.0, 2.0]]])
    >>> reduce_window_backward(np.ones((1, 1, 1)), x, "max", (4,), (4,), ((0, 0),), (1,), False, ties="split")
    array([[[0. , 0.5, 0.5, 0. ]]])
    """
    x = np.asarray(x)
    grad_output = np.asarray(grad_output)
    spatial = x.shape[2:]
    acc = np.dtype(np.float32) if x.dtype == np.float16 else x.dtype
    forward = reduce_window(x, reducer, kernel_size, stride, padding, dilation, ceil_mode, count_include_pad,
                            divisor_override, norm_type) if reducer == "lp" else None
    grad_x = np.zeros(x.shape, dtype=acc)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        for pos, cells, padded in _windows(spatial, kernel_size, stride, padding, dilation, ceil_mode):
            if not cells:
                continue  # nothing inside the input to receive the gradient
            for n, c in itertools.product(range(x.shape[0]), range(x.shape[1])):
                values = [x[(n, c) + cell] for cell in cells]
                g = acc.type(grad_output[(n, c) + pos])
                out_value = forward[(n, c) + pos] if forward is not None else None
                shares = _shares(values, padded, reducer, g, ties, count_include_pad, divisor_override, norm_type,
                                 out_value, acc)
                for cell, share in zip(cells, shares):
                    grad_x[(n, c) + cell] += share
    return grad_x.astype(x.dtype)
