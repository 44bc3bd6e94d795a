"""Running the N-D window engine (:mod:`numpool.kernels.windows`) on a validated call.

The public functions check every argument and pick the reducer; this module only lays
the arrays out for the drivers (``(P, S)`` channels-first, ``(N, S, C)`` channels-last,
spatial axes flattened, no lift to a fixed rank), allocates or borrows the result, runs
the driver and hands the result back in the user's layout and dtype.
"""

from __future__ import annotations

import functools

import numba
import numpy as np

from ._checks import kernel_dtype
from ._errors import ParameterError
from ._layout import channel_block
from ._plan import output_block, window_geometry
from .kernels import windows as kernels


def _flat(a, memory):
    """A canonical array -> the drivers' view ``(B, S, C)``: ``(N * C, S, 1)`` or ``(N, S, C)``."""
    if memory == "cf":  # explicit sizes: with N or C 0, -1 would have nothing to divide by
        return a.reshape(a.shape[0] * a.shape[1], int(np.prod(a.shape[2:])), 1)
    return a.reshape(a.shape[0], int(np.prod(a.shape[1:-1])), a.shape[-1])


def _canonical_shape(view, user_shape):
    """The shape :meth:`View.canonical` gives an array of ``user_shape`` (asked of a
    zero-stride stand-in, so that the layout's moves live in one place)."""
    return view.canonical(np.broadcast_to(np.empty((), np.uint8), tuple(user_shape))).shape


def kernel_input(view, x, dtype=None):
    """``x`` in the drivers' view, C-contiguous, in ``dtype`` (default: its kernel dtype)."""
    a = view.canonical(x)
    if x.dtype == np.bool_ and dtype in (None, np.dtype(np.uint8)):
        a = a.view(np.uint8)
    a = np.ascontiguousarray(a, dtype=kernel_dtype(x.dtype) if dtype is None else dtype)
    return _flat(a, view.memory)


def _target(view, shape, dtype, out):
    """``(result, kernel view)``: ``out`` itself where the driver can write into it, else a
    new array in the kernel's memory order (copied into ``out`` by :func:`_deliver`)."""
    if out is not None and out.dtype == dtype:
        c = view.canonical(out)
        if c.flags.c_contiguous:
            return out, _flat(c, view.memory)
    kernel = np.empty(_canonical_shape(view, shape), dtype=dtype)
    return view.from_canonical(kernel), _flat(kernel, view.memory)


def _deliver(result, dtype, out):
    """``result`` cast to the user's ``dtype`` (float16 and bool come back from float32 and
    uint8), written into ``out`` when one was given."""
    if out is not None:
        if result is not out:
            out[...] = result.view(np.bool_) if dtype == np.bool_ and result.dtype == np.uint8 else result
        return out
    if result.dtype == dtype:
        return result
    if dtype == np.bool_:
        return result.view(np.bool_)
    return result.astype(dtype, order="K")


def _params_array(include_pad, override, ties):
    params = np.zeros(3, dtype=np.float64)
    params[kernels.INCLUDE_PAD] = 1.0 if include_pad else 0.0
    params[kernels.OVERRIDE] = float(override or 0)
    params[kernels.TIES] = ties
    return params


def _accumulator(dtype):
    """The two-cell scratch the reducers sum in: int64 for bool and signed ints, uint64
    for unsigned, the kernel dtype for floats."""
    dtype = np.dtype(dtype)
    if dtype.kind == "u":
        return np.zeros(2, np.uint64)
    if dtype.kind in "bi":
        return np.zeros(2, np.int64)
    return np.zeros(2, kernel_dtype(dtype))


def forward(view, spec, x, code, result_dtype, fill, *, include_pad=True, override=0, out=None,
            empties=False, user=None):
    """Run reducer ``code`` (or the user's drivers ``user``) over every window of ``x``."""
    g = window_geometry(spec)
    # user functions see bool as bool (and may return it); the built-in reducers read it as uint8
    keep_bool = user is not None
    xk = kernel_input(view, x, np.dtype(np.bool_) if keep_bool and x.dtype == np.bool_ else None)
    kdtype = np.dtype(np.bool_) if keep_bool and result_dtype == np.bool_ else kernel_dtype(result_dtype)
    shape = view.with_spatial(x.shape, spec.out_spatial)
    result, outk = _target(view, shape, kdtype, out)
    params = _params_array(include_pad, override, kernels.TIES_FIRST)
    fillv = np.array([fill]).astype(kdtype)
    acc = _accumulator(x.dtype)
    block = output_block(xk.shape[0], outk.shape[1], numba.get_num_threads())
    driver = kernels.reduce_cells if user is None else user
    driver(code, xk, outk, g, params, acc, fillv, empties, block)
    return _deliver(result, result_dtype, out)


def forward_with_indices(view, spec, x, code, fill, out=None, indices_out=None):
    """The chosen cell's value and flat spatial index of every window (max, min, ...)."""
    g = window_geometry(spec)
    xk = kernel_input(view, x)
    shape = view.with_spatial(x.shape, spec.out_spatial)
    kdtype = kernel_dtype(x.dtype)
    result, outk = _target(view, shape, kdtype, out)
    idx, idxk = _target(view, shape, np.dtype(np.int64), indices_out)
    params = _params_array(True, 0, kernels.TIES_FIRST)
    fillv = np.array([fill]).astype(kdtype)
    block = output_block(xk.shape[0], outk.shape[1], numba.get_num_threads())
    kernels.choose_cells(code, xk, outk, idxk, g, params, fillv, block)
    return _deliver(result, x.dtype, out), _deliver(idx, np.dtype(np.int64), indices_out)


def backward(view, spec, x, grad_output, code, *, include_pad=True, override=0, ties=kernels.TIES_FIRST,
             out=None):
    """Gradient of reducer ``code`` with respect to ``x`` (``grad_output`` already checked)."""
    g = window_geometry(spec)
    xk = kernel_input(view, x)
    gdtype = kernel_dtype(x.dtype)
    gout = kernel_input(view, np.asarray(grad_output), gdtype)
    result, gxk = _target(view, x.shape, gdtype, out)
    gxk[...] = 0
    params = _params_array(include_pad, override, ties)
    acc = _accumulator(x.dtype)
    kernels.gradient_cells(code, xk, gout, gxk, g, params, acc, channel_block(xk.shape[0], xk.shape[2]))
    return _deliver(result, x.dtype, out)


@functools.lru_cache(maxsize=64)
def user_drivers(fn, dtype):
    """The engine's forward driver for a user function, with the dtype it returns for a
    window of ``dtype`` cells; a function Numba cannot compile is refused by name."""
    from numba.core.errors import NumbaError
    from numba.np.numpy_support import as_dtype, from_dtype

    name = getattr(fn, "__name__", repr(fn))
    dispatcher = fn if isinstance(fn, numba.core.dispatcher.Dispatcher) else numba.njit(nogil=True)(fn)
    arg = numba.types.Array(from_dtype(np.dtype(dtype)), 1, "C")
    try:
        dispatcher.compile((arg,))
        returned = dispatcher.overloads[(arg,)].signature.return_type
    except NumbaError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ParameterError(
            f"reducer function {name!r} cannot be compiled by Numba for a 1-D {np.dtype(dtype)} array of a "
            f"window's cells: {first}"
        ) from None
    try:
        result = as_dtype(returned)
    except Exception:
        result = None
    if result is None or result.kind not in "biuf" or isinstance(returned, numba.types.Array):
        raise ParameterError(
            f"reducer function {name!r} must return one number for a window; for a 1-D {np.dtype(dtype)} array "
            f"it returns {returned}."
        )
    return kernels.user_drivers(dispatcher), result
