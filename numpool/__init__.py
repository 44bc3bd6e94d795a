"""numpool: exact, fast pooling layers on NumPy arrays, compiled with Numba.

Every operation is bitwise equal (max) or equal to float rounding (averages) to the
framework convention it documents; see ``docs/semantics.md`` for every rule.
"""

from ._errors import DTypeError, NumpoolError, ParameterError
from .functional import (
    convert_indices,
    adaptive_avg_pool1d,
    adaptive_avg_pool1d_backward,
    adaptive_avg_pool2d,
    adaptive_avg_pool2d_backward,
    adaptive_avg_pool3d,
    adaptive_avg_pool3d_backward,
    adaptive_max_pool1d,
    adaptive_max_pool1d_backward,
    adaptive_max_pool2d,
    adaptive_max_pool2d_backward,
    adaptive_max_pool3d,
    adaptive_max_pool3d_backward,
    avg_pool1d,
    avg_pool1d_backward,
    avg_pool2d,
    avg_pool2d_backward,
    avg_pool3d,
    avg_pool3d_backward,
    max_pool1d,
    max_pool1d_backward,
    max_pool2d,
    max_pool2d_backward,
    max_pool3d,
    max_pool3d_backward,
    fractional_max_pool2d,
    fractional_max_pool2d_backward,
    fractional_max_pool3d,
    fractional_max_pool3d_backward,
    global_avg_pool,
    global_avg_pool_backward,
    global_max_pool,
    global_max_pool_backward,
    leaky_relu,
    leaky_relu_backward,
    lp_pool1d,
    lp_pool1d_backward,
    lp_pool2d,
    lp_pool2d_backward,
    lp_pool3d,
    lp_pool3d_backward,
    max_pool_with_argmax,
    relu,
    relu6,
    relu6_backward,
    relu_backward,
)
from .resample import interpolate, interpolate_backward
from .windows import (
    min_pool1d,
    min_pool1d_backward,
    min_pool2d,
    min_pool2d_backward,
    min_pool3d,
    min_pool3d_backward,
    reduce_window,
    reduce_window_backward,
)
from .unpool import (
    max_unpool1d,
    max_unpool1d_backward,
    max_unpool2d,
    max_unpool2d_backward,
    max_unpool3d,
    max_unpool3d_backward,
)

__version__ = "0.1.0"

# The Keras-style layers and the CNN stack load on first use: ``import numpool`` stays a
# NumPy-and-Numba import.
_LAZY = {"layers": ("layers", None), "nn": ("nn", None), "pool": ("layers", "pool"),
         "pool_backward": ("layers", "pool_backward")}


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'numpool' has no attribute {name!r}")
    import importlib

    module, attribute = _LAZY[name]
    value = importlib.import_module(f"numpool.{module}")
    return value if attribute is None else getattr(value, attribute)


def __dir__():
    return sorted(set(globals()) | set(_LAZY))

__all__ = [
    "DTypeError", "NumpoolError", "ParameterError",
    "avg_pool1d", "avg_pool1d_backward", "avg_pool2d", "avg_pool2d_backward", "avg_pool3d",
    "avg_pool3d_backward", "max_pool1d", "max_pool1d_backward", "max_pool2d", "max_pool2d_backward",
    "max_pool3d", "max_pool3d_backward", "max_pool_with_argmax", "relu", "relu_backward",
    "adaptive_avg_pool1d", "adaptive_avg_pool1d_backward", "adaptive_avg_pool2d", "adaptive_avg_pool2d_backward",
    "adaptive_avg_pool3d", "adaptive_avg_pool3d_backward", "adaptive_max_pool1d", "adaptive_max_pool1d_backward",
    "adaptive_max_pool2d", "adaptive_max_pool2d_backward", "adaptive_max_pool3d", "adaptive_max_pool3d_backward",
    "global_avg_pool", "global_avg_pool_backward", "global_max_pool", "global_max_pool_backward",
    "leaky_relu", "leaky_relu_backward", "relu6", "relu6_backward",
    "fractional_max_pool2d", "fractional_max_pool2d_backward", "fractional_max_pool3d",
    "fractional_max_pool3d_backward", "convert_indices",
    "max_unpool1d", "max_unpool1d_backward", "max_unpool2d", "max_unpool2d_backward",
    "max_unpool3d", "max_unpool3d_backward",
    "lp_pool1d", "lp_pool1d_backward", "lp_pool2d", "lp_pool2d_backward", "lp_pool3d", "lp_pool3d_backward",
    "interpolate", "interpolate_backward", "layers", "nn", "pool", "pool_backward",
    "reduce_window", "reduce_window_backward", "min_pool1d", "min_pool1d_backward", "min_pool2d",
    "min_pool2d_backward", "min_pool3d", "min_pool3d_backward",
]
