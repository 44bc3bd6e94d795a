"""reduce_window and min pooling: hand-computed cases, the reference in 1 to 6 dims, the
tuned 1- to 3-D kernels pinned to the engine, gradients, tie policies, dtypes, ``out=``
and errors.

Compile budget: each (reducer, input dtype, result dtype) compiles one engine driver, so
the sweeps draw float64 and a few integer dtypes, and the dtype tests take one case each.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import numpool
from numpool import reference, windows
from numpool.windows import reduce_window, reduce_window_backward

from helpers import (CONTIGUOUS_CASES, Pool, arrange, assert_close, assert_identical, central_difference,
                     make_values, pool_cases, seeds, to_channels_first)

NAMED = ("max", "min", "sum", "mean", "median", "median_low", "mode", "nanmax", "nanmin", "nansum", "nanmean")
WITH_GRADIENT = ("max", "min", "sum", "mean", "median", "median_low", "nanmax", "nanmin", "nansum", "nanmean")


# ---------------------------------------------------------------------------------------
# calls: channels-first batched in, channels-first batched out


def _geometry(pool, spatial):
    return pool.geometry(spatial)


def _kwargs(pool, nd):
    """The pool's arguments with ``kernel_size`` as a per-dim tuple, so that the rank is
    read from it (an int with an unbatched input would name the wrong rank)."""
    kwargs = pool.kwargs()
    k = kwargs["kernel_size"]
    kwargs["kernel_size"] = (k,) * nd if isinstance(k, int) else tuple(k) * (nd if len(tuple(k)) == 1 else 1)
    return kwargs


def run(fn, x_cf, case="cf", batched=True, arrays=(), **kwargs):
    """``fn(*arrays, x, ...)`` with every array laid out as ``case``; inputs never modified."""
    x, layout = arrange(x_cf if batched else x_cf[0], case, batched)
    laid = [arrange(a if batched else a[0], case, batched)[0] for a in arrays]
    before = [a.copy() for a in laid + [x]]
    result = fn(*laid, x, layout=layout, **kwargs)
    for a, b in zip(laid + [x], before):
        assert_identical(a, b)
    result = to_channels_first(result, layout, batched)
    return result if batched else result[np.newaxis]


def forward(x_cf, reducer, pool, case="cf", batched=True, **kwargs):
    return run(lambda x, **kw: reduce_window(x, reducer, **kw), x_cf, case, batched,
               **_kwargs(pool, x_cf.ndim - 2), **kwargs)


def backward(g_cf, x_cf, reducer, pool, case="cf", batched=True, **kwargs):
    return run(lambda g, x, **kw: reduce_window_backward(g, x, reducer, **kw), x_cf, case, batched, arrays=(g_cf,),
               **_kwargs(pool, x_cf.ndim - 2), **kwargs)


def ref_forward(x_cf, reducer, pool, **kwargs):
    return reference.reduce_window(x_cf, reducer, *_geometry(pool, x_cf.shape[2:]), **kwargs)


def ref_backward(g_cf, x_cf, reducer, pool, **kwargs):
    return reference.reduce_window_backward(g_cf, x_cf, reducer, *_geometry(pool, x_cf.shape[2:]), **kwargs)


def _engine_window(x_cf, reducer, pool, backward=False, count_include_pad=True, divisor_override=None,
                   ties="first"):
    return windows._Window("test", x_cf, reducer, _kwargs(pool, x_cf.ndim - 2)["kernel_size"], pool.stride,
                           pool.padding, pool.dilation, pool.ceil_mode, count_include_pad, divisor_override, None,
                           ties, None, "channels_first", backward=backward)


def engine_forward(x_cf, reducer, pool, **kwargs):
    """The N-D engine itself, also where reduce_window would call a tuned kernel."""
    return windows._engine_forward(_engine_window(x_cf, reducer, pool, **kwargs))


def engine_backward(g_cf, x_cf, reducer, pool, **kwargs):
    return windows._engine_backward(_engine_window(x_cf, reducer, pool, backward=True, **kwargs), g_cf)


# ---------------------------------------------------------------------------------------
# hand-computed cases


ROW = np.array([[[3.0, 1.0, 1.0, 2.0, 7.0, 7.0, 8.0, 2.0]]])


@pytest.mark.parametrize("reducer, expected", [
    ("max", [3.0, 8.0]), ("min", [1.0, 2.0]), ("sum", [7.0, 24.0]), ("mean", [1.75, 6.0]),
    ("median", [1.5, 7.0]), ("median_low", [1.0, 7.0]), ("mode", [1.0, 7.0]),
    ("nanmax", [3.0, 8.0]), ("nanmin", [1.0, 2.0]), ("nansum", [7.0, 24.0]), ("nanmean", [1.75, 6.0]),
])
def test_each_reducer_on_a_row(reducer, expected):
    assert reduce_window(ROW, reducer, 4).tolist() == [[expected]]


def test_nan_rules():
    x = np.array([[[1.0, np.nan, 3.0, 2.0, np.nan, np.nan]]])
    assert np.isnan(reduce_window(x, "max", 3)).all()
    assert np.isnan(reduce_window(x, "median", 3)).all()
    np.testing.assert_equal(reduce_window(x, "nanmax", 3), [[[3.0, 2.0]]])
    np.testing.assert_equal(reduce_window(x, "nanmin", 3), [[[1.0, 2.0]]])
    np.testing.assert_equal(reduce_window(x, "nansum", 3), [[[4.0, 2.0]]])
    np.testing.assert_equal(reduce_window(x, "nanmean", 3), [[[2.0, 2.0]]])
    only_nan = np.full((1, 1, 2), np.nan)
    assert np.isnan(reduce_window(only_nan, "nanmax", 2)).all()
    assert np.isnan(reduce_window(only_nan, "nanmean", 2)).all()
    assert reduce_window(only_nan, "nansum", 2).tolist() == [[[0.0]]]
    # mode counts NaN as one value, larger than every number
    np.testing.assert_equal(reduce_window(np.array([[[np.nan, 2.0, np.nan, 2.0]]]), "mode", 4), [[[2.0]]])
    assert np.isnan(reduce_window(np.array([[[np.nan, 2.0, np.nan]]]), "mode", 3)).all()


def test_mode_ties_go_to_the_smallest_value():
    x = np.array([[[5, 9, 9, 5, 1, 2, 3, 4]]], dtype=np.int16)
    assert reduce_window(x, "mode", 4).tolist() == [[[5, 1]]]


def test_median_of_an_even_count_is_numpys():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 12))
    expected = np.median(x.reshape(2, 3, 3, 4), axis=-1)
    np.testing.assert_array_equal(reduce_window(x, "median", 4), expected)
    xi = rng.integers(-50, 50, (2, 3, 12)).astype(np.int32)
    np.testing.assert_array_equal(reduce_window(xi, "median", 4), np.median(xi.reshape(2, 3, 3, 4), axis=-1))


def test_integer_means_round_half_to_even():
    x = np.array([[[1, 2, 2, 3, 3, 4, -1, -2, -3, -4, 0, 1]]], dtype=np.int32)
    # means 1.5, 2.5, 3.5, -1.5, -3.5, 0.5
    assert reduce_window(x, "mean", 2, dtype=np.int32).tolist() == [[[2, 2, 4, -2, -4, 0]]]
    assert reduce_window(x, "mean", 2).dtype == np.float64
    assert reduce_window(x, "mean", 2).tolist() == [[[1.5, 2.5, 3.5, -1.5, -3.5, 0.5]]]
    big = np.array([[[2**62, 2**62 + 1, -(2**63), -(2**63) + 1]]], dtype=np.int64)
    assert reduce_window(big, "median", 2, dtype=np.int64).tolist() == [[[2**62, -(2**63)]]]
    u = np.array([[[255, 254, 1, 2]]], dtype=np.uint8)
    assert reduce_window(u, "median", 2, dtype=np.uint8).tolist() == [[[254, 2]]]
    assert reduce_window(u, "mean", 2, dtype=np.uint8).tolist() == [[[254, 2]]]


def test_dtype_policy():
    x = np.arange(8, dtype=np.uint8).reshape(1, 1, 8)
    assert reduce_window(x, "sum", 2).dtype == np.uint64
    assert reduce_window(x.astype(np.int8), "sum", 2).dtype == np.int64
    assert reduce_window(x > 3, "sum", 2).tolist() == [[[0, 0, 2, 2]]]
    assert reduce_window(x > 3, "sum", 2).dtype == np.int64
    for r in ("max", "min", "median_low", "mode", "nanmax", "nanmin"):
        assert reduce_window(x, r, 2).dtype == np.uint8
    assert reduce_window(x.astype(np.float16), "mean", 2).dtype == np.float16
    assert reduce_window(x > 3, "max", 2).dtype == np.bool_
    assert reduce_window(x, "median", 2).dtype == np.float64


def test_float16_is_rounded_once():
    x = np.array([[[0.1, 0.2, 0.3]]], dtype=np.float16)
    expected = ((np.float32(x[0, 0, 0]) + np.float32(x[0, 0, 1]) + np.float32(x[0, 0, 2])) / np.float32(3))
    assert reduce_window(x, "mean", 3)[0, 0, 0] == np.float16(expected)


def test_windows_wholly_in_padding():
    # L = 1; k = 2, dilation 2, padding 1: taps at -1 and 1, both outside
    x = np.array([[[3.0]]])
    args = dict(kernel_size=(2,), stride=1, padding=1, dilation=2)
    assert reduce_window(x, "max", **args).tolist() == [[[-np.inf]]]
    assert reduce_window(x, "min", **args).tolist() == [[[np.inf]]]
    assert reduce_window(x, "sum", **args).tolist() == [[[0.0]]]
    assert reduce_window(x, "mean", **args).tolist() == [[[0.0]]]
    assert np.isnan(reduce_window(x, "mean", count_include_pad=False, **args)).all()
    for r in ("median", "median_low", "mode", "nanmean"):
        assert np.isnan(reduce_window(x, r, **args)).all(), r
    xi = np.array([[[3]]], dtype=np.int16)
    assert reduce_window(xi, "min", **args).tolist() == [[[32767]]]
    assert reduce_window(xi, "mode", **args).tolist() == [[[0]]]
    values, indices = numpool.min_pool1d(x, 2, stride=1, padding=1, dilation=2, return_indices=True)
    assert values.tolist() == [[[np.inf]]] and indices.tolist() == [[[-1]]]


def test_six_dims():
    x = np.arange(2 * 3**6, dtype=np.float64).reshape(1, 2, 3, 3, 3, 3, 3, 3)
    out = reduce_window(x, "max", 2, stride=1)
    assert out.shape == (1, 2) + (2,) * 6
    np.testing.assert_array_equal(out, x[:, :, 1:, 1:, 1:, 1:, 1:, 1:])
    np.testing.assert_array_equal(reduce_window(x, "min", (3,) * 6), x.reshape(1, 2, -1).min(-1)[..., None, None,
                                                                                                   None, None, None,
                                                                                                   None])


def test_the_rank_comes_from_kernel_size():
    x = np.arange(2 * 4 * 4 * 4, dtype=np.float64).reshape(2, 4, 4, 4)
    assert reduce_window(x, "max", (2, 2, 2)).shape == (2, 2, 2, 2)  # unbatched (C, D, H, W)
    assert reduce_window(x, "max", 2).shape == (2, 4, 2, 2)  # (N, C, H, W)
    assert reduce_window(x, "max", (2, 2, 2), layout="channels_last").shape == (1, 2, 2, 4)


# ---------------------------------------------------------------------------------------
# against the reference


DTYPES = (np.float64, np.int32, np.uint8)


@st.composite
def high_rank_cases(draw):
    """``(shape, pool)`` with 4 to 6 spatial dims, kept tiny for the reference's loops."""
    nd = draw(st.integers(4, 6))
    kernel = draw(st.tuples(*[st.integers(1, 2)] * nd))
    stride = draw(st.one_of(st.none(), st.tuples(*[st.integers(1, 2)] * nd)))
    dilation = draw(st.tuples(*[st.integers(1, 2)] * nd))
    padding = draw(st.one_of(st.integers(0, 1), st.sampled_from(["same", "valid"])))
    ceil_mode = draw(st.booleans())
    spatial = tuple(draw(st.integers(d * (k - 1) + 1, 3)) for k, d in zip(kernel, dilation))
    return (1, draw(st.integers(1, 2))) + spatial, Pool(kernel, stride, padding, dilation, ceil_mode)


def _data(seed, shape, dtype, reducer):
    rng = np.random.default_rng(seed)
    mode = ("ties", "spread", "nan", "inf")[seed % 4] if np.dtype(dtype).kind == "f" else ("ties", "spread")[seed % 2]
    return make_values(rng, shape, dtype, mode)


@settings(max_examples=90)
@given(st.one_of(pool_cases(), high_rank_cases()), st.sampled_from(NAMED), st.sampled_from(DTYPES), seeds,
       st.sampled_from(CONTIGUOUS_CASES), st.booleans())
@pytest.mark.sweep
def test_every_reducer_equals_the_reference(case_, reducer, dtype, seed, case, batched):
    """1 to 6 spatial dims, both layouts in either memory order, batched or not."""
    shape, pool = case_
    x = _data(seed, shape if batched else (1,) + shape[1:], dtype, reducer)
    assert_identical(forward(x, reducer, pool, case, batched), ref_forward(x, reducer, pool))


@settings(max_examples=40)
@given(pool_cases(), st.sampled_from(("max", "sum", "mean")), seeds, st.sampled_from(CONTIGUOUS_CASES),
       st.booleans(), st.booleans())
@pytest.mark.sweep
def test_tuned_kernels_equal_the_engine(case_, reducer, seed, case, include, batched):
    """The fast paths (max_pool*, avg_pool*) give the engine's bits."""
    shape, pool = case_
    x = _data(seed, shape if batched else (1,) + shape[1:], np.float32, reducer)
    kwargs = dict(count_include_pad=include) if reducer == "mean" else {}
    expected = engine_forward(x, reducer, pool, **kwargs)
    assert_identical(forward(x, reducer, pool, case, batched, **kwargs), expected)
    g = _data(seed + 1, expected.shape, np.float32, "sum")
    g[np.isnan(g) | np.isinf(g)] = 1.0
    if reducer == "max":
        x = x + 0  # the gradient's tie rule is the forward's
    assert_identical(backward(g, x, reducer, pool, case, batched, **kwargs),
                     engine_backward(g, x, reducer, pool, **kwargs))


@pytest.mark.parametrize("dtype", [np.int8, np.uint16, np.int64, np.uint64, np.float16, np.bool_])
@pytest.mark.parametrize("reducer", ["min", "median_low", "mode"])
def test_dtypes_kept(dtype, reducer):
    x = make_values(np.random.default_rng(5), (2, 3, 7, 6), dtype, "spread" if dtype != np.float16 else "ties")
    pool = Pool((3, 2), (2, 1), 1, 1, True)
    assert_identical(forward(x, reducer, pool, "cl"), ref_forward(x, reducer, pool))


@pytest.mark.parametrize("dtype", [np.int16, np.uint64, np.bool_])
@pytest.mark.parametrize("reducer", ["sum", "mean", "median", "nanmean"])
def test_dtypes_computed(dtype, reducer):
    x = make_values(np.random.default_rng(6), (2, 3, 6, 5), dtype, "spread" if dtype != np.uint64 else "ties")
    pool = Pool(2, 1, 0, 1, False)
    assert_identical(forward(x, reducer, pool), ref_forward(x, reducer, pool))
    if np.dtype(dtype).kind in "iu" and reducer != "sum":
        assert_identical(forward(x, reducer, pool, dtype=dtype), ref_forward(x, reducer, pool, dtype=dtype))


@pytest.mark.parametrize("include", [True, False])
def test_means_with_padding_and_override(include):
    x = make_values(np.random.default_rng(7), (2, 2, 5, 7), np.float64, "nan")
    pool = Pool(3, 2, 1, 1, True)
    for reducer in ("mean", "nanmean"):
        for override in (None, 5):
            kwargs = dict(count_include_pad=include, divisor_override=override)
            assert_identical(forward(x, reducer, pool, "cl", **kwargs), ref_forward(x, reducer, pool, **kwargs))


def test_lp_equals_lp_pool_and_the_reference():
    x = make_values(np.random.default_rng(8), (2, 3, 6, 6), np.float64, "spread")
    for p in (1, 2, 3.5, np.inf, -np.inf):
        pool = Pool(2, 1, 0, 1, False)
        assert_identical(reduce_window(x, "lp", 2, stride=1, norm_type=p), numpool.lp_pool2d(x, p, 2, stride=1))
        assert_close(forward(x, "lp", pool, norm_type=p), ref_forward(x, "lp", pool, norm_type=p))
    v = make_values(np.random.default_rng(9), (1, 2, 3, 3, 3, 3), np.float64, "spread")
    pool = Pool((2, 2, 2, 2), 1)
    for p in (2, np.inf):
        assert_close(forward(v, "lp", pool, norm_type=p), ref_forward(v, "lp", pool, norm_type=p))
        g = np.ones(ref_forward(v, "lp", pool, norm_type=p).shape)
        assert_close(backward(g, v, "lp", pool, norm_type=p), ref_backward(g, v, "lp", pool, norm_type=p))


# ---------------------------------------------------------------------------------------
# gradients


@settings(max_examples=40)
@given(st.one_of(pool_cases(), high_rank_cases()), st.sampled_from(WITH_GRADIENT), st.sampled_from(TIES_ := (
    "first", "all", "split")), seeds, st.sampled_from(("cf", "cl")))
@pytest.mark.sweep
def test_gradients_equal_the_reference(case_, reducer, ties, seed, case):
    shape, pool = case_
    if reducer not in ("max", "min", "nanmax", "nanmin"):
        ties = "first"
    x = _data(seed, shape, np.float64, reducer)
    g = np.random.default_rng(seed).standard_normal(ref_forward(x, reducer, pool).shape)
    expected = ref_backward(g, x, reducer, pool, ties=ties)
    assert_identical(backward(g, x, reducer, pool, case, ties=ties), expected)


@pytest.mark.parametrize("reducer", ["max", "min", "sum", "mean", "median", "median_low", "nanmax", "nansum",
                                     "nanmean", "lp"])
def test_gradients_are_central_differences(reducer):
    rng = np.random.default_rng(11)
    x = rng.permutation(2 * 2 * 5 * 5 * 3).reshape(2, 2, 5, 5, 3) / 7.0 + 0.5  # distinct: no ties to break
    if reducer.startswith("nan"):
        x[0, 0, 0, 0, 0] = np.nan
    kwargs = dict(kernel_size=(2, 3, 2), stride=(1, 2, 1), padding=1)
    if reducer == "lp":
        kwargs["norm_type"] = 3
    g = rng.standard_normal(reduce_window(x, reducer, **kwargs).shape)

    def loss():
        return float(np.nansum(reduce_window(x, reducer, **kwargs) * g))

    analytic = reduce_window_backward(g, x, reducer, **kwargs)
    for index in [(0, 0, 1, 2, 0), (1, 1, 4, 4, 2), (0, 1, 2, 0, 1), (1, 0, 3, 3, 1)]:
        np.testing.assert_allclose(analytic[index], central_difference(loss, x, index), rtol=1e-6, atol=1e-8)


def test_tie_policies_by_hand():
    x = np.array([[[[2.0, 5.0], [5.0, 1.0]]]])
    g = np.full((1, 1, 1, 1), 6.0)
    first = reduce_window_backward(g, x, "max", (2, 2))
    assert first.tolist() == [[[[0.0, 6.0], [0.0, 0.0]]]]
    assert reduce_window_backward(g, x, "max", (2, 2), ties="all").tolist() == [[[[0.0, 6.0], [6.0, 0.0]]]]
    assert reduce_window_backward(g, x, "max", (2, 2), ties="split").tolist() == [[[[0.0, 3.0], [3.0, 0.0]]]]
    np.testing.assert_array_equal(numpool.max_pool2d_backward(g, x, 2, ties="all"),
                                  [[[[0.0, 6.0], [6.0, 0.0]]]])
    np.testing.assert_array_equal(numpool.min_pool2d_backward(g, -x, 2, ties="split"),
                                  [[[[0.0, 3.0], [3.0, 0.0]]]])


# tensorflow-cpu 2.21: x = round(2 * standard_normal((1, 4, 4, 6, 2)) with default_rng(2026)) / 2 as float32,
# then tf.nn.max_pool3d(x, ksize=2, strides=2, padding="VALID") and tape.gradient of its sum: 24 outputs,
# gradient sum 34 (every tied maximum, -0.0 and 0.0 counted equal, gets the whole gradient).
TF_3D_INPUT = np.array(
    [-1.0, 0.0, -2.0, 1.5, 0.5, -0.5, -0.5, 0.5, -0.5, -0.0, 0.5, 0.5, -0.0, -0.0, 0.0, -0.5, -0.5, 0.5, -0.0,
    -1.5, -0.5, 0.5, -0.0, -0.0, 0.5, 2.0, -0.5, 1.5, -1.0, 0.0, -1.0, 1.5, 1.0, 1.0, -1.0, 0.5, -0.5, -0.5,
    0.5, 1.0, 0.0, -0.5, -1.0, 1.5, 0.5, 0.5, 2.0, -1.0, 2.5, 3.0, 1.5, 1.0, -0.5, 1.0, -0.5, -0.0, -0.5, 0.5,
    1.5, -0.5, -1.0, -1.0, -1.0, -1.5, -1.0, 1.5, -0.5, 0.5, -1.0, 0.0, -1.5, -0.5, 2.5, -0.5, 1.0, 0.5, -0.0,
    -0.5, 1.5, -0.0, 1.5, -0.5, 0.0, 0.5, 0.5, -1.0, -0.5, -0.0, -1.0, 0.5, 0.5, -2.0, -2.0, -1.5, 0.0, 2.0,
    -0.5, 0.5, -1.0, -1.0, -2.0, -0.0, 1.0, -0.5, 1.5, 0.0, -0.0, 0.5, 0.5, 1.0, -1.0, -2.5, 0.0, -0.5, -0.0,
    1.5, -1.0, 1.0, 1.0, 0.5, 1.0, -0.5, -0.5, 1.0, 0.5, 1.5, 0.0, 1.5, -0.5, -1.0, -2.0, -1.0, 1.0, -1.5, -0.5,
    2.0, 1.0, 2.0, -1.0, -2.5, 1.5, -1.5, 0.0, 0.0, -1.0, 1.5, 1.5, 0.5, -0.0, 0.0, -1.0, -0.0, -0.0, -1.0, 1.0,
    -1.5, -0.5, -2.5, 0.5, 0.5, 0.5, 3.0, 1.0, -1.0, 2.5, -1.0, 1.0, 0.5, -1.0, 1.5, 0.5, 0.5, -0.5, 1.5, -1.0,
    -2.0, 1.5, -0.5, 0.0, 2.0, 1.0, 0.5, 1.0, -0.5, 1.0, 1.0, 1.0, -0.0, -3.5, 0.5, 0.0, -0.5]
, dtype=np.float32).reshape(1, 4, 4, 6, 2)
TF_3D_GRADIENT = np.array(
    [0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0,
    1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 1, 1, 0, 0, 1, 0, 0, 0,
    0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1,
    1, 0, 1, 0, 1, 0, 1, 0, 0, 0, 0, 0]
, dtype=np.float32).reshape(1, 4, 4, 6, 2)


def test_tensorflow_3d_ties():
    """TensorFlow's CPU gradient of a 3-D max pool is ties="all"."""
    x = TF_3D_INPUT
    grad = np.ones((1, 2, 2, 3, 2), np.float32)
    got = numpool.max_pool3d_backward(grad, x, 2, layout="channels_last", ties="all")
    assert_identical(got, TF_3D_GRADIENT)
    assert got.sum() == 34
    assert numpool.max_pool3d_backward(grad, x, 2, layout="channels_last").sum() == 24
    assert_identical(reduce_window_backward(grad, x, "max", (2, 2, 2), layout="channels_last", ties="all"), got)


# ---------------------------------------------------------------------------------------
# min pooling


@settings(max_examples=30)
@given(pool_cases(), seeds, st.sampled_from(CONTIGUOUS_CASES))
def test_min_pool_is_max_pool_reversed(case_, seed, case):
    shape, pool = case_
    nd = len(shape) - 2
    rng = np.random.default_rng(seed)
    x = make_values(rng, shape, np.float64, "ties")
    lay, layout = arrange(x, case)
    values, idx = getattr(numpool, f"min_pool{nd}d")(lay, return_indices=True, layout=layout, **pool.kwargs())
    mvalues, midx = getattr(numpool, f"max_pool{nd}d")(-lay, return_indices=True, layout=layout, **pool.kwargs())
    assert_identical(values, -mvalues)
    assert_identical(idx, midx)
    xi = make_values(rng, shape, np.int16, "spread")
    lay, layout = arrange(xi, case)
    assert_identical(getattr(numpool, f"min_pool{nd}d")(lay, layout=layout, **pool.kwargs()),
                     ~getattr(numpool, f"max_pool{nd}d")(~lay, layout=layout, **pool.kwargs()))
    g = rng.standard_normal(values.shape)
    assert_identical(getattr(numpool, f"min_pool{nd}d_backward")(g, lay.astype(np.float64), layout=layout,
                                                                   **pool.kwargs()),
                     getattr(numpool, f"max_pool{nd}d_backward")(g, -lay.astype(np.float64), layout=layout,
                                                                   **pool.kwargs()))


def test_min_pool_backward_with_indices():
    x = np.array([[[4.0, 2.0, 2.0, 9.0]]])
    values, idx = numpool.min_pool1d(x, 2, stride=1, return_indices=True)
    assert idx.tolist() == [[[1, 1, 2]]]
    g = np.array([[[1.0, 2.0, 4.0]]])
    assert numpool.min_pool1d_backward(g, x, 2, stride=1, indices=idx).tolist() == [[[0.0, 3.0, 4.0, 0.0]]]
    with pytest.raises(numpool.ParameterError, match="ties"):
        numpool.min_pool1d_backward(g, x, 2, stride=1, indices=idx, ties="all")


# ---------------------------------------------------------------------------------------
# user functions


def test_a_user_function_equals_the_builtin():
    def peak_to_peak(v):
        return v.max() - v.min()

    x = make_values(np.random.default_rng(12), (2, 3, 7, 7), np.float64, "spread")
    got = reduce_window(x, peak_to_peak, 3, stride=2, padding=1)
    expected = reduce_window(x, "max", 3, stride=2, padding=1) - reduce_window(x, "min", 3, stride=2, padding=1)
    assert_identical(got, expected)
    pool = Pool((3, 3), 2)
    assert_identical(run(lambda v, **kw: reduce_window(v, peak_to_peak, **kw), x, "cl", **pool.kwargs()),
                     reference.reduce_window(x, peak_to_peak, *pool.geometry(x.shape[2:])))


def test_a_user_function_sets_the_dtype():
    def count_odd(v):
        n = 0
        for a in v:
            n += a % 2
        return n

    x = np.arange(16, dtype=np.int32).reshape(1, 1, 16)
    out = reduce_window(x, count_odd, 4)
    assert out.dtype == np.int64 and out.tolist() == [[[2, 2, 2, 2]]]
    assert reduce_window(x, count_odd, 4, dtype=np.uint8).dtype == np.uint8


def test_a_function_numba_cannot_compile_is_named():
    def uses_a_dict(v):
        return {"a": v}

    with pytest.raises(numpool.ParameterError, match="uses_a_dict"):
        reduce_window(np.zeros((1, 1, 4)), uses_a_dict, 2)

    def returns_an_array(v):
        return v * 2

    with pytest.raises(numpool.ParameterError, match="returns_an_array.*one number"):
        reduce_window(np.zeros((1, 1, 4)), returns_an_array, 2)


# ---------------------------------------------------------------------------------------
# out=


@pytest.mark.parametrize("reducer", ["max", "median", "sum"])
@pytest.mark.parametrize("case", ["cf", "cl", "cf_in_cl_memory"])
def test_out_is_written_and_returned(reducer, case):
    x = make_values(np.random.default_rng(13), (2, 3, 6, 6), np.float32, "spread")
    lay, layout = arrange(x, case)
    expected = reduce_window(lay, reducer, 2, layout=layout)
    out = np.full(expected.shape, 7.0, np.float32)
    assert reduce_window(lay, reducer, 2, layout=layout, out=out) is out
    assert_identical(out, expected)
    strided = np.zeros((2,) + expected.shape, np.float32)[1]
    reduce_window(lay, reducer, 2, layout=layout, out=strided[..., :])
    assert_identical(strided, expected)
    g = np.ones(expected.shape, np.float32)
    gx = np.empty(lay.shape, np.float32)
    assert reduce_window_backward(g, lay, reducer, 2, layout=layout, out=gx) is gx
    assert_identical(gx, reduce_window_backward(g, lay, reducer, 2, layout=layout))


def test_out_rejections():
    x = np.zeros((1, 2, 4, 4), np.float32)
    good = np.zeros((1, 2, 2, 2), np.float32)
    with pytest.raises(numpool.ParameterError, match=r"shape \(1, 2, 2, 2\)"):
        reduce_window(x, "max", 2, out=np.zeros((1, 2, 2, 3), np.float32))
    with pytest.raises(numpool.DTypeError, match="dtype float32"):
        reduce_window(x, "max", 2, out=good.astype(np.float64))
    ro = good.copy()
    ro.setflags(write=False)
    with pytest.raises(numpool.ParameterError, match="read-only"):
        reduce_window(x, "max", 2, out=ro)
    with pytest.raises(numpool.ParameterError, match="shares memory"):
        reduce_window(x, "max", 2, out=x[:, :, :2, :2])
    with pytest.raises(numpool.ParameterError, match="NumPy array"):
        reduce_window(x, "max", 2, out=[[0.0]])
    with pytest.raises(numpool.ParameterError, match="shares memory"):
        reduce_window_backward(good, x, "max", 2, out=x)
    values = np.zeros((1, 2, 2, 2), np.float32)
    indices = np.zeros((1, 2, 2, 2), np.int64)
    got = numpool.min_pool2d(x + 1, 2, return_indices=True, out=(values, indices))
    assert got[0] is values and got[1] is indices
    with pytest.raises(numpool.ParameterError, match="pair"):
        numpool.min_pool2d(x, 2, return_indices=True, out=values)


# ---------------------------------------------------------------------------------------
# errors


@pytest.mark.parametrize("call, match", [
    (lambda x: reduce_window(x, "maximum", 2), "`reducer` must be one of"),
    (lambda x: reduce_window(x, "max", 2, norm_type=2), "`norm_type` applies to reducer 'lp' only"),
    (lambda x: reduce_window(x, "lp", 2), "needs `norm_type`"),
    (lambda x: reduce_window(x, "lp", 2, norm_type=0), "`norm_type` must be a number > 0"),
    (lambda x: reduce_window(x, "max", 2, divisor_override=2), "`divisor_override` applies to"),
    (lambda x: reduce_window(x, "mean", 2, divisor_override=0), "`divisor_override` must be None or an int"),
    (lambda x: reduce_window(x, "sum", 2, ties="all"), "`ties` applies to reducers"),
    (lambda x: reduce_window(x, "max", 2, ties="last"), "`ties` must be one of"),
    (lambda x: reduce_window(x, "max", 2, dtype=np.float32), "`dtype` for reducer 'max'"),
    (lambda x: reduce_window(x, "max", 2, dtype="nonsense"), "`dtype` must be None or a NumPy dtype"),
    (lambda x: reduce_window(x, "max", ()), "at least one spatial dim"),
    (lambda x: reduce_window(x, "max", (2, 2, 2, 2)), "expects a 6-D batched input or a 5-D unbatched"),
    (lambda x: reduce_window(x, "max", 5), "output size would be"),
    (lambda x: reduce_window(x, "max", 2, layout="nhcw"), "`layout` must be"),
    (lambda x: reduce_window_backward(np.ones((1, 2, 2, 2)), x, "mode", 2), "reducer 'mode' has no gradient"),
    (lambda x: reduce_window_backward(np.ones((1, 2, 2, 2)), x, lambda v: v[0], 2), "has no gradient"),
    (lambda x: reduce_window_backward(np.ones((1, 2, 3, 2)), x, "max", 2), "`grad_output` must have shape"),
    (lambda x: reduce_window_backward(np.ones((1, 2, 2, 2), np.int64), x.astype(np.int64), "mean", 2),
     "fractional gradients"),
    (lambda x: reduce_window_backward(np.ones((1, 2, 2, 2), np.int64), x.astype(np.int64), "max", 2, ties="split"),
     "fractional gradients"),
    (lambda x: reduce_window(x.astype(np.int32), "lp", 2, norm_type=2), "reducer 'lp' needs a float"),
    (lambda x: reduce_window(np.ma.masked_array(x, x > 0), "max", 2), "masked arrays"),
    (lambda x: numpool.max_pool1d(np.ma.masked_array(x[0, 0], x[0, 0] > 0), 2), "masked arrays"),
    (lambda x: reduce_window(np.asmatrix(x[0, 0]), "max", 2), "np.matrix"),
])
def test_errors(call, match):
    x = np.arange(32, dtype=np.float64).reshape(1, 2, 4, 4)
    with pytest.raises(numpool.NumpoolError, match=match):
        call(x)
