"""Array checks and dtype policy shared by the public functions (no kernels here)."""

from __future__ import annotations

import os

import numpy as np

from ._errors import DTypeError, ParameterError

# dtype kinds: b bool, i signed, u unsigned, f float.
_REAL_KINDS = "biuf"


def as_array(x, op, name="x", kinds=_REAL_KINDS):
    """``np.asarray(x)`` after checking that its dtype is one ``op`` supports."""
    if isinstance(x, np.ma.MaskedArray):
        raise DTypeError(
            f"{op} does not take masked arrays for `{name}` (the mask would be ignored); fill the masked cells "
            f"(`{name}.filled(np.nan)` with a NaN-skipping reducer) or pass `{name}.data`."
        )
    if isinstance(x, np.matrix):
        raise DTypeError(f"{op} does not take np.matrix for `{name}`; pass np.asarray({name}).")
    if isinstance(x, np.ndarray):
        a = x
    else:
        try:
            a = np.asarray(x)
        except Exception as exc:  # ragged lists and the like
            raise DTypeError(f"`{name}` must be array-like for {op}; could not convert it: {exc}") from None
    if a.dtype.kind not in kinds:
        allowed = {
            "b": "bool",
            "i": "signed integers",
            "u": "unsigned integers",
            "f": "float16/float32/float64",
        }
        words = ", ".join(allowed[k] for k in kinds)
        raise DTypeError(f"{op} does not support dtype {a.dtype} for `{name}`; supported: {words}.")
    if a.dtype.kind == "f" and a.dtype.itemsize not in (2, 4, 8):
        raise DTypeError(f"{op} does not support dtype {a.dtype} for `{name}`; use float16, float32 or float64.")
    return a


def check_bool(name, value, op):
    if not isinstance(value, (bool, np.bool_)):
        raise ParameterError(f"`{name}` must be True or False; got {name}={value!r} for {op}.")
    return bool(value)


def check_nonempty_spatial(spatial, shape, op):
    if any(s < 1 for s in spatial):
        raise ParameterError(f"{op} needs every spatial dimension >= 1; got an input of shape {tuple(shape)}.")


def _physical_memory():
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # not a POSIX system: the address space's bound
        return 2**62


def check_result_size(shape, itemsize, op, input_shape):
    """Refuse, before anything is allocated, a result larger than this machine's memory
    (huge padding, or an ``output_size`` far larger than the input, asks for one)."""
    cells = 1
    for n in shape:
        cells *= int(n)
    need = cells * int(itemsize)
    if need > _physical_memory():
        raise ParameterError(
            f"the result of {op} on input of shape {tuple(input_shape)} would have shape {tuple(shape)}: "
            f"{need / 2**30:.3g} GiB, more than this machine's {_physical_memory() / 2**30:.3g} GiB of memory."
        )


def check_shape(name, array, expected, op):
    if tuple(array.shape) != tuple(expected):
        raise ParameterError(
            f"`{name}` must have shape {tuple(expected)} (the forward output's) for {op}; got {tuple(array.shape)}."
        )


def check_grad_output(grad_output, x, expected_shape, op):
    """``grad_output`` as an array of the forward result's shape, with a dtype ``x``'s gradient
    can take (an integer ``x`` would truncate a float gradient)."""
    g = as_array(grad_output, op, name="grad_output", kinds="iuf")
    check_shape("grad_output", g, expected_shape, op)
    if x.dtype.kind in "iu" and g.dtype.kind == "f":
        raise DTypeError(
            f"`grad_output` of dtype {g.dtype} would be truncated to `x`'s integer dtype {x.dtype} "
            f"for {op}; pass an integer `grad_output` or a float `x`."
        )
    return g


def kernel_dtype(dtype):
    """The dtype a kernel runs in: native byte order; float16 widens to float32, bool is read as uint8."""
    dtype = np.dtype(dtype).newbyteorder("=")
    if dtype == np.float16:
        return np.dtype(np.float32)
    if dtype == np.bool_:
        return np.dtype(np.uint8)
    return dtype


def lowest(dtype):
    """The identity of ``max`` for a dtype: -inf for floats, the minimum for integers."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return dtype.type(-np.inf)
    if dtype == np.bool_:
        return np.False_
    return dtype.type(np.iinfo(dtype).min)


def highest(dtype):
    """The identity of ``min`` for a dtype: inf for floats, the maximum for integers."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return dtype.type(np.inf)
    if dtype == np.bool_:
        return np.True_
    return dtype.type(np.iinfo(dtype).max)


def check_out(out, shape, dtype, inputs, op, name="out"):
    """Check an ``out=`` array: an ndarray of exactly ``shape`` and ``dtype``, writable, and
    sharing no memory with any of ``inputs`` (None passes)."""
    if out is None:
        return
    if not isinstance(out, np.ndarray) or isinstance(out, (np.ma.MaskedArray, np.matrix)):
        raise ParameterError(f"`{name}` must be a NumPy array for {op}; got {type(out).__name__}.")
    if out.shape != tuple(shape):
        raise ParameterError(f"`{name}` must have the result's shape {tuple(shape)} for {op}; got {out.shape}.")
    if out.dtype != np.dtype(dtype):
        raise DTypeError(f"`{name}` must have the result's dtype {np.dtype(dtype)} for {op}; got {out.dtype}.")
    if not out.flags.writeable:
        raise ParameterError(f"`{name}` is read-only for {op}; pass a writable array.")
    for i, a in enumerate(inputs):
        if isinstance(a, np.ndarray) and np.shares_memory(out, a):
            raise ParameterError(f"`{name}` shares memory with an input of {op}; pass a separate array "
                                 f"(the result would overwrite cells still to be read).")
