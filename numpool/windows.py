"""``reduce_window``: every window reduction, in any number of spatial dims.

One engine (:mod:`numpool.kernels.windows`) runs every reducer in any rank; for max,
sum, mean and lp in 1 to 3 dims, where numpool has kernels tuned for the window shapes of
convolutional networks, ``reduce_window`` calls those (the same functions ``max_pool*``,
``avg_pool*`` and ``lp_pool*`` are), and the tests pin each of them to the engine.
``min_pool*`` are thin forms.  Every rule is in ``docs/semantics.md``, section
"Window reductions".
"""

from __future__ import annotations

import numpy as np

from . import _engine, _params
from ._checks import (as_array, check_bool, check_grad_output, check_nonempty_spatial, check_out, check_result_size,
                      highest, lowest)
from ._errors import DTypeError, ParameterError
from ._layout import plan_view
from .kernels import windows as K

__all__ = ["REDUCERS", "TIES", "reduce_window", "reduce_window_backward",
           "min_pool1d", "min_pool2d", "min_pool3d", "min_pool1d_backward", "min_pool2d_backward",
           "min_pool3d_backward"]

REDUCERS = ("max", "min", "sum", "mean", "lp", "median", "median_low", "mode",
            "nanmax", "nanmin", "nansum", "nanmean")
TIES = ("first", "all", "split")
_TIE_CODES = {"first": K.TIES_FIRST, "all": K.TIES_ALL, "split": K.TIES_SPLIT}
_EXTREMES = ("max", "min", "nanmax", "nanmin")
_MEANS = ("mean", "nanmean")
# Reducers whose result is always one of the window's values: they keep the input dtype.
_KEEP_DTYPE = ("max", "min", "nanmax", "nanmin", "median_low", "mode")
_NO_GRADIENT = ("mode",)


def _spatial_rank(x, kernel_size, op):
    if isinstance(kernel_size, (str, bytes)):
        nd = None
    else:
        try:
            nd = len(kernel_size)
        except TypeError:
            nd = x.ndim - 2
    if nd is None or nd < 1:
        raise ParameterError(
            f"{op} needs at least one spatial dim: `kernel_size` a sequence with one int per spatial dim, or an int "
            f"with a batched input (N, C, *spatial); got kernel_size={kernel_size!r} for an input of shape {x.shape}."
        )
    return nd


def _check_ties(ties, op):
    if not isinstance(ties, str) or ties not in TIES:
        raise ParameterError(f"`ties` must be one of {TIES}; got ties={ties!r} for {op}.")


def tie_code(ties, indices, x, op):
    """The engine's code of a tie policy, or None for "first" (the max kernels' own rule);
    "all" and "split" need the values, not ``indices``, and "split" a float ``x``."""
    _check_ties(ties, op)
    if ties == "first":
        return None
    if indices is not None:
        raise ParameterError(f"`ties` must be 'first' when `indices` are given (they name one cell per window) "
                             f"for {op}; got ties={ties!r}.")
    if ties == "split" and x.dtype.kind != "f":
        raise DTypeError(f"{op} with ties='split' gives fractional gradients: pass a float `x`, not {x.dtype}.")
    return _TIE_CODES[ties]


def _check_reducer(reducer, op):
    if callable(reducer) and not isinstance(reducer, str):
        return reducer
    if isinstance(reducer, str) and reducer in REDUCERS:
        return reducer
    raise ParameterError(
        f"`reducer` must be one of {REDUCERS} or a Numba-compilable function of a 1-D array; "
        f"got reducer={reducer!r} for {op}."
    )


class _Window:
    """One validated ``reduce_window`` call: the array, its view, the spec and the options."""

    def __init__(self, op, x, reducer, kernel_size, stride, padding, dilation, ceil_mode, count_include_pad,
                 divisor_override, norm_type, ties, dtype, layout, backward=False, nd=None):
        """``nd`` fixes the spatial rank (the 1-, 2- and 3-D names); else it is read from
        ``kernel_size`` and ``x``."""
        self.op = op
        self.reducer = _check_reducer(reducer, op)
        self.user = not isinstance(self.reducer, str)
        self.x = as_array(x, op, kinds="iuf" if backward else "biuf")
        self.nd = _spatial_rank(self.x, kernel_size, op) if nd is None else nd
        self.layout = _params.normalize_layout(layout, op)
        self.view = plan_view(self.x, self.nd, self.layout, op)
        spatial = self.view.spatial_shape(self.x.shape)
        check_nonempty_spatial(spatial, self.x.shape, op)
        self.ceil_mode = check_bool("ceil_mode", ceil_mode, op)
        self.spec = _params.pool_spec(op, spatial, kernel_size, stride, padding, dilation, self.ceil_mode,
                                      self.x.shape)
        self.args = (kernel_size, stride, padding, dilation, self.ceil_mode)
        self.include_pad = check_bool("count_include_pad", count_include_pad, op)
        name = self.reducer if not self.user else "a user function"
        if divisor_override is not None and self.reducer not in _MEANS:
            raise ParameterError(f"`divisor_override` applies to reducer 'mean' and 'nanmean' only; got "
                                 f"divisor_override={divisor_override!r} with reducer {name!r} for {op}.")
        self.override = _params.divisor_override(divisor_override, op)
        if norm_type is not None and self.reducer != "lp":
            raise ParameterError(f"`norm_type` applies to reducer 'lp' only; got norm_type={norm_type!r} with "
                                 f"reducer {name!r} for {op}.")
        if self.reducer == "lp" and norm_type is None:
            raise ParameterError(f"reducer 'lp' needs `norm_type` (the p of the p-norm) for {op}.")
        self.norm_type = norm_type
        _check_ties(ties, op)
        if ties != "first" and self.reducer not in _EXTREMES:
            raise ParameterError(f"`ties` applies to reducers {_EXTREMES} only; got ties={ties!r} with reducer "
                                 f"{name!r} for {op}.")
        self.ties = ties
        self.dtype = self._result_dtype(dtype)
        self.out_shape = self.view.with_spatial(self.x.shape, self.spec.out_spatial)
        check_result_size(self.out_shape, 8, op, self.x.shape)

    def _result_dtype(self, dtype):
        """The result's dtype: see docs/semantics.md, "Window reductions", dtypes."""
        x, r, op = self.x.dtype, self.reducer, self.op
        floating = x.kind == "f"
        if self.user:
            natural = None  # what the function returns; known once it is compiled
        elif r in _KEEP_DTYPE or (floating and r != "lp"):
            natural = x
        elif r in ("sum", "nansum"):
            natural = np.dtype(np.uint64 if x.kind == "u" else np.int64)
        elif r == "lp":
            if not floating:
                raise DTypeError(f"reducer 'lp' needs a float16, float32 or float64 `x` for {op}; got dtype {x} "
                                 f"(cast it to a float dtype first).")
            natural = x
        else:  # mean, median and nanmean of integers and bool
            natural = np.dtype(np.float64)
        if dtype is None:
            return natural
        try:
            wanted = np.dtype(dtype)
        except TypeError:
            raise ParameterError(f"`dtype` must be None or a NumPy dtype; got dtype={dtype!r} for {op}.") from None
        allowed = {natural} if natural is not None else set()
        if not self.user and r in ("mean", "nanmean", "median") and x.kind in "iu":
            allowed.add(x)  # the exact mean, rounded half to even
        if self.user and wanted.kind in "biuf" and wanted.itemsize in (1, 2, 4, 8):
            allowed.add(wanted)
        if wanted not in allowed:
            words = ", ".join(sorted(str(a) for a in allowed))
            raise ParameterError(f"`dtype` for reducer {self.reducer!r} on a {x} input must be None or {words}; "
                                 f"got dtype={dtype!r} for {op}.")
        return wanted

    @property
    def fast(self):
        """Whether one of the tuned 1- to 3-D kernels computes this call (floats only, but
        max of any dtype)."""
        if self.user or self.nd > 3:
            return False
        if self.reducer == "max":
            return True
        return self.reducer in ("sum", "mean", "lp") and self.x.dtype.kind == "f" and self.dtype == self.x.dtype

    def code(self):
        r, kind = self.reducer, self.x.dtype.kind
        if kind != "f" and r.startswith("nan"):
            r = r[3:]  # integers have no NaN
        if r == "mean":
            return K.MEAN if kind == "f" else K.MEAN_I2I if self.dtype.kind in "iu" else K.MEAN_I2F
        if r == "median":
            return K.MEDIAN if kind == "f" else K.MEDIAN_I2I if self.dtype.kind in "iu" else K.MEDIAN_I2F
        return {"max": K.MAX, "min": K.MIN, "nanmax": K.NANMAX, "nanmin": K.NANMIN, "sum": K.SUM,
                "nansum": K.NANSUM, "nanmean": K.NANMEAN, "median_low": K.MEDIAN_LOW, "mode": K.MODE}[r]

    def fill(self, dtype):
        """The value of a window with no cell inside the input (docs/semantics.md, section 3)."""
        r = self.reducer
        if r in ("max", "nanmax"):
            return lowest(dtype)
        if r in ("min", "nanmin"):
            return highest(dtype)
        if r in ("sum", "nansum"):
            return 0
        return np.nan if np.dtype(dtype).kind == "f" else 0


def _fast_forward(w):
    from . import functional as F

    args = w.args
    if w.reducer == "max":
        return F._max_forward(w.nd, w.x, *args, False, w.layout)
    if w.reducer == "lp":
        return F._lp_forward(w.nd, w.x, w.norm_type, *args, False, w.layout)
    if w.reducer == "sum":
        return F._avg_forward(w.nd, w.x, *args, True, 1, w.layout)
    return F._avg_forward(w.nd, w.x, *args, w.include_pad, w.override or None, w.layout)


def _fast_backward(w, grad_output):
    from . import functional as F

    args = w.args
    if w.reducer == "max":
        return F._max_backward(w.nd, grad_output, w.x, *args, False, w.layout, None)
    if w.reducer == "lp":
        return F._lp_backward(w.nd, grad_output, w.x, w.norm_type, *args, False, w.layout)
    if w.reducer == "sum":
        return F._avg_backward(w.nd, grad_output, w.x, *args, True, 1, w.layout)
    return F._avg_backward(w.nd, grad_output, w.x, *args, w.include_pad, w.override or None, w.layout)


def reduce_window(x, reducer, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                  count_include_pad=True, divisor_override=None, norm_type=None, ties="first", dtype=None,
                  layout="channels_first", out=None):
    """Reduce every window of ``x`` with ``reducer``, in any number of spatial dims.

    The windows are those of ``max_pool*`` (PyTorch's geometry: ``kernel_size``, ``stride``,
    ``padding``, ``dilation``, ``ceil_mode``), and padding cells are never among a window's
    values.

    Parameters
    ----------
    x : ndarray, (N, C, *spatial) or (C, *spatial); (N, *spatial, C) or (*spatial, C) channels-last
        bool, integer or float.  The number of spatial dims is ``len(kernel_size)`` when it
        is a sequence, else ``x.ndim - 2``; any number from 1 up.
    reducer : str or function
        ``"max"``, ``"min"``, ``"sum"``, ``"mean"`` (average pooling's divisor rules),
        ``"lp"`` (with ``norm_type``: ``(sum |x| ** p) ** (1 / p)``), ``"median"`` (NumPy's:
        the mean of the two middle values for an even count), ``"median_low"`` (the lower
        middle value), ``"mode"`` (the most frequent value, ties to the smallest),
        ``"nanmax"``, ``"nanmin"``, ``"nansum"``, ``"nanmean"`` (NaN cells skipped), or a
        Numba-compilable function of a 1-D array of a window's cells that returns a number.
    kernel_size, stride, padding, dilation, ceil_mode
        As for :func:`numpool.max_pool2d`, with one entry per spatial dim; ``padding`` also
        takes ``"same"``, ``"valid"`` and ``(before, after)`` pairs.
    count_include_pad, divisor_override
        The mean's divisor (as :func:`numpool.avg_pool2d`); ``"mean"`` and ``"nanmean"`` only.
    norm_type : float, optional
        ``p`` of ``"lp"`` (> 0, ``inf`` or ``-inf``).
    ties : {"first", "all", "split"}
        How :func:`reduce_window_backward` of max and min passes a gradient to tied cells;
        the forward result does not depend on it.
    dtype : dtype, optional
        The result's dtype where there is a choice: an integer input's own dtype for
        ``"mean"``, ``"nanmean"`` and ``"median"`` gives the exact mean rounded half to even
        (default float64); any number dtype for a user function (default: what it returns).
    layout : {"channels_first", "channels_last"}
    out : ndarray, optional
        Written in place and returned: exactly the result's shape and dtype, writable, and
        sharing no memory with ``x``.

    Returns
    -------
    ndarray
        max, min, median_low, mode and the NaN forms keep ``x``'s dtype; sums of integers
        are int64 (uint64 unsigned); means and medians of integers float64.

    Examples
    --------
    >>> import numpy as np, numpool
    >>> x = np.array([[[3, 1, 1, 2, 7, 7, 7, 2]]], dtype=np.uint8)
    >>> numpool.reduce_window(x, "mode", 4)
    array([[[1, 7]]], dtype=uint8)
    >>> numpool.reduce_window(x, "median", 4), numpool.reduce_window(x, "mean", 4, dtype=np.uint8)
    (array([[[1.5, 7. ]]]), array([[[2, 6]]], dtype=uint8))
    >>> v = np.arange(16.0).reshape(1, 1, 2, 2, 2, 2)          # a 4-D window
    >>> numpool.reduce_window(v, "sum", (2, 2, 2, 2))
    array([[[[[[120.]]]]]])
    """
    op = "reduce_window"
    w = _Window(op, x, reducer, kernel_size, stride, padding, dilation, ceil_mode, count_include_pad,
                divisor_override, norm_type, ties, dtype, layout)
    if w.user:
        kernel_dtype = np.dtype(np.bool_) if w.x.dtype == np.bool_ else _engine.kernel_dtype(w.x.dtype)
        drivers, returned = _engine.user_drivers(w.reducer, kernel_dtype)
        result = w.dtype or returned
        check_out(out, w.out_shape, result, (w.x,), op)
        return _engine.forward(w.view, w.spec, w.x, 0, result, w.fill(result), out=out, user=drivers)
    check_out(out, w.out_shape, w.dtype, (w.x,), op)
    if w.fast:
        return _into(_fast_forward(w), out)
    if w.reducer == "lp":
        return _lp(w, out)
    return _engine_forward(w, out)


def _engine_forward(w, out=None):
    """A named reducer (not lp) through the N-D engine, whatever the rank (the tests pin the
    tuned kernels to it)."""
    return _engine.forward(w.view, w.spec, w.x, w.code(), w.dtype, w.fill(w.dtype), include_pad=w.include_pad,
                           override=w.override, out=out, empties=w.reducer in _MEANS)


def _engine_backward(w, g, out=None):
    return _engine.backward(w.view, w.spec, w.x, g, w.code(), include_pad=w.include_pad, override=w.override,
                            ties=_TIE_CODES[w.ties], out=out)


def _lp(w, out):
    """The p-norm of each window from the engine's sum (or max / min of ``|x|`` for p = +-inf)."""
    p = _lp_order(w.norm_type, w.op)
    acc = _engine.kernel_dtype(w.x.dtype)
    a = np.abs(w.x.astype(acc))
    if p in (np.inf, -np.inf):
        code = K.MAX if p > 0 else K.MIN
        total = _engine.forward(w.view, w.spec, a, code, acc, lowest(acc) if p > 0 else highest(acc))
        return _deliver_lp(total, w, out)
    total = _engine.forward(w.view, w.spec, a ** acc.type(p), K.SUM, acc, 0)
    return _deliver_lp(total ** acc.type(1.0 / p), w, out)


def _deliver_lp(total, w, out):
    return _into(total.astype(w.dtype, copy=False), out)


def _into(result, out):
    """``result``, or ``out`` holding it (the tuned kernels allocate their own results)."""
    if out is None:
        return result
    out[...] = result
    return out


def _lp_order(norm_type, op):
    from .functional import _norm_type

    return _norm_type(norm_type, op)


def reduce_window_backward(grad_output, x, reducer, kernel_size, stride=None, padding=0, dilation=1,
                           ceil_mode=False, count_include_pad=True, divisor_override=None, norm_type=None,
                           ties="first", dtype=None, layout="channels_first", out=None):
    """Gradient of :func:`reduce_window` with respect to ``x``.

    Each window passes ``grad_output`` to its cells inside the input: max and min to the
    chosen cell (``ties="first"``), to every tied cell (``"all"``) or an equal share to each
    (``"split"``); sum to every cell; mean ``g / divisor`` to every cell; median to the middle
    cell (half to each of an even count's two middle cells); median_low to the lower middle
    cell; the NaN forms as their plain forms over the non-NaN cells (NaN cells get 0); lp
    ``g * out ** (1 - p) * |x| ** (p - 1) * sign(x)``.  ``mode`` and user functions have no
    gradient.  Contributions are summed in output order; the result has ``x``'s shape and
    dtype (float16 computed in float32).

    Examples
    --------
    >>> import numpy as np, numpool
    >>> x = np.array([[[1.0, 3.0, 3.0, 2.0]]])
    >>> g = np.ones((1, 1, 1))
    >>> [numpool.reduce_window_backward(g, x, "max", 4, ties=t)[0, 0].tolist() for t in ("first", "all", "split")]
    [[0.0, 1.0, 0.0, 0.0], [0.0, 1.0, 1.0, 0.0], [0.0, 0.5, 0.5, 0.0]]
    >>> numpool.reduce_window_backward(g, x, "median", 4)[0, 0]
    array([0. , 0.5, 0. , 0.5])
    """
    w = _Window("reduce_window_backward", x, reducer, kernel_size, stride, padding, dilation, ceil_mode,
                count_include_pad, divisor_override, norm_type, ties, dtype, layout, backward=True)
    return _backward(w, grad_output, out)


def _backward(w, grad_output, out):
    op = w.op
    name = w.reducer if not w.user else getattr(w.reducer, "__name__", repr(w.reducer))
    if w.user or w.reducer in _NO_GRADIENT:
        raise ParameterError(f"reducer {name!r} has no gradient ({op} covers max, min, sum, mean, lp, median, "
                             f"median_low and the NaN forms).")
    if w.x.dtype.kind != "f" and w.reducer in ("mean", "nanmean", "median", "lp"):
        raise DTypeError(f"{op} with reducer {w.reducer!r} gives fractional gradients: pass a float `x`, "
                         f"not {w.x.dtype}.")
    tie_code(w.ties, None, w.x, op)
    g = check_grad_output(grad_output, w.x, w.out_shape, op)
    check_out(out, w.x.shape, w.x.dtype, (w.x, g), op)
    if w.fast and w.ties == "first":
        result = _fast_backward(w, g)
    elif w.reducer == "lp":
        result = _lp_backward(w, g)
    else:
        return _engine_backward(w, g, out)
    return _into(result, out)


def _lp_backward(w, g):
    p = _lp_order(w.norm_type, w.op)
    acc = _engine.kernel_dtype(w.x.dtype)
    base = w.x.astype(acc)
    sign = np.sign(base)
    a = np.abs(base)
    if p in (np.inf, -np.inf):
        code = K.MAX if p > 0 else K.MIN
        return (_engine.backward(w.view, w.spec, a, g, code) * sign).astype(w.x.dtype, copy=False)
    out = _lp(w, None).astype(acc)
    g = g.astype(acc)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(out != 0, g * out ** acc.type(1 - p), acc.type(0))
    spread = _engine.backward(w.view, w.spec, a, scale, K.SUM)
    return (spread * (a ** acc.type(p - 1) * sign)).astype(w.x.dtype, copy=False)


# ---------------------------------------------------------------------------------------
# min pooling: max pooling's arguments


def _min_window(op, nd, x, kernel_size, stride, padding, dilation, ceil_mode, layout, ties="first",
                backward=False):
    return _Window(op, x, "min", kernel_size, stride, padding, dilation, ceil_mode, True, None, None, ties, None,
                   layout, backward=backward, nd=nd)


def _min_forward(nd, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices, layout, out):
    op = f"min_pool{nd}d"
    w = _min_window(op, nd, x, kernel_size, stride, padding, dilation, ceil_mode, layout)
    fill = highest(w.x.dtype)
    if not check_bool("return_indices", return_indices, op):
        check_out(out, w.out_shape, w.x.dtype, (w.x,), op)
        return _engine.forward(w.view, w.spec, w.x, K.MIN, w.x.dtype, fill, out=out)
    if out is not None and not (isinstance(out, tuple) and len(out) == 2):
        raise ParameterError(f"`out` must be a pair (values, indices) with return_indices=True for {op}; "
                             f"got a {type(out).__name__}.")
    values, indices = out if out is not None else (None, None)
    check_out(values, w.out_shape, w.x.dtype, (w.x,), op, name="out[0]")
    check_out(indices, w.out_shape, np.dtype(np.int64), (w.x,), op, name="out[1]")
    return _engine.forward_with_indices(w.view, w.spec, w.x, K.MIN, fill, out=values, indices_out=indices)


def _min_backward(nd, grad_output, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices, layout,
                  indices, ties, out):
    op = f"min_pool{nd}d_backward"
    check_bool("return_indices", return_indices, op)
    if indices is None:
        w = _min_window(op, nd, x, kernel_size, stride, padding, dilation, ceil_mode, layout, ties, backward=True)
        return _backward(w, grad_output, out)
    from .functional import _run_max_backward, _window_call

    # the forward's indices: max pooling's scatter, whose call checks the same arguments
    call = _window_call(op, nd, x, kernel_size, stride, padding, dilation, ceil_mode, layout, "iuf")
    tie_code(ties, indices, call.x, op)
    check_out(out, call.x.shape, call.x.dtype, (call.x, grad_output, indices), op)
    result = _run_max_backward(call, grad_output, indices)
    return _into(result, out)


def _make_min(nd):
    def forward(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False,
                layout="channels_first", out=None):
        return _min_forward(nd, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices, layout, out)

    def backward(grad_output, x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                 return_indices=False, layout="channels_first", indices=None, ties="first", out=None):
        return _min_backward(nd, grad_output, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
                             layout, indices, ties, out)

    name = f"min_pool{nd}d"
    forward.__name__ = forward.__qualname__ = name
    backward.__name__ = backward.__qualname__ = name + "_backward"
    forward.__doc__ = f"""{nd}-D min pooling: :func:`numpool.max_pool{nd}d`'s arguments and rules with the
    order reversed: ``reduce_window(x, "min", ...)``.

    A tap replaces the running minimum when it is smaller or NaN (ties keep the first
    tap, NaN propagates); a window wholly in padding gives ``inf`` (the dtype's maximum
    for integers, ``True`` for bool) and index ``-1``.  ``return_indices=True`` returns the
    argmin in PyTorch's index format; then ``out`` is a pair ``(values, indices)``.
    """
    backward.__doc__ = f"""Gradient of :func:`{name}`: each output gradient to its window's argmin
    (``ties="first"``; ``"all"`` and ``"split"`` as :func:`numpool.reduce_window_backward`),
    or to ``indices`` from the forward call."""
    return forward, backward


min_pool1d, min_pool1d_backward = _make_min(1)
min_pool2d, min_pool2d_backward = _make_min(2)
min_pool3d, min_pool3d_backward = _make_min(3)
