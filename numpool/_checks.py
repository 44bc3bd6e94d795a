"""Array checks and dtype policy shared by the public functions (no kernels here)."""

from __future__ import annotations

import numpy as np

from ._errors import DTypeError, ParameterError

# dtype kinds: b bool, i signed, u unsigned, f float.
_REAL_KINDS = "biuf"


def as_array(x, op, name="x", kinds=_REAL_KINDS):
    """``np.asarray(x)`` after checking that its dtype is one ``op`` supports."""
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


def check_shape(name, array, expected, op):
    if tuple(array.shape) != tuple(expected):
        raise ParameterError(
            f"`{name}` must have shape {tuple(expected)} (the forward output's) for {op}; got {tuple(array.shape)}."
        )


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
    return dtype.type(np.iinfo(dtype).min)
