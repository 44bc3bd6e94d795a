"""Average pooling: hand-computed cases, then comparisons with PyTorch and the reference.

Results must equal ``torch.nn.functional.avg_poolNd`` to float rounding wherever PyTorch
accepts the parameters; dilation (which PyTorch lacks), asymmetric or large padding and
"same" padding are compared with :mod:`numpool.reference`.
"""

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import numpool

from helpers import (
    CONTIGUOUS_CASES, FLOAT_DTYPES, GRID_POOLS, GRID_SHAPES, STRIDED_CASES, Pool, assert_close,
    check_same_or_refused, long_row_cases, make_values, np_avg, np_avg_backward, param_id, pool_cases, ref_avg,
    ref_avg_backward, seeds, torch_accepts_avg, torch_avg,
)

# the grid's windows without dilation, which PyTorch's average pooling does not have
AVG_POOLS = {nd: dataclasses.replace(pool, dilation=1) for nd, pool in GRID_POOLS.items()}
OPTIONS = [  # (count_include_pad, divisor_override)
    (True, None), (False, None), (True, 5), (False, 2),
]

# ---------------------------------------------------------------------------------------
# hand-computed cases (numpool and the reference must both give them)

X9 = np.arange(9.0).reshape(1, 1, 3, 3)
X16 = np.arange(16.0).reshape(1, 1, 4, 4)
HAND = [
    # (x, pool, count_include_pad, divisor_override, expected)
    (X9, Pool(2, 1), True, None, [[2, 3], [5, 6]]),
    (X9, Pool(2, 1), True, 3, [[8 / 3, 4], [20 / 3, 8]]),
    (X9, Pool(2, 1, 1), False, None,
     [[0, 0.5, 1.5, 2], [1.5, 2, 3, 3.5], [4.5, 5, 6, 6.5], [6, 6.5, 7.5, 8]]),
    (X9, Pool(2, 1, 1), True, None,
     [[0, 0.25, 0.75, 0.5], [0.75, 2, 3, 1.75], [2.25, 5, 6, 3.25], [1.5, 3.25, 3.75, 2]]),
    # TensorFlow's SAME: padding (0, 1) per axis ("same_lower": (1, 0)), padding not counted
    (X9, Pool(2, 2, "same"), False, None, [[2, 3.5], [6.5, 8]]),
    (X9, Pool(2, 2, "same_lower"), False, None, [[0, 1.5], [4.5, 6]]),
    (X9, Pool(2, 2, "same"), True, None, [[2, 1.75], [3.25, 2]]),
    (X9, Pool(3, 1, "same"), False, None, [[2, 2.5, 3], [3.5, 4, 4.5], [5, 5.5, 6]]),
    (X9, Pool(2, 1, "valid"), False, None, [[2, 3], [5, 6]]),
    # dilation: taps two apart
    (X16, Pool(2, 1, dilation=2), True, None, [[5, 6], [9, 10]]),
    (X16, Pool((1, 2), (1, 2), dilation=(1, 2)), True, None, [[1], [5], [9], [13]]),
]
HAND_1D = [
    (np.array([1.0, 2, 3, 4, 5]), Pool(2, ceil_mode=True), True, None, [1.5, 3.5, 5]),
    (np.array([1.0, 2, 3, 4, 5]), Pool(2, 2, 1, ceil_mode=True), True, None, [0.5, 2.5, 4.5]),
    # the ceil_mode overhang beyond the right padding does not count in the divisor
    (np.array([1.0, 2, 3, 4]), Pool(3, 2, 1, ceil_mode=True), True, None, [1, 3, 2]),
    (np.array([1.0, 2, 3, 4]), Pool(3, 2, 1, ceil_mode=True), False, None, [1.5, 3, 4]),
    # a partial window larger than the input (as PyTorch): only real cells count
    (np.array([1.0, 2, 4]), Pool(4, 3, ceil_mode=True), True, None, [7 / 3]),
    (np.array([1.0, 2, 4]), Pool(4, 3, ceil_mode=True), False, None, [7 / 3]),
    (np.array([5.0]), Pool(1, 2, ((0, 3),), ceil_mode=True), False, None, [5, np.nan]),
    (np.arange(6.0), Pool(2, 1, dilation=2), True, None, [1, 2, 3, 4]),
    (np.arange(6.0), Pool(2, 2, dilation=2), True, None, [1, 3]),
    # (lo, hi) pairs
    (np.array([4.0, 1, 2]), Pool(2, 2, ((3, 0),)), True, None, [0, 2, 1.5]),
    # windows wholly in padding: 0 / 0 without the padding in the count
    (np.array([1.0]), Pool(2, 1, 1, 2), False, None, [np.nan]),
    (np.array([1.0]), Pool(2, 1, 1, 2), True, None, [0]),
    (np.array([7.0, 8.0]), Pool(1, 1, 2), False, None, [np.nan, np.nan, 7, 8, np.nan, np.nan]),
    (np.array([7.0, 8.0]), Pool(1, 1, 2), True, None, [0, 0, 7, 8, 0, 0]),
]


@pytest.mark.parametrize("x, pool, count_include_pad, divisor_override, expected",
                         HAND + [(x[None, None], p, c, d, [[e]]) for x, p, c, d, e in HAND_1D])
@pytest.mark.parametrize("impl", ["numpool", "reference"])
def test_hand_computed(impl, x, pool, count_include_pad, divisor_override, expected):
    run = np_avg if impl == "numpool" else ref_avg
    out = run(x, pool, count_include_pad=count_include_pad, divisor_override=divisor_override)
    expected = np.asarray(expected, dtype=x.dtype).reshape(out.shape)
    np.testing.assert_allclose(out, expected, rtol=1e-15)  # NaN where NaN


def test_docstring_example():
    x = np.arange(9, dtype=np.float32).reshape(1, 1, 3, 3)
    out = numpool.avg_pool2d(x, 2, stride=1, padding=1, count_include_pad=False)
    np.testing.assert_array_equal(out[0, 0, 0], np.array([0, 0.5, 1.5, 2], dtype=np.float32))


def tf_same_average(x, kernel, stride):
    """``tf.nn.avg_pool(padding="SAME")`` written independently: NaN padding, then nanmean."""
    (h, w), (kh, kw), (sh, sw) = x.shape[2:], kernel, stride
    oh, ow = -(-h // sh), -(-w // sw)
    ph, pw = max((oh - 1) * sh + kh - h, 0), max((ow - 1) * sw + kw - w, 0)
    padded = np.pad(x, ((0, 0), (0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2)), constant_values=np.nan)
    windows = np.lib.stride_tricks.sliding_window_view(padded, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
    return np.nanmean(windows, axis=(-2, -1))


@pytest.mark.parametrize("case", ["cf", "cl"])
@pytest.mark.parametrize("kernel, stride", [((2, 2), (2, 2)), ((3, 3), (2, 2)), ((3, 2), (1, 3)), ((4, 1), (3, 1))])
def test_tf_same_average(kernel, stride, case):
    x = make_values(np.random.default_rng(0), (2, 3, 7, 8), np.float64, "spread")
    out = np_avg(x, Pool(kernel, stride, "same"), case, count_include_pad=False)
    assert_close(out, tf_same_average(x, kernel, stride))


# ---------------------------------------------------------------------------------------
# fixed grids against PyTorch


def check_avg(x, pool, case="cf", batched=True, count_include_pad=True, divisor_override=None):
    """numpool equals the reference, and PyTorch where it accepts the case, to rounding."""
    opts = dict(count_include_pad=count_include_pad, divisor_override=divisor_override)
    out = np_avg(x, pool, case, batched, **opts)
    assert_close(out, ref_avg(x, pool, **opts))
    if torch_accepts_avg(x, pool):
        assert_close(out, torch_avg(x, pool, **opts))


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("options", OPTIONS, ids=param_id)
@pytest.mark.parametrize("case", CONTIGUOUS_CASES)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=param_id)
def test_dtypes_and_layouts_match_torch(dtype, case, options, nd):
    x = make_values(np.random.default_rng(nd), GRID_SHAPES[nd], dtype, "spread")
    check_avg(x, AVG_POOLS[nd], case, True, *options)


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("case", STRIDED_CASES)
def test_non_contiguous_float32_matches_torch(case, nd):
    rng = np.random.default_rng(10 + nd)
    for options in OPTIONS[:2]:
        check_avg(make_values(rng, GRID_SHAPES[nd], np.float32, "spread"), AVG_POOLS[nd], case, True, *options)


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("case", ["cf", "cl", "cl_strided"])
def test_unbatched(case, nd):
    x = make_values(np.random.default_rng(nd), (1,) + GRID_SHAPES[nd][1:], np.float32, "spread")
    check_avg(x, AVG_POOLS[nd], case, batched=False, count_include_pad=False)


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("case", ["cf", "cl"])
def test_dilation_matches_reference(case, nd):
    x = make_values(np.random.default_rng(nd), GRID_SHAPES[nd], np.float64, "spread")
    for options in OPTIONS:
        check_avg(x, GRID_POOLS[nd], case, True, *options)


@pytest.mark.parametrize("case", ["cf", "cl"])
def test_nan_and_inf_propagate(case):
    x = make_values(np.random.default_rng(0), (2, 3, 6, 6), np.float32, "nan")
    x[0, 0, 0, 0] = np.inf
    x[1, 1, 2, 2:4] = (np.inf, -np.inf)
    check_avg(x, Pool(3, 1, 1), case)


def test_non_native_byte_order():
    """A big-endian array pools like its native copy, or is refused with a numpool error
    (never a Numba typing error: every check happens before a kernel runs)."""
    x = make_values(np.random.default_rng(0), (2, 3, 5, 6), np.float32, "spread")
    swapped = x.astype(x.dtype.newbyteorder())
    g = np.ones((2, 3, 2, 3), np.float32)
    check_same_or_refused(lambda a: numpool.avg_pool2d(a, 2), swapped, numpool.avg_pool2d(x, 2))
    check_same_or_refused(lambda a: numpool.avg_pool2d_backward(g, a, 2), swapped,
                          numpool.avg_pool2d_backward(g, x, 2))


def test_output_size_one():
    x = make_values(np.random.default_rng(0), (2, 3, 4, 5, 6), np.float64, "spread")
    check_avg(x, Pool((4, 5, 6)))
    check_avg(x, Pool(4, 9, 1, 1, True), count_include_pad=False)


def test_long_rows_match_torch():
    rng = np.random.default_rng(5)
    for shape, pool, case in long_row_cases(6, dilation=False):
        x = make_values(rng, shape, np.float32, "spread")
        check_avg(x, pool, case, True, *OPTIONS[int(rng.integers(len(OPTIONS)))])
        check_avg_backward(x, pool, case, *OPTIONS[int(rng.integers(len(OPTIONS)))])


# ---------------------------------------------------------------------------------------
# backward


BACKWARD_GRID = [(dtype, case) for dtype in FLOAT_DTYPES for case in CONTIGUOUS_CASES] + [
    (np.float32, "cf_strided"), (np.float32, "cl_transposed")]  # non-contiguous: float32 only


def check_avg_backward(x, pool, case="cf", count_include_pad=True, divisor_override=None, seed=0):
    opts = dict(count_include_pad=count_include_pad, divisor_override=divisor_override)
    out = np_avg(x, pool, case, **opts)
    g = make_values(np.random.default_rng(seed), out.shape, x.dtype, "spread")
    gx = np_avg_backward(g, x, pool, case, **opts)
    assert_close(gx, ref_avg_backward(g, x, pool, **opts))
    if torch_accepts_avg(x, pool):
        assert_close(gx, torch_avg(x, pool, grad_cf=g, **opts)[1])


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("options", OPTIONS, ids=param_id)
@pytest.mark.parametrize("dtype, case", BACKWARD_GRID, ids=param_id)
def test_backward_matches_torch(dtype, case, options, nd):
    x = make_values(np.random.default_rng(nd), GRID_SHAPES[nd], dtype, "spread")
    check_avg_backward(x, AVG_POOLS[nd], case, *options)


@pytest.mark.parametrize("case", ["cf", "cl"])
def test_backward_with_dilation_and_empty_windows(case):
    x = make_values(np.random.default_rng(1), (2, 3, 5, 4), np.float64, "spread")
    for options in OPTIONS:
        check_avg_backward(x, Pool(2, 1, ((3, 1), (0, 4)), (2, 3), True), case, *options)


# ---------------------------------------------------------------------------------------
# randomised sweeps


@pytest.mark.sweep
@settings(deadline=None)
@given(pool_cases(torch_compatible=True, dilation=False), st.sampled_from(FLOAT_DTYPES),
       st.sampled_from(CONTIGUOUS_CASES + ("cf_strided",)), st.booleans(), st.sampled_from([None, 1, 3]),
       seeds, st.sampled_from(("spread", "ties", "nan")), st.booleans())
def test_sweep_matches_torch(shape_pool, dtype, case, count_include_pad, divisor_override, seed, mode, batched):
    shape, pool = shape_pool
    dtype = np.float32 if case == "cf_strided" else dtype
    x = make_values(np.random.default_rng(seed), shape if batched else (1,) + shape[1:], dtype, mode)
    check_avg(x, pool, case, batched, count_include_pad, divisor_override)


@pytest.mark.sweep
@settings(deadline=None)
@given(pool_cases(), st.sampled_from(FLOAT_DTYPES), st.sampled_from(CONTIGUOUS_CASES + ("cl_strided",)),
       st.booleans(), st.sampled_from([None, 1, 4]), seeds, st.booleans())
def test_sweep_matches_reference(shape_pool, dtype, case, count_include_pad, divisor_override, seed, batched):
    shape, pool = shape_pool
    dtype = np.float32 if case == "cl_strided" else dtype
    x = make_values(np.random.default_rng(seed), shape if batched else (1,) + shape[1:], dtype, "spread")
    check_avg(x, pool, case, batched, count_include_pad, divisor_override)


@pytest.mark.sweep
@settings(deadline=None)
@given(pool_cases(), st.sampled_from(FLOAT_DTYPES), st.sampled_from(CONTIGUOUS_CASES), st.booleans(),
       st.sampled_from([None, 3]), seeds)
def test_sweep_backward(shape_pool, dtype, case, count_include_pad, divisor_override, seed):
    shape, pool = shape_pool
    x = make_values(np.random.default_rng(seed), shape, dtype, "spread")
    check_avg_backward(x, pool, case, count_include_pad, divisor_override, seed)
