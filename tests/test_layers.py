"""numpool.layers: each layer equals its functional op; Conv2D and Dense equal PyTorch and
pass finite-difference checks; shapes, configs, reprs; the tutorials' stacks; numpool.layers.pool."""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from helpers import central_difference

import numpool
from numpool import DTypeError, ParameterError
from numpool import layers as L

RNG = np.random.default_rng(0)


def _rand(*shape, dtype=np.float32):
    # unique values, so max pooling has no ties and finite differences stay off the kinks
    n = int(np.prod(shape))
    return (RNG.permutation(n).reshape(shape) / n - 0.5).astype(dtype)


def _input(nd, data_format, channels=3, size=7, batch=2):
    spatial = (size, size - 1, size + 1)[:nd]
    shape = (batch,) + spatial + (channels,) if data_format == "channels_last" else (batch, channels) + spatial
    return _rand(*shape)


# ---------------------------------------------------------------------------------------
# tiny hand-computed cases first


def test_max_pool_2d_by_hand():
    x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
    np.testing.assert_array_equal(L.MaxPool2D()(x)[0, :, :, 0], [[5, 7], [13, 15]])
    layer = L.MaxPool2D()
    layer(x)
    grad = layer.backward(np.ones((1, 2, 2, 1), np.float32))[0, :, :, 0]
    np.testing.assert_array_equal(grad, [[0, 0, 0, 0], [0, 1, 0, 1], [0, 0, 0, 0], [0, 1, 0, 1]])


def test_average_pool_same_divides_by_valid_count():
    # 3x3 input, 2x2 windows stride 2 SAME: pads one cell at the end; the corner window has one cell
    x = np.arange(9, dtype=np.float64).reshape(1, 3, 3, 1)
    out = L.AveragePooling2D(2, padding="same")(x)[0, :, :, 0]
    np.testing.assert_array_equal(out, [[(0 + 1 + 3 + 4) / 4, (2 + 5) / 2], [(6 + 7) / 2, 8]])


# ---------------------------------------------------------------------------------------
# thin wrappers: forward and backward equal the functional ops


POOL_CASES = [(kind, nd, padding, fmt) for kind in ("max", "avg") for nd in (1, 2, 3)
              for padding in ("valid", "same") for fmt in ("channels_last", "channels_first")]


@pytest.mark.parametrize("kind, nd, padding, data_format", POOL_CASES)
def test_pooling_equals_functional(kind, nd, padding, data_format):
    cls = getattr(L, f"{'Max' if kind == 'max' else 'Average'}Pooling{nd}D")
    layer = cls(pool_size=3, strides=2, padding=padding, data_format=data_format)
    x = _input(nd, data_format)
    out = layer(x)
    fn = getattr(numpool, f"{kind}_pool{nd}d")
    extra = {"count_include_pad": False} if kind == "avg" else {}
    args = dict(stride=2, padding=padding, layout=data_format, **extra)
    np.testing.assert_array_equal(out, fn(x, 3, **args))
    assert out.shape == layer.compute_output_shape(x.shape)
    assert layer.compute_output_shape((None,) + x.shape[1:]) == (None,) + out.shape[1:]
    g = _rand(*out.shape)
    backward = getattr(numpool, f"{kind}_pool{nd}d_backward")
    np.testing.assert_array_equal(layer.backward(g), backward(g, x, 3, **args))
    assert layer.params == {} and layer.grads == {} and layer.count_params() == 0


def test_pooling_defaults_and_aliases():
    assert L.MaxPool1D is L.MaxPooling1D and L.AvgPool3D is L.AveragePooling3D
    assert L.MaxPooling1D().pool_size == (2,) and L.MaxPooling3D().strides == (2, 2, 2)
    assert L.AveragePooling2D().pool_size == (2, 2)
    layer = L.MaxPooling2D((2, 3))
    assert layer.strides == (2, 3) and layer.padding == "valid" and layer.data_format == "channels_last"


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_global_pooling_equals_functional(kind, nd, keepdims, data_format):
    cls = getattr(L, f"Global{'Max' if kind == 'max' else 'Average'}Pooling{nd}D")
    layer = cls(data_format=data_format, keepdims=keepdims)
    x = _input(nd, data_format, size=4)
    out = layer(x)
    fn = getattr(numpool, f"global_{kind}_pool")
    np.testing.assert_array_equal(out, fn(x, keepdims=keepdims, layout=data_format))
    assert out.shape == layer.compute_output_shape(x.shape)
    g = _rand(*out.shape)
    expected = getattr(numpool, f"global_{kind}_pool_backward")(g, x, keepdims=keepdims, layout=data_format)
    np.testing.assert_array_equal(layer.backward(g), expected)


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 11, (2, 3)])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_upsampling2d_nearest_is_keras_repeat(size, data_format):
    layer = L.UpSampling2D(size=size, data_format=data_format)
    x = _input(2, data_format, size=5)
    sh, sw = (size, size) if isinstance(size, int) else size
    axes = (1, 2) if data_format == "channels_last" else (2, 3)
    out = layer(x)
    np.testing.assert_array_equal(out, x.repeat(sh, axes[0]).repeat(sw, axes[1]))
    np.testing.assert_array_equal(out, numpool.interpolate(x, scale_factor=(sh, sw), layout=data_format))
    assert out.shape == layer.compute_output_shape(x.shape)
    g = _rand(*out.shape)
    np.testing.assert_array_equal(
        layer.backward(g), numpool.interpolate_backward(g, x, scale_factor=(sh, sw), layout=data_format))


def test_upsampling_1d_and_3d_repeat():
    x = _input(1, "channels_last")
    np.testing.assert_array_equal(L.UpSampling1D(3)(x), x.repeat(3, 1))
    x = _input(3, "channels_last", size=3)
    out = L.UpSampling3D((2, 1, 3))(x)
    np.testing.assert_array_equal(out, x.repeat(2, 1).repeat(1, 2).repeat(3, 3))
    g = _rand(*out.shape)
    layer = L.UpSampling3D((2, 1, 3))
    layer(x)
    np.testing.assert_array_equal(
        layer.backward(g), numpool.interpolate_backward(g, x, scale_factor=(2, 1, 3), layout="channels_last"))


def _tf_bilinear(x, sh, sw):
    """TensorFlow's tf.image.resize bilinear (half_pixel_centers=True, no antialias), NHWC, float64."""
    def axis_table(size, scale):
        src = (np.arange(size * scale) + 0.5) / scale - 0.5
        lower = np.floor(src)
        frac = src - lower
        lo = np.clip(lower, 0, size - 1).astype(int)
        hi = np.clip(lower + 1, 0, size - 1).astype(int)
        return lo, hi, frac

    y0, y1, fy = axis_table(x.shape[1], sh)
    x0, x1, fx = axis_table(x.shape[2], sw)
    top = x[:, y0][:, :, x0] * (1 - fx)[None, None, :, None] + x[:, y0][:, :, x1] * fx[None, None, :, None]
    bottom = x[:, y1][:, :, x0] * (1 - fx)[None, None, :, None] + x[:, y1][:, :, x1] * fx[None, None, :, None]
    return top * (1 - fy)[None, :, None, None] + bottom * fy[None, :, None, None]


@pytest.mark.parametrize("size", [2, 3, (2, 4)])
def test_upsampling2d_bilinear_is_tensorflow_half_pixel(size):
    x = _input(2, "channels_last", size=5).astype(np.float64)
    sh, sw = (size, size) if isinstance(size, int) else size
    layer = L.UpSampling2D(size, interpolation="bilinear")
    out = layer(x)
    np.testing.assert_allclose(out, _tf_bilinear(x, sh, sw), rtol=0, atol=1e-12)
    g = _rand(*out.shape, dtype=np.float64)
    expected = numpool.interpolate_backward(g, x, scale_factor=(sh, sw), mode="bilinear", align_corners=False,
                                            layout="channels_last")
    np.testing.assert_array_equal(layer.backward(g), expected)


@pytest.mark.parametrize("kwargs, fn", [({}, "relu"), ({"max_value": 6}, "relu6"),
                                        ({"negative_slope": 0.2}, "leaky_relu")])
def test_relu_equals_functional(kwargs, fn):
    x = np.linspace(-8, 8, 37).reshape(1, 37)
    layer = L.ReLU(**kwargs)
    extra = (0.2,) if fn == "leaky_relu" else ()
    np.testing.assert_array_equal(layer(x), getattr(numpool, fn)(x, *extra))
    g = np.linspace(1, 2, 37).reshape(1, 37)
    np.testing.assert_array_equal(layer.backward(g), getattr(numpool, fn + "_backward")(g, x, *extra))


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_flatten(data_format):
    x = _rand(2, 3, 4, 5)
    layer = L.Flatten(data_format=data_format)
    out = layer(x)
    expected = x if data_format == "channels_last" else np.moveaxis(x, 1, -1)
    np.testing.assert_array_equal(out, expected.reshape(2, -1))
    assert out.shape == layer.compute_output_shape(x.shape) == (2, 60)
    assert layer.compute_output_shape((None, 3, 4, 5)) == (None, 60)
    np.testing.assert_array_equal(layer.backward(out), x)


# ---------------------------------------------------------------------------------------
# Dense and Conv2D against PyTorch and finite differences


@pytest.mark.parametrize("activation", [None, "relu"])
@pytest.mark.parametrize("use_bias", [True, False])
def test_dense_equals_torch(activation, use_bias):
    layer = L.Dense(5, activation=activation, use_bias=use_bias, seed=1)
    x = _rand(4, 7)
    out = layer(x)
    if use_bias:
        layer.params["bias"][...] = _rand(5)
        out = layer(x)
    xt = torch.from_numpy(x).requires_grad_(True)
    wt = torch.from_numpy(layer.params["kernel"]).requires_grad_(True)
    yt = xt @ wt
    if use_bias:
        bt = torch.from_numpy(layer.params["bias"]).requires_grad_(True)
        yt = yt + bt
    if activation == "relu":
        yt = torch.relu(yt)
    np.testing.assert_allclose(out, yt.detach().numpy(), rtol=1e-6, atol=1e-6)
    g = _rand(*out.shape)
    yt.backward(torch.from_numpy(g))
    np.testing.assert_allclose(layer.backward(g), xt.grad.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer.grads["kernel"], wt.grad.numpy(), rtol=1e-5, atol=1e-6)
    if use_bias:
        np.testing.assert_allclose(layer.grads["bias"], bt.grad.numpy(), rtol=1e-5, atol=1e-6)
    assert set(layer.grads) == set(layer.params)
    assert layer.count_params() == 7 * 5 + 5 * use_bias


def _tf_same_pads(size, k, s, d):
    out = -(-size // s)
    total = max((out - 1) * s + d * (k - 1) + 1 - size, 0)
    return total // 2, total - total // 2


CONV_CASES = [
    dict(kernel_size=3),
    dict(kernel_size=(2, 3), strides=2, padding="same"),          # asymmetric SAME padding
    dict(kernel_size=4, strides=(1, 2), padding="same"),
    dict(kernel_size=3, dilation_rate=2, padding="same"),
    dict(kernel_size=3, strides=2, dilation_rate=(2, 1)),          # dilation with stride (Keras forbids)
    dict(kernel_size=1, activation="relu", use_bias=False),
    dict(kernel_size=3, padding="same", data_format="channels_first", activation="relu"),
]


@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()))
def test_conv2d_equals_torch(case):
    layer = L.Conv2D(4, seed=3, **case)
    channels_first = layer.data_format == "channels_first"
    x = _rand(2, 3, 9, 8) if channels_first else _rand(2, 9, 8, 3)
    layer.build(x.shape)
    if layer.use_bias:
        layer.params["bias"][...] = _rand(4)
    out = layer(x)
    xt = torch.from_numpy(np.ascontiguousarray(x if channels_first else x.transpose(0, 3, 1, 2)))
    xt.requires_grad_(True)
    kt = torch.from_numpy(layer.params["kernel"]).requires_grad_(True)
    weight = kt.permute(3, 2, 0, 1)                             # (kh, kw, in, out) -> (out, in, kh, kw)
    padded = xt
    if layer.padding == "same":
        (ph, pw) = [_tf_same_pads(n, k, s, d) for n, k, s, d in
                    zip(xt.shape[2:], layer.kernel_size, layer.strides, layer.dilation_rate)]
        padded = TF.pad(xt, (pw[0], pw[1], ph[0], ph[1]))
    bt = torch.from_numpy(layer.params["bias"]).requires_grad_(True) if layer.use_bias else None
    yt = TF.conv2d(padded, weight, bt, stride=layer.strides, dilation=layer.dilation_rate)
    if layer.activation == "relu":
        yt = torch.relu(yt)
    expected = yt.detach().numpy() if channels_first else yt.detach().numpy().transpose(0, 2, 3, 1)
    assert out.shape == expected.shape == layer.compute_output_shape(x.shape)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
    g = _rand(*out.shape)
    yt.backward(torch.from_numpy(np.ascontiguousarray(g if channels_first else g.transpose(0, 3, 1, 2))))
    dx = layer.backward(g)
    expected_dx = xt.grad.numpy() if channels_first else xt.grad.numpy().transpose(0, 2, 3, 1)
    np.testing.assert_allclose(dx, expected_dx, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(layer.grads["kernel"], kt.grad.numpy(), rtol=1e-4, atol=1e-5)
    if layer.use_bias:
        np.testing.assert_allclose(layer.grads["bias"], bt.grad.numpy(), rtol=1e-5, atol=1e-5)


def _finite_difference_check(layer, x):
    """Compare backward with central differences of sum(out * g), for the input and every parameter."""
    out = layer(x)
    g = np.random.default_rng(5).standard_normal(out.shape)
    dx = layer.backward(g)
    grads = {k: v.copy() for k, v in layer.grads.items()}
    eps = 1e-6

    def loss():
        return float(np.sum(layer(x) * g))

    for name, array, analytic in [("x", x, dx)] + [(k, layer.params[k], grads[k]) for k in layer.params]:
        flat = array.reshape(-1)
        picks = np.random.default_rng(6).choice(flat.size, size=min(flat.size, 25), replace=False)
        for i in picks:
            np.testing.assert_allclose(analytic.reshape(-1)[i], central_difference(loss, flat, i, eps),
                                       rtol=1e-5, atol=1e-7, err_msg=f"{name}[{i}]")


@pytest.mark.parametrize("case", CONV_CASES[:5] + [dict(kernel_size=2, data_format="channels_first")],
                         ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()))
def test_conv2d_finite_differences(case):
    layer = L.Conv2D(3, seed=4, dtype="float64", **case)
    x = _rand(2, 7, 6, 2, dtype=np.float64)
    if layer.data_format == "channels_first":
        x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    layer.build(x.shape)
    layer.params["bias"][...] = np.arange(3) * 0.1
    _finite_difference_check(layer, x)


def test_dense_finite_differences():
    layer = L.Dense(4, seed=2, dtype="float64")
    x = _rand(3, 2, 5, dtype=np.float64)     # Dense acts on the last axis of any rank
    layer.build(x.shape)
    layer.params["bias"][...] = [0.1, -0.2, 0.3, 0.0]
    assert layer(x).shape == layer.compute_output_shape(x.shape) == (3, 2, 4)
    _finite_difference_check(layer, x)


def test_initialisation_is_glorot_uniform_and_seeded():
    a, b = L.Conv2D(8, 3, seed=7), L.Conv2D(8, 3, seed=7)
    a.build((None, 5, 5, 4))
    b.build((None, 5, 5, 4))
    np.testing.assert_array_equal(a.params["kernel"], b.params["kernel"])
    limit = np.sqrt(6 / (9 * 4 + 9 * 8))
    assert a.params["kernel"].shape == (3, 3, 4, 8) and a.params["kernel"].dtype == np.float32
    assert np.abs(a.params["kernel"]).max() <= limit
    np.testing.assert_array_equal(a.params["bias"], np.zeros(8))
    d = L.Dense(3, seed=1)
    d.build((None, 10))
    assert np.abs(d.params["kernel"]).max() <= np.sqrt(6 / 13) and d.count_params() == 33


# ---------------------------------------------------------------------------------------
# configs, reprs, shapes of the tutorials


ALL_LAYERS = [
    L.MaxPooling1D(3, padding="same"), L.MaxPooling2D((2, 3), strides=1), L.MaxPooling3D(),
    L.AveragePooling1D(), L.AveragePooling2D(3, 2, "same", "channels_first"), L.AveragePooling3D(2),
    L.GlobalMaxPooling1D(), L.GlobalMaxPooling2D(keepdims=True), L.GlobalMaxPooling3D("channels_first"),
    L.GlobalAveragePooling1D(), L.GlobalAveragePooling2D(), L.GlobalAveragePooling3D(keepdims=True),
    L.UpSampling1D(3), L.UpSampling2D(3, interpolation="bilinear"), L.UpSampling3D((1, 2, 3)),
    L.ReLU(), L.ReLU(max_value=6), L.ReLU(negative_slope=0.1), L.Flatten(),
    L.Dense(10, activation="relu", seed=0), L.Conv2D(6, 5, strides=2, padding="same", seed=0),
]


@pytest.mark.parametrize("layer", ALL_LAYERS, ids=lambda layer: type(layer).__name__)
def test_config_round_trip(layer):
    config = json.loads(json.dumps(layer.get_config()))
    clone = type(layer).from_config(config)
    assert repr(clone) == repr(layer)
    assert clone.get_config() == json.loads(json.dumps(layer.get_config()))
    assert clone.name == layer.name


def test_repr_and_names():
    assert repr(L.MaxPooling2D()) == ("MaxPooling2D(pool_size=(2, 2), strides=(2, 2), padding='valid', "
                                      "data_format='channels_last')")
    assert repr(L.UpSampling2D(size=3)) == "UpSampling2D(size=(3, 3), data_format='channels_last', " \
                                           "interpolation='nearest')"
    assert repr(L.GlobalAveragePooling2D()) == "GlobalAveragePooling2D(data_format='channels_last', keepdims=False)"
    assert "filters=64" in repr(L.Conv2D(64, 3))
    first, second = L.Conv2D(1, 1), L.Conv2D(1, 1)
    assert first.name.startswith("conv2d") and first.name != second.name
    assert L.MaxPooling2D(name="pool").name == "pool"


@pytest.mark.parametrize("layer", ALL_LAYERS, ids=lambda layer: type(layer).__name__)
def test_compute_output_shape_matches(layer):
    clone = type(layer).from_config(layer.get_config())
    nd = getattr(clone, "nd", 2)
    if isinstance(clone, L.Dense):
        x = _rand(2, 6)
    elif isinstance(clone, (L.ReLU, L.Flatten)):
        x = _rand(2, 5, 4, 3)
    else:
        x = _input(nd, getattr(clone, "data_format", "channels_last"), size=6)
    out = clone(x)
    assert out.shape == clone.compute_output_shape(x.shape)
    assert clone.backward(np.ones_like(out)).shape == x.shape


def test_kaggle_condense_stack_shapes():
    # Kaggle "Maximum Pooling": Conv2D(filters=64, kernel_size=3) -> MaxPool2D(pool_size=2)
    conv, pool = L.Conv2D(filters=64, kernel_size=3, seed=0), L.MaxPool2D(pool_size=2)
    x = _rand(1, 28, 28, 1)
    hidden = conv(x)
    out = pool(L.ReLU()(hidden))
    assert hidden.shape == (1, 26, 26, 64) and out.shape == (1, 13, 13, 64)
    assert pool.compute_output_shape(conv.compute_output_shape((None, 28, 28, 1))) == (None, 13, 13, 64)
    assert conv.count_params() == 3 * 3 * 1 * 64 + 64


def test_tf2_course_shapes():
    x = _rand(1, 14, 14, 4)
    assert L.MaxPool2D(2, strides=2)(x).shape == (1, 7, 7, 4)
    assert L.MaxPool2D(3, strides=2)(x).shape == (1, 6, 6, 4)
    assert L.UpSampling2D(size=3)(_rand(1, 7, 7, 4)).shape == (1, 21, 21, 4)
    assert L.UpSampling2D(size=2)(_rand(1, 7, 7, 4)).shape == (1, 14, 14, 4)


# ---------------------------------------------------------------------------------------
# numpool.layers.pool: tf.nn.pool


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("pooling_type", ["MAX", "AVG"])
@pytest.mark.parametrize("padding", ["VALID", "SAME"])
def test_pool_equals_functional(nd, pooling_type, padding):
    x = _input(nd, "channels_last")
    out = L.pool(x, [3] * nd, pooling_type, strides=[2] * nd, padding=padding, dilation_rate=[1] * nd)
    if pooling_type == "MAX":
        expected = getattr(numpool, f"max_pool{nd}d")(x, 3, stride=2, padding=padding.lower(), layout="channels_last")
    else:
        expected = getattr(numpool, f"avg_pool{nd}d")(x, 3, stride=2, padding=padding.lower(),
                                                      count_include_pad=False, layout="channels_last")
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("pooling_type, reducer", [("MIN", "min"), ("MAX", "max"), ("AVG", "mean")])
def test_pool_in_any_rank(pooling_type, reducer):
    x = _rand(2, 4, 3, 5, 4, 3)  # (N, S1, S2, S3, S4, C)
    kwargs = dict(count_include_pad=False) if reducer == "mean" else {}
    out = L.pool(x, [2, 2, 3, 2], pooling_type, strides=[1, 2, 1, 1], padding="SAME")
    expected = numpool.reduce_window(x, reducer, (2, 2, 3, 2), stride=(1, 2, 1, 1), padding="same",
                                     layout="channels_last", **kwargs)
    np.testing.assert_array_equal(out, expected)
    cf = np.ascontiguousarray(np.moveaxis(x, -1, 1))
    np.testing.assert_array_equal(L.pool(cf, [2, 2, 3, 2], pooling_type, strides=[1, 2, 1, 1], padding="SAME",
                                         data_format="NCXYZT"), np.moveaxis(expected, -1, 1))
    g = _rand(*out.shape)
    np.testing.assert_array_equal(
        L.pool_backward(g, x, [2, 2, 3, 2], pooling_type, strides=[1, 2, 1, 1], padding="SAME"),
        numpool.reduce_window_backward(g, x, reducer, (2, 2, 3, 2), stride=(1, 2, 1, 1), padding="same",
                                       layout="channels_last", **kwargs))


def test_pool_backward_follows_tensorflow_per_rank():
    x = np.ones((1, 2, 2, 1), np.float32)  # one window, four tied maxima
    assert L.pool_backward(np.ones((1, 1, 1, 1), np.float32), x, [2, 2], "MAX").sum() == 1  # 2-D: one cell
    x3 = np.ones((1, 2, 2, 2, 1), np.float32)
    assert L.pool_backward(np.ones((1, 1, 1, 1, 1), np.float32), x3, [2, 2, 2], "MAX").sum() == 8  # 3-D: all


def test_pool_defaults_dilation_and_formats():
    x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
    # strides default to 1, not to the window (tf.nn.pool)
    np.testing.assert_array_equal(L.pool(x, [2, 2], "MAX")[0, :, :, 0], [[5, 6, 7], [9, 10, 11], [13, 14, 15]])
    # AVG SAME divides by the cells inside: the last column's windows hold 2 cells, the corner 1
    np.testing.assert_array_equal(L.pool(x, [2, 2], "AVG", strides=[2, 2], padding="SAME")[0, :, :, 0],
                                  [[2.5, 4.5], [10.5, 12.5]])
    np.testing.assert_array_equal(L.pool(x[:, :3, :3], [2, 2], "AVG", padding="SAME")[0, :, :, 0],
                                  [[2.5, 3.5, 4], [6.5, 7.5, 8], [8.5, 9.5, 10]])
    # dilation together with a stride (TensorFlow refuses; numpool does not)
    y = _rand(2, 11, 10, 3)
    out = L.pool(y, [2, 3], "MAX", strides=[2, 2], dilation_rate=[2, 2])
    np.testing.assert_array_equal(out, numpool.max_pool2d(y, (2, 3), stride=2, dilation=2, layout="channels_last"))
    np.testing.assert_array_equal(L.pool(y, [2, 3], "MAX", strides=2, dilations=[2, 2]), out)
    cf = np.ascontiguousarray(y.transpose(0, 3, 1, 2))
    np.testing.assert_array_equal(L.pool(cf, [2, 3], "MAX", strides=[2, 2], dilation_rate=2, data_format="NCHW"),
                                  out.transpose(0, 3, 1, 2))
    np.testing.assert_array_equal(L.pool(y, [2, 3], "max", padding="same", data_format="NHWC"),
                                  numpool.max_pool2d(y, (2, 3), stride=1, padding="same", layout="channels_last"))


@pytest.mark.parametrize("call, words", [
    (lambda: L.pool(np.zeros((1, 4, 4, 1)), [2, 2], "MEDIAN"), "pooling_type='MEDIAN'"),
    (lambda: L.pool(np.zeros((1, 4, 4, 1)), [2, 2], "MAX", padding="FULL"), "padding='FULL'"),
    (lambda: L.pool(np.zeros((1, 4, 4, 1)), [2, 2], "MAX", data_format="NCW"), "data_format='NCW'"),
    (lambda: L.pool(np.zeros((1, 4, 4, 1)), [2, 2, 2, 2], "MAX"), "rank 6"),
    (lambda: L.pool(np.zeros((1, 4, 4, 1)), [], "MAX"), "window_shape"),
    (lambda: L.pool(np.zeros((1, 2, 2, 2, 2, 1)), [2, 2, 2, 2], "MAX", data_format="NCHW"), "data_format='NCHW'"),
    (lambda: L.pool(np.zeros((4, 4, 1)), [2, 2], "MAX"), "shape (4, 4, 1)"),
    (lambda: L.pool(np.zeros((1, 4, 4, 1)), [2, 2], "MAX", dilation_rate=1, dilations=1), "not both"),
    (lambda: L.MaxPooling2D(padding="full"), "padding='full'"),
    (lambda: L.MaxPooling2D(strides=0), "strides=0"),
    (lambda: L.AveragePooling1D(data_format="nchw"), "data_format='nchw'"),
    (lambda: L.UpSampling2D(interpolation="bicubic"), "interpolation='bicubic'"),
    (lambda: L.ReLU(max_value=4), "max_value=4"),
    (lambda: L.ReLU(threshold=1.0), "threshold=1.0"),
    (lambda: L.ReLU(max_value="6"), "max_value='6'"),
    (lambda: L.Dense(3, activation="softmax"), "activation='softmax'"),
    (lambda: L.Dense(0), "units=0"),
    (lambda: L.Conv2D(4, 3, padding="causal"), "padding='causal'"),
    (lambda: L.GlobalMaxPooling2D(keepdims=1), "keepdims=1"),
    (lambda: L.MaxPooling2D()(np.zeros((4, 4, 1))), "shape (4, 4, 1)"),
    (lambda: L.MaxPooling2D().backward(np.zeros((1, 2, 2, 1))), "before forward"),
])
def test_errors_name_the_argument(call, words):
    with pytest.raises(ParameterError, match=None) as info:
        call()
    assert words in str(info.value)


def test_dtype_error():
    with pytest.raises(DTypeError, match="dtype='int32'"):
        L.Dense(3, dtype="int32")
