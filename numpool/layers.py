"""Keras-style layers on NumPy arrays, and TensorFlow's ``tf.nn.pool``.

Every pooling, upsampling and ReLU layer is a thin wrapper over a function of
``numpool.functional`` / ``numpool.resample`` and its ``*_backward``: the layer holds the
arguments, remembers its last input and calls the same compiled kernels.  ``Dense`` and
``Conv2D`` are the two layers with parameters; ``Conv2D`` is im2col plus one matrix product.

The layer protocol (what ``numpool.nn`` builds on):

- ``build(input_shape)`` creates ``params`` (called on the first forward; ``input_shape``
  includes the batch dim, which may be None);
- ``forward(x, training=False)`` (also ``layer(x)``) returns the output and remembers what
  ``backward`` needs;
- ``backward(grad_output)`` returns the gradient with respect to the last forward's input and
  fills ``grads`` (same keys as ``params``; ``{}`` for parameter-free layers);
- ``params`` is a dict name -> ndarray that optimisers update in place;
- ``compute_output_shape``, ``get_config`` / ``from_config``, ``count_params``, ``repr``.

Defaults are Keras' (``data_format="channels_last"``, ``strides=None`` meaning
``pool_size``), with two documented additions: ``AveragePooling*D`` accepts a default
``pool_size`` of 2 as Keras 2 did (Keras 3 requires it), and ``Conv2D`` allows strides
greater than 1 together with dilation (Keras forbids it; PyTorch allows it).
"""

from __future__ import annotations

import itertools
import re

import numpy as np

from . import _params
from ._errors import DTypeError, ParameterError
from . import functional as F
from .resample import interpolate, interpolate_backward

__all__ = [
    "Layer", "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "MaxPool1D", "MaxPool2D", "MaxPool3D",
    "AveragePooling1D", "AveragePooling2D", "AveragePooling3D", "AvgPool1D", "AvgPool2D", "AvgPool3D",
    "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D",
    "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D",
    "UpSampling1D", "UpSampling2D", "UpSampling3D", "ReLU", "Flatten", "Dense", "Conv2D", "pool",
]

_DATA_FORMATS = ("channels_last", "channels_first")
_NAME_COUNTS = {}


def _auto_name(cls):
    base = re.sub(r"(?<=[a-z])(?=[A-Z])", "_", cls.__name__).lower()
    count = _NAME_COUNTS.get(base, 0)
    _NAME_COUNTS[base] = count + 1
    return base if count == 0 else f"{base}_{count}"


def _choice(name, value, choices, op):
    if isinstance(value, str) and value.lower() in choices:
        return value.lower()
    raise ParameterError(f"`{name}` must be one of {choices}; got {name}={value!r} for {op}.")


def _check_rank(x, rank, op, what):
    a = np.asarray(x)
    if a.ndim != rank:
        raise ParameterError(f"{op} expects a batched input of rank {rank}, {what}; got an array of shape {a.shape}.")
    return a


class Layer:
    """Base class: the protocol described in this module's docstring."""

    #: names of the constructor arguments that ``get_config`` returns (besides ``name``)
    _config_keys = ()

    def __init__(self, name=None):
        if name is not None and not isinstance(name, str):
            raise ParameterError(f"`name` must be a string or None; got name={name!r} for {type(self).__name__}.")
        self.name = name if name is not None else _auto_name(type(self))
        self.params = {}
        self.grads = {}
        self.built = False
        self._cache = None

    # -- protocol -------------------------------------------------------------------
    def build(self, input_shape):
        self.built = True

    def __call__(self, x, training=False):
        return self.forward(x, training=training)

    def forward(self, x, training=False):
        if not self.built:
            self.build(np.shape(x))
        return self._forward(x)

    def backward(self, grad_output):
        if self._cache is None:
            raise ParameterError(f"{type(self).__name__}.backward called before forward.")
        return self._backward(grad_output)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = {"name": self.name}
        config.update({key: _jsonable(getattr(self, key)) for key in self._config_keys})
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def count_params(self):
        return int(sum(p.size for p in self.params.values()))

    def get_weights(self):
        return [p for p in self.params.values()]

    def set_weights(self, weights):
        if len(weights) != len(self.params):
            raise ParameterError(f"{self.name} has {len(self.params)} weights; got {len(weights)}.")
        for (key, p), w in zip(self.params.items(), weights):
            w = np.asarray(w)
            if w.shape != p.shape:
                raise ParameterError(f"weight `{key}` of {self.name} has shape {p.shape}; got shape {w.shape}.")
            p[...] = w

    def __repr__(self):
        args = ", ".join(f"{key}={getattr(self, key)!r}" for key in self._config_keys)
        return f"{type(self).__name__}({args})"


def _jsonable(value):
    return list(value) if isinstance(value, tuple) else value


def _spatial_axes(nd, data_format):
    return tuple(range(1, 1 + nd)) if data_format == "channels_last" else tuple(range(2, 2 + nd))


def _window_out_shape(input_shape, nd, data_format, kernel, stride, dilation, padding, op):
    """Output shape of a windowed op (pooling or convolution) on ``input_shape``; None stays None."""
    shape = list(input_shape)
    for i, axis in enumerate(_spatial_axes(nd, data_format)):
        size = shape[axis]
        if size is None:
            continue
        (lo, hi), = _params.padding_pairs(padding, 1, (size,), kernel[i:i + 1], stride[i:i + 1],
                                          dilation[i:i + 1], op)
        shape[axis] = _params.out_size(size, kernel[i], stride[i], dilation[i], lo, hi, False)
    return tuple(shape)


# ---------------------------------------------------------------------------------------
# pooling


class _Pooling(Layer):
    """``MaxPooling{nd}D`` / ``AveragePooling{nd}D`` over ``numpool.{max,avg}_pool{nd}d``."""

    _config_keys = ("pool_size", "strides", "padding", "data_format")
    nd = 2
    kind = "max"

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format="channels_last", name=None):
        op = type(self).__name__
        self.pool_size = _params.int_tuple("pool_size", pool_size, self.nd, op, 1)
        self.strides = self.pool_size if strides is None else _params.int_tuple("strides", strides, self.nd, op, 1)
        self.padding = _choice("padding", padding, ("valid", "same"), op)
        self.data_format = _choice("data_format", data_format, _DATA_FORMATS, op)
        super().__init__(name)
        fn = f"{self.kind}_pool{self.nd}d"
        self._fn, self._fn_backward = getattr(F, fn), getattr(F, fn + "_backward")
        # TF's SAME average divides by the cells inside the input (tf.nn.avg_pool).
        self._extra = {"count_include_pad": False} if self.kind == "avg" else {}

    def _args(self):
        return dict(stride=self.strides, padding=self.padding, layout=self.data_format, **self._extra)

    def _forward(self, x):
        x = _check_rank(x, self.nd + 2, type(self).__name__, f"(batch, {self.nd} spatial dims, channels)")
        self._cache = x
        return self._fn(x, self.pool_size, **self._args())

    def _backward(self, grad_output):
        return self._fn_backward(grad_output, self._cache, self.pool_size, **self._args())

    def compute_output_shape(self, input_shape):
        return _window_out_shape(input_shape, self.nd, self.data_format, self.pool_size, self.strides,
                                 (1,) * self.nd, self.padding, type(self).__name__)


def _pooling_class(kind, nd):
    name = f"{'Max' if kind == 'max' else 'Average'}Pooling{nd}D"
    word = "maximum" if kind == "max" else "mean"
    doc = (f"Keras' ``{name}``: the {word} over each ``pool_size`` window, via "
           f"``numpool.{kind}_pool{nd}d`` and ``numpool.{kind}_pool{nd}d_backward``.\n\n"
           f"``strides=None`` means ``pool_size``; ``padding='same'`` is TensorFlow's SAME "
           f"(``out = ceil(L / stride)``, the odd padded cell at the end)")
    if kind == "avg":
        doc += (", and the mean divides by the cells inside the input (``count_include_pad=False``, "
                "as ``tf.nn.avg_pool``).  ``pool_size`` defaults to 2 as in Keras 2 (Keras 3 requires it)")
    default = 2 if nd == 1 else (2,) * nd
    cls = type(name, (_Pooling,), {"nd": nd, "kind": kind, "__doc__": doc + "."})

    def __init__(self, pool_size=default, strides=None, padding="valid", data_format="channels_last", name=None):
        _Pooling.__init__(self, pool_size, strides, padding, data_format, name)

    cls.__init__ = __init__
    return cls


MaxPooling1D = MaxPool1D = _pooling_class("max", 1)
MaxPooling2D = MaxPool2D = _pooling_class("max", 2)
MaxPooling3D = MaxPool3D = _pooling_class("max", 3)
AveragePooling1D = AvgPool1D = _pooling_class("avg", 1)
AveragePooling2D = AvgPool2D = _pooling_class("avg", 2)
AveragePooling3D = AvgPool3D = _pooling_class("avg", 3)


class _GlobalPooling(Layer):
    """``Global{Max,Average}Pooling{nd}D`` over ``numpool.global_{max,avg}_pool``."""

    _config_keys = ("data_format", "keepdims")
    nd = 2
    kind = "max"

    def __init__(self, data_format="channels_last", keepdims=False, name=None):
        op = type(self).__name__
        self.data_format = _choice("data_format", data_format, _DATA_FORMATS, op)
        if not isinstance(keepdims, (bool, np.bool_)):
            raise ParameterError(f"`keepdims` must be a bool; got keepdims={keepdims!r} for {op}.")
        self.keepdims = bool(keepdims)
        super().__init__(name)
        self._fn = getattr(F, f"global_{self.kind}_pool")
        self._fn_backward = getattr(F, f"global_{self.kind}_pool_backward")

    def _forward(self, x):
        x = _check_rank(x, self.nd + 2, type(self).__name__, f"(batch, {self.nd} spatial dims, channels)")
        self._cache = x
        return self._fn(x, keepdims=self.keepdims, layout=self.data_format)

    def _backward(self, grad_output):
        return self._fn_backward(grad_output, self._cache, keepdims=self.keepdims, layout=self.data_format)

    def compute_output_shape(self, input_shape):
        axes = _spatial_axes(self.nd, self.data_format)
        if self.keepdims:
            return tuple(1 if i in axes else n for i, n in enumerate(input_shape))
        return tuple(n for i, n in enumerate(input_shape) if i not in axes)


def _global_class(kind, nd):
    name = f"Global{'Max' if kind == 'max' else 'Average'}Pooling{nd}D"
    doc = (f"Keras' ``{name}``: ``numpool.global_{kind}_pool`` over the {nd} spatial dims, "
           f"``(N, C)`` out, or size-1 spatial dims kept with ``keepdims=True``.")
    return type(name, (_GlobalPooling,), {"nd": nd, "kind": kind, "__doc__": doc})


GlobalMaxPooling1D = _global_class("max", 1)
GlobalMaxPooling2D = _global_class("max", 2)
GlobalMaxPooling3D = _global_class("max", 3)
GlobalAveragePooling1D = _global_class("avg", 1)
GlobalAveragePooling2D = _global_class("avg", 2)
GlobalAveragePooling3D = _global_class("avg", 3)


# ---------------------------------------------------------------------------------------
# upsampling


class _UpSampling(Layer):
    """Keras' ``UpSampling{nd}D`` over ``numpool.interpolate`` / ``interpolate_backward``.

    ``interpolation="nearest"`` repeats each cell ``size`` times along each axis (Keras'
    ``repeat``), which is ``interpolate(mode="nearest", scale_factor=size)`` for integer
    sizes.  ``"bilinear"`` (2-D only) is TensorFlow's ``tf.image.resize`` with half-pixel
    centres and no antialias: source ``(o + 0.5) / size - 0.5``, edge cells clamped, which is
    ``interpolate(mode="bilinear", align_corners=False)``.
    """

    _config_keys = ("size", "data_format", "interpolation")
    nd = 2
    _modes = ("nearest",)

    def __init__(self, size=2, data_format="channels_last", interpolation="nearest", name=None):
        op = type(self).__name__
        self.size = _params.int_tuple("size", size, self.nd, op, 1)
        self.data_format = _choice("data_format", data_format, _DATA_FORMATS, op)
        self.interpolation = _choice("interpolation", interpolation, self._modes, op)
        super().__init__(name)

    def _args(self):
        mode = "bilinear" if self.interpolation == "bilinear" else "nearest"
        extra = {"align_corners": False} if mode == "bilinear" else {}
        return dict(scale_factor=self.size, mode=mode, layout=self.data_format, **extra)

    def _forward(self, x):
        x = _check_rank(x, self.nd + 2, type(self).__name__, f"(batch, {self.nd} spatial dims, channels)")
        self._cache = x
        return interpolate(x, **self._args())

    def _backward(self, grad_output):
        return interpolate_backward(grad_output, self._cache, **self._args())

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        for axis, s in zip(_spatial_axes(self.nd, self.data_format), self.size):
            shape[axis] = None if shape[axis] is None else shape[axis] * s
        return tuple(shape)


class UpSampling1D(_UpSampling):
    """Keras' ``UpSampling1D``: each step of ``(N, steps, features)`` repeated ``size`` times."""

    _config_keys = ("size",)
    nd = 1

    def __init__(self, size=2, name=None):
        super().__init__(size, "channels_last", "nearest", name)

    def get_config(self):
        return {"name": self.name, "size": self.size[0]}

    def __repr__(self):
        return f"UpSampling1D(size={self.size[0]})"


class UpSampling2D(_UpSampling):
    __doc__ = _UpSampling.__doc__
    nd = 2
    _modes = ("nearest", "bilinear")

    def __init__(self, size=(2, 2), data_format="channels_last", interpolation="nearest", name=None):
        super().__init__(size, data_format, interpolation, name)


class UpSampling3D(_UpSampling):
    """Keras' ``UpSampling3D``: each cell repeated ``size`` times along each spatial axis."""

    _config_keys = ("size", "data_format")
    nd = 3

    def __init__(self, size=(2, 2, 2), data_format="channels_last", name=None):
        super().__init__(size, data_format, "nearest", name)


# ---------------------------------------------------------------------------------------
# activations and reshaping


class ReLU(Layer):
    """Keras' ``ReLU(max_value=None, negative_slope=0.0, threshold=0.0)``.

    Supported: the default (``numpool.relu``), ``max_value=6`` (``numpool.relu6``) and a
    ``negative_slope`` with no cap (``numpool.leaky_relu``), each with threshold 0.  Other
    combinations raise ``ParameterError``.
    """

    _config_keys = ("max_value", "negative_slope", "threshold")

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, name=None):
        for key, value in (("negative_slope", negative_slope), ("threshold", threshold)):
            if not isinstance(value, (int, float, np.integer, np.floating)) or isinstance(value, bool):
                raise ParameterError(f"`{key}` must be a number; got {key}={value!r} for ReLU.")
        if max_value is not None and (not isinstance(max_value, (int, float, np.integer, np.floating))
                                      or isinstance(max_value, bool)):
            raise ParameterError(f"`max_value` must be None or a number; got max_value={max_value!r} for ReLU.")
        self.max_value = None if max_value is None else float(max_value)
        self.negative_slope, self.threshold = float(negative_slope), float(threshold)
        if self.threshold != 0.0:
            raise ParameterError(f"ReLU supports threshold=0 only; got threshold={threshold!r}.")
        if self.max_value is not None and (self.max_value != 6.0 or self.negative_slope != 0.0):
            raise ParameterError(f"ReLU supports max_value=None, or max_value=6 with negative_slope=0; "
                                 f"got max_value={max_value!r}, negative_slope={negative_slope!r}.")
        if self.negative_slope < 0:
            raise ParameterError(f"`negative_slope` must be >= 0; got negative_slope={negative_slope!r} for ReLU.")
        super().__init__(name)

    def _forward(self, x):
        self._cache = x
        if self.max_value is not None:
            return F.relu6(x)
        if self.negative_slope:
            return F.leaky_relu(x, self.negative_slope)
        return F.relu(x)

    def _backward(self, grad_output):
        if self.max_value is not None:
            return F.relu6_backward(grad_output, self._cache)
        if self.negative_slope:
            return F.leaky_relu_backward(grad_output, self._cache, self.negative_slope)
        return F.relu_backward(grad_output, self._cache)


class Flatten(Layer):
    """Keras' ``Flatten``: ``(N, ...)`` -> ``(N, prod(...))``; channels-first input is first moved
    to channels-last order, as Keras does, so the features come out in the same order."""

    _config_keys = ("data_format",)

    def __init__(self, data_format="channels_last", name=None):
        self.data_format = _choice("data_format", data_format, _DATA_FORMATS, "Flatten")
        super().__init__(name)

    def _forward(self, x):
        x = np.asarray(x)
        if x.ndim < 1:
            raise ParameterError(f"Flatten expects a batched input; got an array of shape {x.shape}.")
        self._cache = x.shape
        if self.data_format == "channels_first" and x.ndim > 2:
            x = np.moveaxis(x, 1, -1)
        return x.reshape(x.shape[0], -1)

    def _backward(self, grad_output):
        shape = self._cache
        g = np.asarray(grad_output)
        if self.data_format == "channels_first" and len(shape) > 2:
            return np.moveaxis(g.reshape((shape[0],) + shape[2:] + (shape[1],)), -1, 1)
        return g.reshape(shape)

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        size = None if any(n is None for n in rest) else int(np.prod(rest, dtype=np.int64))
        return (input_shape[0], size)


# ---------------------------------------------------------------------------------------
# layers with parameters


def _activation(activation, op):
    if activation is None or (isinstance(activation, str) and activation.lower() in ("relu", "linear")):
        return None if activation is None or activation.lower() == "linear" else "relu"
    raise ParameterError(f"`activation` must be None or 'relu'; got activation={activation!r} for {op}.")


def _float_dtype(dtype, op):
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or dt.kind != "f":
        raise DTypeError(f"`dtype` must be a float dtype; got dtype={dtype!r} for {op}.")
    return dt


def _glorot_uniform(rng, shape, fan_in, fan_out, dtype):
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(dtype)


class _Parametric(Layer):
    def __init__(self, activation, use_bias, seed, dtype, name):
        op = type(self).__name__
        self.activation = _activation(activation, op)
        if not isinstance(use_bias, (bool, np.bool_)):
            raise ParameterError(f"`use_bias` must be a bool; got use_bias={use_bias!r} for {op}.")
        self.use_bias = bool(use_bias)
        if seed is not None and not (isinstance(seed, (int, np.integer)) and not isinstance(seed, bool)):
            raise ParameterError(f"`seed` must be an int or None; got seed={seed!r} for {op}.")
        self.seed = seed
        self.dtype = _float_dtype(dtype, op).name
        super().__init__(name)

    def _make_params(self, kernel_shape, fan_in, fan_out, units):
        rng = np.random.default_rng(self.seed)
        self.params["kernel"] = _glorot_uniform(rng, kernel_shape, fan_in, fan_out, self.dtype)
        if self.use_bias:
            self.params["bias"] = np.zeros(units, self.dtype)
        self.built = True

    def _activate(self, z):
        self._z = z
        return F.relu(z) if self.activation == "relu" else z

    def _deactivate(self, grad_output):
        g = np.asarray(grad_output)
        return F.relu_backward(g, self._z) if self.activation == "relu" else g


class Dense(_Parametric):
    """Keras' ``Dense``: ``activation(x @ kernel + bias)`` on the last axis.

    ``kernel`` is ``(in_features, units)``, initialised glorot-uniform from
    ``np.random.default_rng(seed)``; ``bias`` starts at zeros.  ``activation`` is None or
    ``"relu"`` (softmax belongs to the loss).  Parameters are created in ``dtype``.
    """

    _config_keys = ("units", "activation", "use_bias", "seed", "dtype")

    def __init__(self, units, activation=None, use_bias=True, seed=None, dtype="float32", name=None):
        if not _params._is_int(units) or units < 1:
            raise ParameterError(f"`units` must be an int >= 1; got units={units!r} for Dense.")
        self.units = int(units)
        super().__init__(activation, use_bias, seed, dtype, name)

    def build(self, input_shape):
        fan_in = input_shape[-1]
        if fan_in is None:
            raise ParameterError(f"Dense needs a known last dim to build; got input_shape={tuple(input_shape)}.")
        self._make_params((fan_in, self.units), fan_in, self.units, self.units)

    def _forward(self, x):
        x = np.asarray(x)
        if x.ndim < 1 or x.shape[-1] != self.params["kernel"].shape[0]:
            raise ParameterError(f"Dense expects inputs with last dim {self.params['kernel'].shape[0]}; "
                                 f"got an array of shape {x.shape}.")
        self._cache = x
        z = x @ self.params["kernel"]
        if self.use_bias:
            z = z + self.params["bias"]
        return self._activate(z)

    def _backward(self, grad_output):
        g = self._deactivate(grad_output)
        x, kernel = self._cache, self.params["kernel"]
        g2 = g.reshape(-1, self.units)
        self.grads = {"kernel": (x.reshape(-1, kernel.shape[0]).T @ g2).astype(kernel.dtype, copy=False)}
        if self.use_bias:
            self.grads["bias"] = g2.sum(axis=0).astype(kernel.dtype, copy=False)
        return g @ kernel.T

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)


class Conv2D(_Parametric):
    """Keras' ``Conv2D`` (cross-correlation, as every framework): im2col plus one matrix product.

    ``kernel`` is ``(kh, kw, in_channels, filters)`` as in Keras; PyTorch's weight is its
    transpose ``(filters, in_channels, kh, kw)``.  ``padding="same"`` is TensorFlow's SAME
    (``out = ceil(L / stride)``, the odd padded cell at the end).  ``dilation_rate`` may be
    combined with strides (Keras forbids it; the result is PyTorch's).

    Shape: ``out = floor((L + lo + hi - dilation * (k - 1) - 1) / stride) + 1`` per axis.
    """

    _config_keys = ("filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate",
                    "activation", "use_bias", "seed", "dtype")

    def __init__(self, filters, kernel_size, strides=1, padding="valid", activation=None, use_bias=True,
                 data_format="channels_last", dilation_rate=1, seed=None, dtype="float32", name=None):
        op = "Conv2D"
        if not _params._is_int(filters) or filters < 1:
            raise ParameterError(f"`filters` must be an int >= 1; got filters={filters!r} for {op}.")
        self.filters = int(filters)
        self.kernel_size = _params.int_tuple("kernel_size", kernel_size, 2, op, 1)
        self.strides = _params.int_tuple("strides", strides, 2, op, 1)
        self.dilation_rate = _params.int_tuple("dilation_rate", dilation_rate, 2, op, 1)
        self.padding = _choice("padding", padding, ("valid", "same"), op)
        self.data_format = _choice("data_format", data_format, _DATA_FORMATS, op)
        super().__init__(activation, use_bias, seed, dtype, name)

    def build(self, input_shape):
        channels = input_shape[-1 if self.data_format == "channels_last" else 1]
        if channels is None:
            raise ParameterError(f"Conv2D needs a known channel dim to build; got input_shape={tuple(input_shape)}.")
        kh, kw = self.kernel_size
        self._make_params((kh, kw, channels, self.filters), kh * kw * channels, kh * kw * self.filters,
                          self.filters)

    def _geometry(self, spatial):
        pads = _params.padding_pairs(self.padding, 2, spatial, self.kernel_size, self.strides,
                                     self.dilation_rate, "Conv2D")
        outs = tuple(_params.out_size(n, k, s, d, lo, hi, False) for n, k, s, d, (lo, hi)
                     in zip(spatial, self.kernel_size, self.strides, self.dilation_rate, pads))
        return pads, outs

    def _offsets(self, outs):
        """One strided slice pair per kernel offset: the input cells that tap (i, j) reads."""
        (sh, sw), (dh, dw) = self.strides, self.dilation_rate
        for i, j in itertools.product(range(self.kernel_size[0]), range(self.kernel_size[1])):
            yield i, j, (slice(i * dh, i * dh + (outs[0] - 1) * sh + 1, sh),
                         slice(j * dw, j * dw + (outs[1] - 1) * sw + 1, sw))

    def _forward(self, x):
        x = _check_rank(x, 4, "Conv2D", "(batch, height, width, channels) or (batch, channels, height, width)")
        if self.data_format == "channels_first":
            x = np.moveaxis(x, 1, -1)
        kernel = self.params["kernel"]
        kh, kw, c, f = kernel.shape
        if x.shape[-1] != c:
            raise ParameterError(f"Conv2D was built for {c} input channels; got an array with {x.shape[-1]}.")
        pads, outs = self._geometry(x.shape[1:3])
        if min(outs) < 1:
            raise ParameterError(f"Conv2D's window {self.kernel_size} (dilation {self.dilation_rate}) is larger "
                                 f"than the padded input; got input spatial shape {x.shape[1:3]}.")
        xp = np.pad(x, ((0, 0), pads[0], pads[1], (0, 0))) if any(map(any, pads)) else x
        dtype = np.result_type(x.dtype, kernel.dtype)
        cols = np.empty((x.shape[0], outs[0], outs[1], kh, kw, c), dtype)
        for i, j, (rows, columns) in self._offsets(outs):
            cols[:, :, :, i, j, :] = xp[:, rows, columns, :]
        cols = cols.reshape(-1, kh * kw * c)
        z = (cols @ kernel.reshape(-1, f)).reshape(x.shape[0], outs[0], outs[1], f)
        if self.use_bias:
            z += self.params["bias"]
        self._cache = (cols, xp.shape, x.shape, pads, outs)
        out = self._activate(z)
        return np.moveaxis(out, -1, 1) if self.data_format == "channels_first" else out

    def _backward(self, grad_output):
        g = np.asarray(grad_output)
        if self.data_format == "channels_first":
            g = np.moveaxis(g, 1, -1)
        g = self._deactivate(g)
        cols, padded_shape, in_shape, pads, outs = self._cache
        kernel = self.params["kernel"]
        kh, kw, c, f = kernel.shape
        if g.shape != (in_shape[0], outs[0], outs[1], f):
            raise ParameterError(f"`grad_output` must have shape {(in_shape[0], outs[0], outs[1], f)} "
                                 f"(channels-last order); got shape {g.shape} for Conv2D.backward.")
        g2 = g.reshape(-1, f)
        self.grads = {"kernel": (cols.T @ g2).reshape(kernel.shape).astype(kernel.dtype, copy=False)}
        if self.use_bias:
            self.grads["bias"] = g2.sum(axis=0).astype(kernel.dtype, copy=False)
        dcols = (g2 @ kernel.reshape(-1, f).T).reshape(in_shape[0], outs[0], outs[1], kh, kw, c)
        # col2im: one strided add per kernel offset, never a loop over pixels.
        dxp = np.zeros(padded_shape, dcols.dtype)
        for i, j, (rows, columns) in self._offsets(outs):
            dxp[:, rows, columns, :] += dcols[:, :, :, i, j, :]
        dx = dxp[:, pads[0][0]:pads[0][0] + in_shape[1], pads[1][0]:pads[1][0] + in_shape[2], :]
        return np.moveaxis(dx, -1, 1) if self.data_format == "channels_first" else dx

    def compute_output_shape(self, input_shape):
        shape = _window_out_shape(input_shape, 2, self.data_format, self.kernel_size, self.strides,
                                  self.dilation_rate, self.padding, "Conv2D")
        shape = list(shape)
        shape[-1 if self.data_format == "channels_last" else 1] = self.filters
        return tuple(shape)


# ---------------------------------------------------------------------------------------
# tf.nn.pool

_POOLING_TYPES = {"MAX": "max", "AVG": "mean", "MIN": "min"}


def _tf_formats(nd):
    """``data_format`` spellings for ``nd`` spatial dims: "NWC"/"NCW", "NHWC"/"NCHW",
    "NDHWC"/"NCDHW"; past 3 dims, "N" + one letter a dim (any but N and C) + "C" or "NC" + those."""
    names = {1: "W", 2: "HW", 3: "DHW"}.get(nd)
    if names is None:
        return None
    return {f"N{names}C": "channels_last", f"NC{names}": "channels_first"}


def _tf_layout(data_format, nd, op):
    if data_format is None:
        return "channels_last"
    formats = _tf_formats(nd)
    if isinstance(data_format, str):
        spelled = data_format.upper()
        if formats is not None and spelled in formats:
            return formats[spelled]
        if formats is None and len(spelled) == nd + 2 and spelled[0] == "N":
            for layout, dims, channel in (("channels_last", spelled[1:-1], spelled[-1]),
                                          ("channels_first", spelled[2:], spelled[1])):
                if channel == "C" and dims.isalpha() and not set(dims) & {"N", "C"}:
                    return layout
    wanted = tuple(formats) if formats is not None else (f"N{'S' * nd}C", f"NC{'S' * nd}")
    raise ParameterError(f"`data_format` must be None or one of {wanted} for a {nd}-D window; "
                         f"got data_format={data_format!r} for {op}.")


def _pool_args(window_shape, pooling_type, strides, padding, dilation_rate, dilations, data_format, op):
    try:
        nd = len(window_shape)
    except TypeError:
        nd = None
    if not nd or isinstance(window_shape, str):
        raise ParameterError(f"`window_shape` must be a sequence of ints, one a spatial dim; got "
                             f"window_shape={window_shape!r} for {op}.")
    window = _params.int_tuple("window_shape", window_shape, nd, op, 1)
    kind = pooling_type.upper() if isinstance(pooling_type, str) else None
    if kind not in _POOLING_TYPES:
        raise ParameterError(f"`pooling_type` must be one of {tuple(_POOLING_TYPES)}; got "
                             f"pooling_type={pooling_type!r} for {op}.")
    mode = padding.upper() if isinstance(padding, str) else None
    if mode not in ("VALID", "SAME"):
        raise ParameterError(f"`padding` must be 'VALID' or 'SAME'; got padding={padding!r} for {op}.")
    if dilation_rate is not None and dilations is not None:
        raise ParameterError(f"pass `dilation_rate` or `dilations`, not both; got dilation_rate={dilation_rate!r}, "
                             f"dilations={dilations!r} for {op}.")
    dilation = dilation_rate if dilation_rate is not None else dilations
    dilation = _params.int_tuple("dilation_rate", 1 if dilation is None else dilation, nd, op, 1)
    stride = _params.int_tuple("strides", 1 if strides is None else strides, nd, op, 1)
    return nd, window, _POOLING_TYPES[kind], dict(
        stride=stride, padding=mode.lower(), dilation=dilation, layout=_tf_layout(data_format, nd, op),
        count_include_pad=False,  # TensorFlow's AVG divides by the cells inside the input
        ties="all" if nd == 3 else "first")  # TensorFlow's CPU gradients: every tied maximum in 3-D


def pool(input, window_shape, pooling_type, strides=None, padding="VALID", dilation_rate=None, data_format=None,
         dilations=None, name=None):
    """TensorFlow's ``tf.nn.pool``: N-D max, min or average pooling (N = ``len(window_shape)``, any N).

    ``input`` is ``(N, *spatial, C)`` (``data_format`` None, ``"NWC"``, ``"NHWC"``,
    ``"NDHWC"``) or ``(N, C, *spatial)`` (``"NCW"``, ``"NCHW"``, ``"NCDHW"``; past three
    dims, any letters between ``N`` and ``C``).  ``strides`` and ``dilation_rate`` (or TF2's
    name ``dilations``) default to 1 in every dim.  ``pooling_type`` is ``"MAX"``, ``"AVG"``
    or ``"MIN"``; ``padding`` ``"VALID"`` or ``"SAME"`` (``out = ceil(L / stride)``, the
    padding computed from the dilated window, the odd cell at the end); ``"AVG"`` with
    ``"SAME"`` divides by the cells inside the input.  Unlike TensorFlow, a dilation greater
    than 1 may be combined with a stride greater than 1.  ``name`` is accepted and ignored.
    A thin form of :func:`numpool.reduce_window`; :func:`pool_backward` is its gradient.

    Examples
    --------
    >>> import numpy as np
    >>> from numpool import pool
    >>> x = np.arange(16.).reshape(1, 4, 4, 1)
    >>> pool(x, [2, 2], "MAX", strides=[2, 2])[0, :, :, 0]
    array([[ 5.,  7.],
           [13., 15.]])
    """
    from .windows import reduce_window

    op = "pool"
    nd, window, reducer, args = _pool_args(window_shape, pooling_type, strides, padding, dilation_rate, dilations,
                                           data_format, op)
    x = _check_rank(input, nd + 2, op, f"(batch, {nd} spatial dims, channels) for window_shape={window_shape!r}")
    del args["ties"]  # a forward's value does not depend on it
    if reducer != "mean":
        del args["count_include_pad"]
    return reduce_window(x, reducer, window, **args)


def pool_backward(grad_output, input, window_shape, pooling_type, strides=None, padding="VALID",
                  dilation_rate=None, data_format=None, dilations=None, name=None):
    """Gradient of :func:`pool` with respect to ``input``, as TensorFlow's CPU kernels give it:
    in 1-D and 2-D each window's gradient goes to its first maximum (minimum), in 3-D to
    every tied one (``ties="all"``); ``"AVG"`` shares it over the cells inside the input."""
    from .windows import reduce_window_backward

    op = "pool_backward"
    nd, window, reducer, args = _pool_args(window_shape, pooling_type, strides, padding, dilation_rate, dilations,
                                           data_format, op)
    x = _check_rank(input, nd + 2, op, f"(batch, {nd} spatial dims, channels) for window_shape={window_shape!r}")
    if reducer == "mean":
        del args["ties"]
    else:
        del args["count_include_pad"]
    return reduce_window_backward(grad_output, x, reducer, window, **args)
