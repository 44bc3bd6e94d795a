"""Adaptive and global pooling: hand cases, PyTorch differential tests, gradients, errors."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import numpool
from numpool import DTypeError, ParameterError


def to_layout(a, nd, layout):
    """A channels-first array in ``layout`` (contiguous)."""
    if layout == "channels_first":
        return a
    return np.ascontiguousarray(np.moveaxis(a, 1, -1))


def from_layout(a, nd, layout):
    return a if layout == "channels_first" else np.moveaxis(a, -1, 1)


def bins(size, out):
    """PyTorch's adaptive bins, written out directly."""
    return [(int(np.floor(i * size / out)), int(np.ceil((i + 1) * size / out))) for i in range(out)]


# ---------------------------------------------------------------------------------------
# hand-computed cases


def test_bins_overlap_when_output_does_not_divide_input():
    x = np.array([[[1.0, 5.0, 2.0, 4.0, 3.0]]])
    assert bins(5, 3) == [(0, 2), (1, 4), (3, 5)]
    out, idx = numpool.adaptive_max_pool1d(x, 3, return_indices=True)
    np.testing.assert_array_equal(out, [[[5.0, 5.0, 4.0]]])
    np.testing.assert_array_equal(idx, [[[1, 1, 3]]])
    np.testing.assert_allclose(numpool.adaptive_avg_pool1d(x, 3), [[[3.0, 11.0 / 3, 3.5]]])


def test_output_larger_than_input_repeats_cells():
    x = np.array([[[1.0, 2.0]]])
    np.testing.assert_array_equal(numpool.adaptive_max_pool1d(x, 4), [[[1.0, 1.0, 2.0, 2.0]]])
    np.testing.assert_array_equal(numpool.adaptive_avg_pool1d(x, 3), [[[1.0, 1.5, 2.0]]])
    # the backward adds every bin's share: cell 0 is in bins 0 and 1 of avg to size 3
    g = numpool.adaptive_avg_pool1d_backward(np.ones((1, 1, 3)), x, 3)
    np.testing.assert_array_equal(g, [[[1.5, 1.5]]])


def test_none_keeps_a_dimension_and_ties_go_first():
    x = np.zeros((1, 1, 3, 4), dtype=np.float32)
    out, idx = numpool.adaptive_max_pool2d(x, (1, None), return_indices=True)
    assert out.shape == (1, 1, 1, 4)
    np.testing.assert_array_equal(idx[0, 0, 0], [0, 1, 2, 3])  # first row wins every tie


def test_nan_propagates_with_the_last_nan_index():
    x = np.array([[[np.nan, 1.0, np.nan, 0.0]]], dtype=np.float32)
    out, idx = numpool.adaptive_max_pool1d(x, 1, return_indices=True)
    assert np.isnan(out).all() and idx.item() == 2


def test_global_pools_shapes_and_values():
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float64).reshape(2, 3, 4, 5)
    np.testing.assert_array_equal(numpool.global_max_pool(x), x.max(axis=(2, 3)))
    np.testing.assert_allclose(numpool.global_avg_pool(x), x.mean(axis=(2, 3)))
    assert numpool.global_max_pool(x, keepdims=True).shape == (2, 3, 1, 1)
    xl = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(numpool.global_max_pool(xl, layout="channels_last"), x.max(axis=(2, 3)))
    assert numpool.global_avg_pool(xl, keepdims=True, layout="channels_last").shape == (2, 1, 1, 3)
    for nd in (1, 3):
        y = np.random.default_rng(nd).standard_normal((2, 3) + (4,) * nd)
        np.testing.assert_allclose(numpool.global_avg_pool(y), y.mean(axis=tuple(range(2, 2 + nd))))


def test_global_backward():
    x = np.array([[[[1.0, 4.0], [4.0, 2.0]]]])
    g = numpool.global_max_pool_backward(np.array([[2.0]]), x)
    np.testing.assert_array_equal(g, [[[[0.0, 2.0], [0.0, 0.0]]]])  # the first of the tied maxima
    g = numpool.global_avg_pool_backward(np.array([[[[2.0]]]]), x, keepdims=True)
    np.testing.assert_array_equal(g, np.full((1, 1, 2, 2), 0.5))


# ---------------------------------------------------------------------------------------
# against PyTorch

LAYOUTS = ["channels_first", "channels_last"]


def _torch_case(nd, spatial, out, seed, ties):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 3) + tuple(spatial)).astype(np.float32)
    if ties:
        x = np.round(x)
    xt = torch.from_numpy(x).requires_grad_(True)
    y, idx = getattr(F, f"adaptive_max_pool{nd}d")(xt, out, return_indices=True)
    g = rng.standard_normal(tuple(y.shape)).astype(np.float32)
    y.backward(torch.from_numpy(g))
    gmax = xt.grad.numpy().copy()
    xt.grad = None
    ya = getattr(F, f"adaptive_avg_pool{nd}d")(xt, out)
    ya.backward(torch.from_numpy(g))
    return x, g, y.detach().numpy(), idx.numpy(), gmax, ya.detach().numpy(), xt.grad.numpy()


def _check_against_torch(nd, spatial, out, seed, ties, layout):
    x, g, ymax, idx, gmax, yavg, gavg = _torch_case(nd, spatial, out, seed, ties)
    xin, gin = to_layout(x, nd, layout), to_layout(g, nd, layout)
    before = xin.copy()
    o, oi = getattr(numpool, f"adaptive_max_pool{nd}d")(xin, out, return_indices=True, layout=layout)
    np.testing.assert_array_equal(from_layout(o, nd, layout), ymax)
    np.testing.assert_array_equal(from_layout(oi, nd, layout), idx)
    for kw in ({}, {"indices": oi}):
        gm = getattr(numpool, f"adaptive_max_pool{nd}d_backward")(gin, xin, out, layout=layout, **kw)
        np.testing.assert_array_equal(from_layout(gm, nd, layout), gmax)
    oa = from_layout(getattr(numpool, f"adaptive_avg_pool{nd}d")(xin, out, layout=layout), nd, layout)
    ga = from_layout(getattr(numpool, f"adaptive_avg_pool{nd}d_backward")(gin, xin, out, layout=layout), nd, layout)
    if all(o_ == 1 for o_ in np.broadcast_to(out, (nd,))):
        # PyTorch computes a 1x1 adaptive average with mean(), a different summation order
        np.testing.assert_allclose(oa, yavg, rtol=1e-6, atol=1e-7)
    else:
        np.testing.assert_array_equal(oa, yavg)  # same order, same per-axis division
    np.testing.assert_allclose(ga, gavg, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(xin, before)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("nd, spatial, out", [
    (1, (7,), 3), (1, (5,), 8), (1, (9,), 1), (2, (7, 9), (3, 4)), (2, (4, 4), (4, 4)),
    (2, (5, 3), (7, 2)), (2, (7, 7), 1), (3, (5, 6, 7), (2, 3, 4)), (3, (3, 4, 2), (4, 1, 3)),
])
def test_matches_torch(nd, spatial, out, layout):
    _check_against_torch(nd, spatial, out, 0, False, layout)
    _check_against_torch(nd, spatial, out, 1, True, layout)


@pytest.mark.sweep
@settings(deadline=None)
@given(data=st.data(), nd=st.integers(1, 3), layout=st.sampled_from(LAYOUTS), ties=st.booleans())
def test_matches_torch_random(data, nd, layout, ties):
    spatial = data.draw(st.lists(st.integers(1, 11), min_size=nd, max_size=nd))
    out = tuple(data.draw(st.lists(st.integers(1, 13), min_size=nd, max_size=nd)))
    _check_against_torch(nd, spatial, out, data.draw(st.integers(0, 2**16)), ties, layout)


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int32, np.int64, np.float16, np.float64, np.bool_])
def test_max_dtypes_keep_their_dtype(dtype):
    rng = np.random.default_rng(5)
    x = (rng.integers(0, 2, (2, 3, 7, 5)) if dtype == np.bool_ else rng.integers(-9, 9, (2, 3, 7, 5))).astype(dtype)
    out, idx = numpool.adaptive_max_pool2d(x, (3, 2), return_indices=True)
    assert out.dtype == dtype
    ref = x.astype(np.float32) if dtype != np.float64 else x
    yt, it = F.adaptive_max_pool2d(torch.from_numpy(np.ascontiguousarray(ref)), (3, 2), return_indices=True)
    np.testing.assert_array_equal(out.astype(ref.dtype), yt.numpy())
    np.testing.assert_array_equal(idx, it.numpy())


def test_unbatched_and_non_contiguous():
    x = np.random.default_rng(6).standard_normal((3, 8, 10)).astype(np.float32)
    want = numpool.adaptive_avg_pool2d(x[None], (3, 4))[0]
    np.testing.assert_array_equal(numpool.adaptive_avg_pool2d(x, (3, 4)), want)
    strided = np.random.default_rng(7).standard_normal((2, 6, 16, 20)).astype(np.float32)[:, ::2, ::2, ::2]
    np.testing.assert_array_equal(numpool.adaptive_max_pool2d(strided, 3),
                                  numpool.adaptive_max_pool2d(np.ascontiguousarray(strided), 3))


def test_gradients_by_finite_differences():
    rng = np.random.default_rng(8)
    for nd, out in ((1, 3), (2, (2, 3)), (3, (2, 1, 2))):
        x = rng.permutation(np.arange(2 * 3 * 5**nd)).reshape((2, 3) + (5,) * nd) * 0.1  # unique values
        for kind in ("max", "avg"):
            fwd = getattr(numpool, f"adaptive_{kind}_pool{nd}d")
            bwd = getattr(numpool, f"adaptive_{kind}_pool{nd}d_backward")
            w = rng.standard_normal(fwd(x, out).shape)
            grad = bwd(w, x, out)
            eps = 1e-6
            for flat in rng.choice(x.size, 12, replace=False):
                e = np.zeros(x.size)
                e[flat] = eps
                e = e.reshape(x.shape)
                numeric = ((fwd(x + e, out) * w).sum() - (fwd(x - e, out) * w).sum()) / (2 * eps)
                assert abs(numeric - grad.reshape(-1)[flat]) < 1e-6


# ---------------------------------------------------------------------------------------
# errors


@pytest.mark.parametrize("output_size", [0, -1, (2,), (2, 3, 4), 2.0, (2, "a"), True, 2**40])
def test_bad_output_size(output_size):
    with pytest.raises(ParameterError, match="`output_size`"):
        numpool.adaptive_max_pool2d(np.zeros((1, 1, 4, 4)), output_size)


def test_global_errors():
    with pytest.raises(ParameterError, match="batched input"):
        numpool.global_max_pool(np.zeros((3, 4)))
    with pytest.raises(ParameterError, match="`grad_output`"):
        numpool.global_avg_pool_backward(np.zeros((2, 2)), np.zeros((1, 3, 4, 4)))
    with pytest.raises(ParameterError, match="`keepdims`"):
        numpool.global_avg_pool(np.zeros((1, 3, 4, 4)), keepdims=1)
    with pytest.raises(DTypeError, match="int32"):
        numpool.adaptive_avg_pool2d(np.zeros((1, 1, 4, 4), np.int32), 2)
    for fn in (numpool.global_max_pool, numpool.global_avg_pool):
        with pytest.raises(DTypeError, match="`x` must be array-like"):
            fn([[[1.0, 2.0], [3.0]]])
