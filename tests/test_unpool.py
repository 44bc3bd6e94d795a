"""Max unpooling: hand cases, PyTorch differential tests and autograd, round trips, errors."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import numpool
from numpool import DTypeError, ParameterError
from numpool.unpool import (max_unpool1d, max_unpool1d_backward, max_unpool2d, max_unpool2d_backward,
                            max_unpool3d, max_unpool3d_backward)

from helpers import arrange, assert_identical, to_channels_first

UNPOOL = {1: max_unpool1d, 2: max_unpool2d, 3: max_unpool3d}
BACKWARD = {1: max_unpool1d_backward, 2: max_unpool2d_backward, 3: max_unpool3d_backward}
LAYOUT_CASES = ["cf", "cl", "cf_in_cl_memory", "cl_in_cf_memory", "cf_strided", "cl_transposed"]


def ref_unpool(x_cf, idx_cf, out_spatial):
    """The definition, one plane at a time: later inputs overwrite earlier ones."""
    n, c = x_cf.shape[:2]
    out = np.zeros((n, c, int(np.prod(out_spatial))), dtype=x_cf.dtype)
    for p in range(n):
        for q in range(c):
            for v, i in zip(x_cf[p, q].ravel(), idx_cf[p, q].ravel()):
                if i >= 0:
                    out[p, q, i] = v
    return out.reshape((n, c) + tuple(out_spatial))


def call(fn, x_cf, idx_cf, case, *, grad_cf=None, batched=True, **kwargs):
    """``fn`` on arrays laid out for ``case``; inputs checked untouched; result channels-first."""
    x, layout = arrange(x_cf if batched else x_cf[0], case, batched)
    idx = arrange(idx_cf if batched else idx_cf[0], case, batched)[0]
    arrays = [idx, x]
    if grad_cf is not None:
        arrays.append(arrange(grad_cf if batched else grad_cf[0], case, batched)[0])
    before = [a.copy() for a in arrays]
    if grad_cf is None:
        result = fn(x, idx, layout=layout, **kwargs)
    else:
        result = fn(arrays[2], x, idx, layout=layout, **kwargs)
    for a, b in zip(arrays, before):
        assert_identical(a, b)
    result = to_channels_first(result, layout, batched)
    return result if batched else result[np.newaxis]


# ---------------------------------------------------------------------------------------
# hand-computed cases


def test_places_each_value_at_its_index():
    x = np.array([[[3.0, 5.0, 4.0]]])
    idx = np.array([[[1, 3, 4]]])
    np.testing.assert_array_equal(max_unpool1d(x, idx, 2), [[[0.0, 3.0, 0.0, 5.0, 4.0, 0.0]]])
    # output_size picks one of the sizes pooling maps to 3 windows: 6 or 7 (not 5 or 8)
    out = max_unpool1d(x, idx, 2, output_size=(1, 1, 7))
    np.testing.assert_array_equal(out, [[[0.0, 3.0, 0.0, 5.0, 4.0, 0.0, 0.0]]])
    # padding shrinks the default size: (3 - 1) * 2 - 2 + 2 = 4
    assert max_unpool1d(x, np.array([[[0, 1, 3]]]), 2, padding=1).shape == (1, 1, 4)


def test_duplicate_indices_last_input_wins_and_gradient_goes_to_all():
    x = np.array([[[1.0, 2.0, 3.0, 4.0]]])
    idx = np.array([[[0, 0, 1, 0]]])
    out = max_unpool1d(x, idx, 2, stride=1)
    np.testing.assert_array_equal(out, [[[4.0, 3.0, 0.0, 0.0, 0.0]]])
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # with more, PyTorch splits a plane's inputs and any duplicate may win
    try:
        t = F.max_unpool1d(torch.from_numpy(x), torch.from_numpy(idx), 2, stride=1)
    finally:
        torch.set_num_threads(threads)
    np.testing.assert_array_equal(out, t.numpy())
    g = max_unpool1d_backward(np.array([[[10.0, 20.0, 30.0, 40.0, 50.0]]]), x, idx, 2, stride=1)
    np.testing.assert_array_equal(g, [[[10.0, 10.0, 20.0, 10.0]]])


@pytest.mark.parametrize("case", ["cf", "cl"])
def test_duplicates_on_a_large_plane_are_deterministic(case):
    # PyTorch splits a plane between threads, so its winner can vary; numpool's cannot
    n = 20000
    x_cf = np.arange(1.0, 2 * 3 * n + 1).reshape(2, 3, n)
    idx_cf = np.zeros((2, 3, n), dtype=np.int64)
    out = call(max_unpool1d, x_cf, idx_cf, case, kernel_size=2)
    np.testing.assert_array_equal(out[:, :, 0], x_cf[:, :, -1])
    assert not out[:, :, 1:].any()


def test_minus_one_places_nothing_and_gets_no_gradient():
    x = np.array([[[7.0, 8.0]]], dtype=np.float32)
    idx = np.array([[[-1, 2]]])
    np.testing.assert_array_equal(max_unpool1d(x, idx, 2), [[[0.0, 0.0, 8.0, 0.0]]])
    g = max_unpool1d_backward(np.ones((1, 1, 4), np.float32), x, idx, 2)
    np.testing.assert_array_equal(g, [[[0.0, 1.0]]])


@pytest.mark.parametrize("dtype", [np.bool_, np.int8, np.uint16, np.int32, np.int64, np.float16, np.float64,
                                   np.dtype(">f4"), np.dtype(">i8")])
def test_every_dtype_is_moved_bit_for_bit(dtype):
    rng = np.random.default_rng(3)
    x = rng.integers(-3, 4, (2, 3, 4, 5)).astype(dtype)
    if np.dtype(dtype).kind == "f":
        x[0, 0, 0, 0] = -0.0
        x[0, 0, 0, 1] = np.nan
    idx = np.stack([rng.permutation(99)[:20] for _ in range(6)]).reshape(2, 3, 4, 5)
    out = max_unpool2d(x, idx, (3, 2), output_size=(10, 10))
    assert out.dtype == x.dtype and out.shape == (2, 3, 10, 10)
    assert_identical(out, ref_unpool(x, idx, (10, 10)).astype(x.dtype))
    if np.dtype(dtype).kind != "b":
        g = rng.integers(-5, 5, out.shape).astype(dtype)
        gx = max_unpool2d_backward(g, x, idx, (3, 2), output_size=(10, 10))
        assert gx.dtype == x.dtype
        expect = np.take_along_axis(g.reshape(2, 3, -1), idx.reshape(2, 3, -1), axis=2).reshape(x.shape)
        assert_identical(gx, expect.astype(x.dtype))


# ---------------------------------------------------------------------------------------
# against PyTorch (forward and autograd), with indices from max pooling


def torch_unpool(x_cf, idx_cf, grad_cf, kernel, stride, padding, output_size):
    nd = x_cf.ndim - 2
    t = torch.from_numpy(x_cf.copy()).requires_grad_(True)
    out = getattr(F, f"max_unpool{nd}d")(t, torch.from_numpy(idx_cf), kernel, stride, padding, output_size)
    out.backward(torch.from_numpy(grad_cf))
    return out.detach().numpy(), t.grad.numpy()


def check_against_torch(nd, spatial, kernel, stride, padding, seed, case, full_size=False):
    """Pool with PyTorch, unpool the result with numpool and PyTorch; compare out and gradient."""
    rng = np.random.default_rng(seed)
    x0 = rng.standard_normal((2, 3) + tuple(spatial)).astype(np.float32)
    pooled, idx = getattr(F, f"max_pool{nd}d")(torch.from_numpy(x0), kernel, stride, padding,
                                                return_indices=True)
    x_cf, idx_cf = pooled.numpy(), idx.numpy()
    # the pooled input's size: the default when pooling used every cell, else passed as output_size
    default = [(i - 1) * s - 2 * p + k for i, s, p, k in zip(x_cf.shape[2:], _nd(stride or kernel, nd),
                                                             _nd(padding, nd), _nd(kernel, nd))]
    output_size = None if list(spatial) == default and not full_size else list(spatial)
    if full_size:
        output_size = [2, 3] + output_size  # PyTorch ignores the N, C entries
    out_spatial = tuple(spatial)
    g_cf = rng.standard_normal((2, 3) + out_spatial).astype(np.float32)
    expect, expect_grad = torch_unpool(x_cf, idx_cf, g_cf, kernel, stride, padding, output_size)
    kwargs = dict(kernel_size=kernel, stride=stride, padding=padding, output_size=output_size)
    for batched in (True, False):
        out = call(UNPOOL[nd], x_cf, idx_cf, case, batched=batched, **kwargs)
        assert_identical(out, expect if batched else expect[:1])
        grad = call(BACKWARD[nd], x_cf, idx_cf, case, grad_cf=g_cf, batched=batched, **kwargs)
        assert_identical(grad, expect_grad if batched else expect_grad[:1])
    assert_identical(expect, ref_unpool(x_cf, idx_cf, out_spatial))


def _nd(value, nd):
    return (value,) * nd if isinstance(value, int) else tuple(value)


@pytest.mark.parametrize("case", LAYOUT_CASES)
@pytest.mark.parametrize("nd, spatial, kernel, stride, padding", [
    (1, (11,), 3, 2, 1), (1, (8,), 2, None, 0),
    (2, (7, 9), (3, 2), (2, 1), (1, 1)), (2, (6, 6), 2, None, 0),
    (3, (4, 5, 6), 2, (1, 2, 2), (1, 0, 1)), (3, (4, 4, 4), 2, None, 0),
])
@pytest.mark.parametrize("full_size", [False, True])
def test_matches_torch(nd, spatial, kernel, stride, padding, case, full_size):
    check_against_torch(nd, spatial, kernel, stride, padding, 0, case, full_size)


@pytest.mark.sweep
@settings(deadline=None)
@given(data=st.data(), nd=st.integers(1, 3), case=st.sampled_from(["cf", "cl"]), full_size=st.booleans())
def test_matches_torch_random(data, nd, case, full_size):
    kernel = tuple(data.draw(st.lists(st.integers(1, 3), min_size=nd, max_size=nd)))
    stride = tuple(data.draw(st.lists(st.integers(1, 3), min_size=nd, max_size=nd)))
    padding = tuple(data.draw(st.integers(0, k // 2)) for k in kernel)
    spatial = tuple(data.draw(st.integers(k, 7)) for k in kernel)
    check_against_torch(nd, spatial, kernel, stride, padding, data.draw(st.integers(0, 2**16)), case, full_size)


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_round_trip_with_numpool_indices(nd):
    rng = np.random.default_rng(nd)
    x = rng.permutation(2 * 3 * 6**nd).reshape((2, 3) + (6,) * nd).astype(np.float64)
    pooled, idx = getattr(numpool, f"max_pool{nd}d")(x, 2, return_indices=True)
    out = UNPOOL[nd](pooled, idx, 2)
    kept = out != 0
    np.testing.assert_array_equal(out[kept], x[kept])  # the maxima in place, zeros elsewhere
    assert kept.sum() == pooled.size
    np.testing.assert_array_equal(getattr(numpool, f"max_pool{nd}d")(out, 2), pooled)
    # channels-last pooling gives the same per-plane indices, laid out channels-last
    xl = np.ascontiguousarray(np.moveaxis(x, 1, -1))
    pl, il = getattr(numpool, f"max_pool{nd}d")(xl, 2, return_indices=True, layout="channels_last")
    np.testing.assert_array_equal(np.moveaxis(UNPOOL[nd](pl, il, 2, layout="channels_last"), -1, 1),
                                  out)


# ---------------------------------------------------------------------------------------
# errors


X = np.zeros((1, 2, 3, 3), np.float32)
IDX = np.zeros((1, 2, 3, 3), np.int64)


@pytest.mark.parametrize("kwargs, exc, words", [
    (dict(indices=np.full((1, 2, 3, 3), 36)), ParameterError, r"\[0, 36\).*from 36 to 36"),
    (dict(indices=np.full((1, 2, 3, 3), -2)), ParameterError, "from -2 to -2"),
    (dict(indices=IDX.astype(np.float64)), DTypeError, "integer array"),
    (dict(indices=IDX[..., :2]), ParameterError, r"shape of `x`, \(1, 2, 3, 3\)"),
    (dict(output_size=(6, 8)), ParameterError, r"strictly between 4 and 8 in spatial dim 1.*output_size=\(6, 8\)"),
    (dict(output_size=(4, 6)), ParameterError, "strictly between 4 and 8 in spatial dim 0"),
    (dict(output_size=(6,)), ParameterError, "sequence of 2 or 4 ints"),
    (dict(output_size=6), ParameterError, "sequence of 2 or 4 ints"),
    (dict(padding="same"), ParameterError, "pass output_size"),
    (dict(padding=3), ParameterError, r"output size would be \(0, 0\)"),
    (dict(stride=0), ParameterError, "`stride` must be >= 1"),
    (dict(kernel_size=(2, 2, 2)), ParameterError, "`kernel_size` must have 1 or 2 values"),
    (dict(layout="nchw3"), ParameterError, "`layout`"),
    (dict(x=X[0, 0]), ParameterError, "4-D batched input or a 3-D unbatched"),
    (dict(x=X.astype(np.complex64)), DTypeError, "complex64"),
])
def test_errors_name_the_argument(kwargs, exc, words):
    args = dict(x=X, indices=IDX, kernel_size=2)
    args.update(kwargs)
    with pytest.raises(exc, match=words):
        max_unpool2d(args.pop("x"), args.pop("indices"), **args)


@pytest.mark.parametrize("layout", ["channels_first", "channels_last"])
@pytest.mark.parametrize("position", [0, 37, -1])
@pytest.mark.parametrize("bad", [36, -2, 2**40])
def test_one_bad_index_among_good_ones(layout, position, bad):
    """The kernels check each index as they move it: one bad index anywhere, in any task,
    raises (forward and backward) with the range of all indices."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 4, 3, 3)).astype(np.float32)
    idx = rng.integers(-1, 36, size=x.shape)
    idx.flat[position] = bad
    if layout == "channels_last":
        x, idx = np.moveaxis(x, 1, -1).copy(), np.moveaxis(idx, 1, -1).copy()
    lo, hi = min(int(idx.min()), bad), max(int(idx.max()), bad)
    with pytest.raises(ParameterError, match=rf"\[0, 36\).*from {lo} to {hi}"):
        max_unpool2d(x, idx, 2, layout=layout)
    g = np.zeros((3, 6, 6, 4) if layout == "channels_last" else (3, 4, 6, 6), np.float32)
    with pytest.raises(ParameterError, match=rf"max_unpool2d_backward.*from {lo} to {hi}"):
        max_unpool2d_backward(g, x, idx, 2, layout=layout)


def test_uint64_indices_past_int64_are_rejected():
    idx = np.zeros(X.shape, np.uint64)
    idx.flat[3] = 2**64 - 1  # would wrap to -1, "no position", as int64
    with pytest.raises(ParameterError, match=str(2**64 - 1)):
        max_unpool2d(X, idx, 2)
    np.testing.assert_array_equal(max_unpool2d(X + 1, idx * 0 + 35, 2)[..., -1, -1], 1)


def test_backward_errors():
    with pytest.raises(ParameterError, match=r"`grad_output` must have shape \(1, 2, 6, 6\)"):
        max_unpool2d_backward(np.zeros((1, 2, 5, 5)), X, IDX, 2)
    with pytest.raises(DTypeError, match="truncated"):
        max_unpool2d_backward(np.zeros((1, 2, 6, 6)), X.astype(np.int32), IDX, 2)
    with pytest.raises(ParameterError, match="max_unpool2d_backward"):
        max_unpool2d_backward(np.zeros((1, 2, 6, 6)), X, IDX + 40, 2)


@pytest.mark.parametrize("layout", ["channels_first", "channels_last"])
def test_no_channels(layout):
    shape = (2, 3, 3, 0) if layout == "channels_last" else (2, 0, 3, 3)
    x, idx = np.zeros(shape, np.float32), np.zeros(shape, np.int64)
    out = max_unpool2d(x, idx, 2, layout=layout)
    assert out.shape == ((2, 6, 6, 0) if layout == "channels_last" else (2, 0, 6, 6))
    assert max_unpool2d_backward(out, x, idx, 2, layout=layout).shape == shape
