"""Lp pooling: the true norm (ONNX LpPool) and PyTorch's signed power sum."""

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import numpool
from numpool import ParameterError


def _moved(a, layout):
    return a if layout == "channels_first" else np.ascontiguousarray(np.moveaxis(a, 1, -1))


def _back(a, layout):
    return a if layout == "channels_first" else np.moveaxis(a, -1, 1)


def test_hand_cases():
    x = np.array([[[3.0, -4.0, 1.0, 0.0]]])
    np.testing.assert_array_equal(numpool.lp_pool1d(x, 2, 2), [[[5.0, 1.0]]])
    np.testing.assert_array_equal(numpool.lp_pool1d(x, 1, 2), [[[7.0, 1.0]]])  # |3| + |-4|
    np.testing.assert_array_equal(numpool.lp_pool1d(x, 1, 2, signed=True), [[[-1.0, 1.0]]])  # 3 + -4
    np.testing.assert_array_equal(numpool.lp_pool1d(x, np.inf, 2), [[[4.0, 1.0]]])
    np.testing.assert_array_equal(numpool.lp_pool1d(x, -np.inf, 2), [[[3.0, 0.0]]])


def test_signed_ceil_mode_over_scales_border_windows_like_pytorch():
    # window 2 over a length-3 input with ceil_mode: the last window holds one cell, whose
    # power average is multiplied by the full kernel size 2
    x = np.array([[[1.0, 1.0, 2.0]]])
    np.testing.assert_allclose(numpool.lp_pool1d(x, 2, 2, ceil_mode=True, signed=True), [[[np.sqrt(2), np.sqrt(8)]]])
    np.testing.assert_allclose(numpool.lp_pool1d(x, 2, 2, ceil_mode=True), [[[np.sqrt(2), 2.0]]])


@pytest.mark.parametrize("layout", ["channels_first", "channels_last"])
@pytest.mark.parametrize("nd, p, k, s, ceil_mode",
                         list(itertools.product((1, 2, 3), (1, 2, 3, 1.5, np.inf, -np.inf), (2, 3), (1, 2), (False, True))))
def test_signed_matches_torch(nd, p, k, s, ceil_mode, layout):
    rng = np.random.default_rng(nd * 100 + k * 10 + s)
    x = rng.standard_normal((2, 3) + (7,) * nd)
    if p == 1.5:
        x = np.abs(x)  # the signed form is NaN for negative sums at fractional p
    xt = torch.from_numpy(x).requires_grad_(True)
    y = getattr(F, f"lp_pool{nd}d")(xt, p, k, s, ceil_mode)
    g = rng.standard_normal(tuple(y.shape))
    y.backward(torch.from_numpy(g))
    kw = dict(ceil_mode=ceil_mode, signed=True, layout=layout)
    out = getattr(numpool, f"lp_pool{nd}d")(_moved(x, layout), p, k, s, **kw)
    grad = getattr(numpool, f"lp_pool{nd}d_backward")(_moved(g, layout), _moved(x, layout), p, k, s, **kw)
    np.testing.assert_allclose(_back(out, layout), y.detach().numpy(), rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(_back(grad, layout), xt.grad.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("p", [1, 2, 3, 0.5])
def test_true_norm_with_padding_and_dilation(p):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 2, 6, 7))
    out = numpool.lp_pool2d(x, p, 2, 2, padding=1, dilation=2)
    xp = np.pad(np.abs(x), ((0, 0), (0, 0), (1, 1), (1, 1)))
    for i, j in itertools.product(range(out.shape[2]), range(out.shape[3])):
        window = xp[:, :, 2 * i:2 * i + 3:2, 2 * j:2 * j + 3:2]
        np.testing.assert_allclose(out[:, :, i, j], (window ** p).sum(axis=(2, 3)) ** (1 / p))


@pytest.mark.parametrize("signed", [False, True])
@pytest.mark.parametrize("p", [1, 2, 3, np.inf])
def test_gradient_by_finite_differences(p, signed):
    rng = np.random.default_rng(4)
    x = rng.permutation(np.arange(1, 2 * 2 * 36 + 1)).reshape(2, 2, 6, 6) * 0.05 * rng.choice([-1, 1], (2, 2, 6, 6))
    if signed and p != 1:
        x = np.abs(x)
    kw = dict(stride=2, padding=1, signed=signed)
    w = rng.standard_normal(numpool.lp_pool2d(x, p, 3, **kw).shape)
    grad = numpool.lp_pool2d_backward(w, x, p, 3, **kw)
    eps = 1e-6
    for flat in rng.choice(x.size, 20, replace=False):
        e = np.zeros(x.size)
        e[flat] = eps
        e = e.reshape(x.shape)
        numeric = ((numpool.lp_pool2d(x + e, p, 3, **kw) - numpool.lp_pool2d(x - e, p, 3, **kw)) * w).sum() / (2 * eps)
        assert abs(numeric - grad.reshape(-1)[flat]) < 1e-5


def test_float32_and_float16_keep_dtype():
    x = np.random.default_rng(5).standard_normal((2, 3, 8, 8)).astype(np.float32)
    want = numpool.lp_pool2d(x.astype(np.float64), 2, 2)
    assert numpool.lp_pool2d(x, 2, 2).dtype == np.float32
    np.testing.assert_allclose(numpool.lp_pool2d(x, 2, 2), want, rtol=1e-6)
    assert numpool.lp_pool2d(x.astype(np.float16), 2, 2).dtype == np.float16


@pytest.mark.parametrize("norm_type", [0, -1, "2", None, True])
def test_bad_norm_type(norm_type):
    with pytest.raises(ParameterError, match="`norm_type`"):
        numpool.lp_pool2d(np.ones((1, 1, 4, 4)), norm_type, 2)
