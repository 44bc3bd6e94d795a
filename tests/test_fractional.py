"""Fractional max pooling: PyTorch's windows and values bit for bit given the same samples."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import numpool
from numpool import ParameterError
from numpool._params import fractional_starts


def test_window_starts_by_hand():
    # L=5, k=2, O=3: alpha = 3/2; u = 0.5: starts int(0.75)-int(0.75)=0, int(2.25)-0=2, then L-k=3
    starts = fractional_starts(np.array([0.5], np.float32), 5, 3, 2, np.dtype(np.float32))
    np.testing.assert_array_equal(starts, [[0, 2, 3]])
    x = np.arange(25.0).reshape(1, 1, 5, 5)
    out = numpool.fractional_max_pool2d(x, 2, output_size=3, random_samples=np.full((1, 1, 2), 0.5))
    np.testing.assert_array_equal(out[0, 0], [[6, 8, 9], [16, 18, 19], [21, 23, 24]])


def _moved(a, layout):
    return a if layout == "channels_first" else np.ascontiguousarray(np.moveaxis(a, 1, -1))


def _back(a, layout):
    return a if layout == "channels_first" else np.moveaxis(a, -1, 1)


def _check(nd, spatial, kernel, outs, dtype, seed, layout, ties=False):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 3) + tuple(spatial)).astype(dtype)
    if ties:
        x = np.round(x)
    u = rng.random((2, 3, nd)).astype(dtype)
    xt = torch.from_numpy(x).requires_grad_(True)
    y, idx = getattr(F, f"fractional_max_pool{nd}d")(xt, kernel, output_size=outs, return_indices=True,
                                                     _random_samples=torch.from_numpy(u))
    g = rng.standard_normal(tuple(y.shape)).astype(dtype)
    y.backward(torch.from_numpy(g))
    fwd = getattr(numpool, f"fractional_max_pool{nd}d")
    bwd = getattr(numpool, f"fractional_max_pool{nd}d_backward")
    out, oi = fwd(_moved(x, layout), kernel, output_size=outs, return_indices=True, random_samples=u, layout=layout)
    np.testing.assert_array_equal(_back(out, layout), y.detach().numpy())
    np.testing.assert_array_equal(_back(oi, layout), idx.numpy())
    for kw in (dict(random_samples=u), dict(indices=oi)):
        grad = bwd(_moved(g, layout), _moved(x, layout), kernel, output_size=outs, layout=layout, **kw)
        np.testing.assert_array_equal(_back(grad, layout), xt.grad.numpy())


@pytest.mark.parametrize("layout", ["channels_first", "channels_last"])
@pytest.mark.parametrize("nd, spatial, kernel, outs", [
    (2, (7, 9), 2, (3, 4)), (2, (5, 5), 3, 3), (2, (6, 4), (2, 1), (5, 4)), (2, (8, 8), 2, 1),
    (3, (6, 7, 8), 2, (3, 4, 5)), (3, (5, 5, 5), (1, 2, 3), (2, 2, 2)),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matches_torch(nd, spatial, kernel, outs, dtype, layout):
    _check(nd, spatial, kernel, outs, dtype, 0, layout)
    _check(nd, spatial, kernel, outs, dtype, 1, layout, ties=True)


@pytest.mark.sweep
@settings(deadline=None)
@given(data=st.data(), nd=st.sampled_from([2, 3]), layout=st.sampled_from(["channels_first", "channels_last"]))
def test_matches_torch_random(data, nd, layout):
    spatial = data.draw(st.lists(st.integers(2, 12), min_size=nd, max_size=nd))
    kernel = tuple(data.draw(st.integers(1, s - (1 if nd == 3 else 0))) for s in spatial)
    # PyTorch's 3-D version needs out + k - 1 < L (its 2-D version <= L)
    outs = tuple(data.draw(st.integers(1, s - k + (1 if nd == 2 else 0))) for s, k in zip(spatial, kernel))
    _check(nd, spatial, kernel, outs, data.draw(st.sampled_from([np.float32, np.float64])),
           data.draw(st.integers(0, 2**16)), layout)


def test_output_ratio_seed_and_dtypes():
    x = np.random.default_rng(2).integers(-50, 50, (2, 3, 10, 12)).astype(np.int16)
    a = numpool.fractional_max_pool2d(x, 2, output_ratio=0.5, seed=7)
    b = numpool.fractional_max_pool2d(x, 2, output_ratio=(0.5, 0.5), seed=7)
    assert a.shape == (2, 3, 5, 6) and a.dtype == np.int16
    np.testing.assert_array_equal(a, b)  # same seed, same windows
    unbatched = numpool.fractional_max_pool2d(x[0].astype(np.float32), 2, output_size=4,
                                              random_samples=np.full((3, 2), 0.25))
    assert unbatched.shape == (3, 4, 4)
    # 3-D with out + k - 1 == L, which PyTorch's 3-D version refuses: windows 0, 1, 2
    y = numpool.fractional_max_pool3d(np.arange(64.0).reshape(1, 1, 4, 4, 4), 2, output_size=3, seed=0)
    np.testing.assert_array_equal(y[0, 0, :, 0, 0], [21.0, 37.0, 53.0])


@pytest.mark.parametrize("kwargs, match", [
    (dict(kernel_size=2), "exactly one"),
    (dict(kernel_size=2, output_size=3, output_ratio=0.5), "exactly one"),
    (dict(kernel_size=4, output_size=4), "does not fit"),
    (dict(kernel_size=2, output_ratio=1.5), "`output_ratio`"),
    (dict(kernel_size=2, output_size=3, random_samples=np.full((1, 1, 2), 1.0)), r"\[0, 1\)"),
    (dict(kernel_size=2, output_size=3, random_samples=np.full((1, 2, 2), 0.5)), "`random_samples`"),
    (dict(kernel_size=2, output_size=3, random_samples=np.full((1, 1, 2), 0.5), seed=1), "not both"),
])
def test_errors(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        numpool.fractional_max_pool2d(np.zeros((1, 1, 6, 6)), **kwargs)


def test_backward_needs_the_windows():
    with pytest.raises(ParameterError, match="`indices`"):
        numpool.fractional_max_pool2d_backward(np.zeros((1, 1, 3, 3)), np.zeros((1, 1, 6, 6)), 2, output_size=3)
