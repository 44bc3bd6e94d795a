"""Max pooling: hand-computed cases, then bitwise comparisons with PyTorch and the reference.

Values and indices must be bitwise equal to ``torch.nn.functional.max_poolNd`` (NaN, ties
and every dtype included) wherever PyTorch accepts the parameters; everything else
(asymmetric or large padding, "same" padding, windows wholly in padding) is compared with
:mod:`numpool.reference`.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import numpool
from numpool import reference

from helpers import (
    CONTIGUOUS_CASES, FLOAT_DTYPES, GRID_POOLS, GRID_SHAPES, MAX_DTYPES, STRIDED_CASES, VALUE_MODES, Pool, arrange,
    assert_close, assert_identical, check_same_or_refused, long_row_cases, make_values, np_max, np_max_backward,
    param_id, pool_cases, ref_max, ref_max_backward, seeds, torch_max,
)

# ---------------------------------------------------------------------------------------
# hand-computed cases (numpool and the reference must both give them)

HAND = [
    # (x, pool, expected values, expected indices)
    (np.arange(16.0).reshape(1, 1, 4, 4), Pool(3, 2, 1), [[[[5, 7], [13, 15]]]], [[[[5, 7], [13, 15]]]]),
    (np.arange(16.0).reshape(1, 1, 4, 4), Pool(2), [[[[5, 7], [13, 15]]]], [[[[5, 7], [13, 15]]]]),
    (np.array([[[1.0, 3, 2, 5, 4]]]), Pool(2, ceil_mode=True), [[[3, 5, 4]]], [[[1, 3, 4]]]),
    (np.array([[[1.0, 3, 2, 5, 4]]]), Pool(2, 1, dilation=2), [[[2, 5, 4]]], [[[2, 3, 4]]]),
    (np.arange(8.0).reshape(1, 1, 2, 2, 2), Pool(2), [[[[[7]]]]], [[[[[7]]]]]),
    (np.arange(8.0).reshape(1, 1, 2, 2, 2)[..., ::-1].copy(), Pool((1, 2, 2)), [[[[[3]], [[7]]]]],
     [[[[[2]], [[6]]]]]),
    # ceil_mode: a partial window larger than the input (as PyTorch), and floor mode's
    # window in the right padding (padding PyTorch forbids) is kept
    (np.array([[[1.0, 3, 2]]]), Pool(4, 3, ceil_mode=True), [[[3]]], [[[1]]]),
    (np.array([[[5.0]]]), Pool(1, 2, ((0, 3),), ceil_mode=True), [[[5, -np.inf]]], [[[0, -1]]]),
    # ties: the first tap inside the input, in row-major window order
    (np.ones((1, 1, 3, 3)), Pool(2, 1), np.ones((1, 1, 2, 2)), [[[[0, 1], [3, 4]]]]),
    (np.ones((1, 1, 3, 3)), Pool(2, 1, padding=1), np.ones((1, 1, 4, 4)),
     [[[[0, 0, 1, 2], [0, 0, 1, 2], [3, 3, 4, 5], [6, 6, 7, 8]]]]),
    # NaN always wins: the last NaN of the window
    (np.array([[[np.nan, 1, np.nan, 2]]]), Pool(4), [[[np.nan]]], [[[2]]]),
    (np.array([[[[1.0, np.nan], [np.nan, 5]]]]), Pool(2), [[[[np.nan]]]], [[[[2]]]]),
    # -inf everywhere: still the first tap, never the padding
    (np.full((1, 1, 3), -np.inf), Pool(2, 1, padding=1), np.full((1, 1, 4), -np.inf), [[[0, 0, 1, 2]]]),
    # SAME padding: (0, 1) on each axis
    (np.arange(9.0).reshape(1, 1, 3, 3), Pool(2, 2, "same"), [[[[4, 5], [7, 8]]]], [[[[4, 5], [7, 8]]]]),
    (np.arange(9.0).reshape(1, 1, 3, 3), Pool(2, 2, "same_lower"), [[[[0, 2], [6, 8]]]], [[[[0, 2], [6, 8]]]]),
    (np.arange(9.0).reshape(1, 1, 3, 3), Pool(2, 1, "valid"), [[[[4, 5], [7, 8]]]], [[[[4, 5], [7, 8]]]]),
    # (lo, hi) pairs
    (np.array([[[4.0, 1, 2]]]), Pool(2, 2, ((3, 0),)), [[[-np.inf, 4, 2]]], [[[-1, 0, 2]]]),
    # a window wholly in padding (torch would report index 1 here)
    (np.array([[[1.0]]]), Pool(2, 1, 1, 2), [[[-np.inf]]], [[[-1]]]),
    (np.array([[[7.0, 8.0]]]), Pool(1, 1, 2), [[[-np.inf, -np.inf, 7, 8, -np.inf, -np.inf]]],
     [[[-1, -1, 0, 1, -1, -1]]]),
]


@pytest.mark.parametrize("x, pool, values, indices", HAND)
@pytest.mark.parametrize("impl", ["numpool", "reference"])
def test_hand_computed(impl, x, pool, values, indices):
    out, idx = np_max(x, pool) if impl == "numpool" else ref_max(x, pool)
    assert_identical(out, np.asarray(values, dtype=x.dtype))
    assert_identical(idx, np.asarray(indices, dtype=np.int64))


def test_docstring_example():
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    assert_identical(numpool.max_pool2d(x, 3, stride=2, padding=1),
                     np.array([[[[5, 7], [13, 15]]]], dtype=np.float32))


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int64, np.bool_, np.float16])
def test_wholly_padded_window_gives_lowest_and_minus_one(dtype):
    x = np.ones((1, 1, 1), dtype=dtype)
    pool = Pool(2, 1, 1, 2)  # taps at -1 and 1: both padding
    low = False if dtype == np.bool_ else np.iinfo(dtype).min if np.dtype(dtype).kind in "iu" else -np.inf
    for out, idx in (np_max(x, pool), np_max(x, pool, "cl"), ref_max(x, pool)):
        assert_identical(out, np.full((1, 1, 1), low, dtype=dtype))
        assert_identical(idx, np.full((1, 1, 1), -1, dtype=np.int64))
    # PyTorch agrees on the value but reports an index outside the input
    if dtype != np.bool_:
        t_out, t_idx = torch_max(x, pool)
        assert_identical(t_out, np.full((1, 1, 1), low, dtype=dtype))
        assert t_idx.item() == 1


def test_wholly_padded_window_gets_no_gradient():
    x = np.array([[[3.0, 1.0]]])
    pool = Pool(1, 1, 1)  # windows at -1, 0, 1, 2
    out, idx = np_max(x, pool)
    assert_identical(idx, np.array([[[-1, 0, 1, -1]]]))
    g = np.array([[[100.0, 1.0, 2.0, 1000.0]]])
    for gx in (np_max_backward(g, x, pool), np_max_backward(g, x, pool, indices=idx),
               ref_max_backward(g, x, pool)):
        assert_identical(gx, np.array([[[1.0, 2.0]]]))


# ---------------------------------------------------------------------------------------
# fixed grids against PyTorch: every dtype, rank and contiguous layout

def _modes(dtype):
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return ("ties", "spread")
    if dtype.kind in "iu":
        return ("ties", "spread", "extremes")
    return VALUE_MODES


def check_against_torch(x, pool, case="cf", batched=True):
    """numpool with and without indices equals PyTorch and the reference, bitwise.

    Where a window is wholly in padding PyTorch's index points outside the input, so there
    the reference (index -1) decides; PyTorch's value must still be the dtype's lowest.
    """
    out, idx = np_max(x, pool, case, batched)
    out_only = np_max(x, pool, case, batched, return_indices=False)
    r_out, r_idx = ref_max(x, pool)
    t_out, t_idx = torch_max(x, pool)
    assert_identical(out, r_out)
    assert_identical(idx, r_idx)
    assert_identical(out_only, r_out)
    assert_identical(t_out, r_out)
    assert_identical(np.where(r_idx < 0, -1, t_idx), r_idx)


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("case", CONTIGUOUS_CASES)
@pytest.mark.parametrize("dtype", MAX_DTYPES, ids=param_id)
def test_dtypes_and_layouts_match_torch(dtype, case, nd):
    rng = np.random.default_rng(nd)
    for mode in _modes(dtype):
        x = make_values(rng, GRID_SHAPES[nd], dtype, mode)
        check_against_torch(x, GRID_POOLS[nd], case)


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("case", STRIDED_CASES)
def test_non_contiguous_float32_matches_torch(case, nd):
    rng = np.random.default_rng(10 + nd)
    for mode in ("ties", "nan", "inf"):
        check_against_torch(make_values(rng, GRID_SHAPES[nd], np.float32, mode), GRID_POOLS[nd], case)


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("case", ["cf", "cl", "cf_strided"])
def test_unbatched_matches_batched(case, nd):
    x = make_values(np.random.default_rng(nd), (1,) + GRID_SHAPES[nd][1:], np.float32, "nan")
    check_against_torch(x, GRID_POOLS[nd], case, batched=False)


@pytest.mark.parametrize("case, kernel_memory", [("cf", "cf"), ("cl", "cl"), ("cf_in_cl_memory", "cl"),
                                                 ("cl_in_cf_memory", "cf")])
def test_result_keeps_input_memory_order(case, kernel_memory):
    x, layout = arrange(np.zeros((2, 3, 5, 6), np.float32), case)
    out, idx = numpool.max_pool2d(x, 2, layout=layout, return_indices=True)
    for a in (out, idx):
        channels_first = a if layout == "channels_first" else np.moveaxis(a, -1, 1)
        in_memory = channels_first if kernel_memory == "cf" else np.moveaxis(channels_first, 1, -1)
        assert in_memory.flags.c_contiguous


def test_output_size_one():
    x = make_values(np.random.default_rng(0), (2, 3, 4, 5, 6), np.float64, "nan")
    check_against_torch(x, Pool((4, 5, 6)))
    check_against_torch(np.ascontiguousarray(x[..., 0, :3]), Pool(3, 1, 1, 2))  # taps -1, 1, 3


@pytest.mark.parametrize("dtype", [np.float32, np.int16, np.bool_])
def test_all_equal_inputs_match_torch(dtype):
    x = np.ones((2, 2, 6, 7), dtype=dtype)
    for pool in (Pool(3, 1, 1), Pool(2, 2, 1, ceil_mode=True), Pool(3, 2, 1, 2, True)):
        check_against_torch(x, pool)
        check_against_torch(x, pool, "cl")


@pytest.mark.parametrize("case", ["cf", "cl"])
def test_nan_values_and_indices_match_torch(case):
    x = np.full((2, 3, 5, 5), np.nan, dtype=np.float32)
    x[:, :, ::2, 1::2] = 1.0
    x[0, 0, 0, 0] = -np.nan  # another NaN bit pattern: payloads pass through untouched
    for pool in (Pool(3, 1, 1), Pool(2, 2, 1, ceil_mode=True), Pool(2, 1, 0, 2)):
        check_against_torch(x, pool, case)


@pytest.mark.parametrize("dtype", [np.float32, np.int8], ids=param_id)
def test_long_rows_match_torch(dtype):
    rng = np.random.default_rng(5)
    for shape, pool, case in long_row_cases(6):
        check_against_torch(make_values(rng, shape, dtype, "nan" if dtype == np.float32 else "ties"), pool, case)


def test_many_channels_backward():
    """Channels-last backward splits channels into blocks for its threads."""
    rng = np.random.default_rng(4)
    for shape in ((1, 37, 5, 6), (5, 11, 4, 4), (2, 64, 3, 3)):
        x = make_values(rng, shape, np.float32, "ties")
        for pool in (Pool(3, 1, 1), Pool(2, 2, 1, 2, True)):
            out, idx = np_max(x, pool, "cl")
            check_against_torch(x, pool, "cl")
            g = make_values(rng, out.shape, np.float32, "spread")
            expected = torch_max(x, pool, grad_cf=g)[2]
            assert_close(np_max_backward(g, x, pool, "cl"), expected)
            assert_close(np_max_backward(g, x, pool, "cl", indices=idx), expected)


def test_non_native_byte_order():
    """A big-endian array pools like its native copy, or is refused with a numpool error
    (never a Numba typing error: every check happens before a kernel runs)."""
    x = make_values(np.random.default_rng(0), (2, 3, 5, 6), np.float64, "nan")
    swapped = x.astype(x.dtype.newbyteorder())
    out, idx = numpool.max_pool2d(x, 2, return_indices=True)
    g = np.ones_like(out)
    checks = [
        (lambda a: numpool.max_pool2d(a, 2, return_indices=True)[0], out),
        (lambda a: numpool.max_pool2d(a, 2, return_indices=True)[1], idx),
        (lambda a: numpool.max_pool2d(a, 2), out),
        (lambda a: numpool.max_pool2d_backward(g, a, 2), numpool.max_pool2d_backward(g, x, 2)),
    ]
    for run, expected in checks:
        check_same_or_refused(run, swapped, expected)


# ---------------------------------------------------------------------------------------
# backward


BACKWARD_GRID = [(dtype, case) for dtype in FLOAT_DTYPES for case in CONTIGUOUS_CASES] + [
    (np.float32, "cf_strided"), (np.float32, "cl_transposed")]  # non-contiguous: float32 only


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("dtype, case", BACKWARD_GRID, ids=param_id)
def test_backward_matches_torch(dtype, case, nd):
    rng = np.random.default_rng(nd)
    x = make_values(rng, GRID_SHAPES[nd], dtype, "ties")
    pool = GRID_POOLS[nd]
    out, idx = np_max(x, pool, case)
    g = make_values(rng, out.shape, dtype, "spread")
    _, _, t_gx = torch_max(x, pool, grad_cf=g)
    r_gx = ref_max_backward(g, x, pool)
    for gx in (np_max_backward(g, x, pool, case), np_max_backward(g, x, pool, case, indices=idx)):
        assert_close(gx, t_gx)
        assert_close(gx, r_gx)


def test_backward_indices_from_other_layout():
    """Indices are flat spatial positions: the same whatever the layout that produced them."""
    x = make_values(np.random.default_rng(3), (2, 3, 6, 6), np.float64, "spread")
    pool = Pool(3, 2, 1)
    _, idx_cl = np_max(x, pool, "cl")
    g = np.arange(np.prod(idx_cl.shape), dtype=np.float64).reshape(idx_cl.shape)
    assert_identical(np_max_backward(g, x, pool, "cf", indices=idx_cl), ref_max_backward(g, x, pool))


# ---------------------------------------------------------------------------------------
# randomised sweeps


@st.composite
def max_inputs(draw, torch_compatible):
    shape, pool = draw(pool_cases(torch_compatible=torch_compatible))
    dtype = draw(st.sampled_from(MAX_DTYPES))
    cases = CONTIGUOUS_CASES + (STRIDED_CASES[:2] if dtype == np.float32 else ())
    case = draw(st.sampled_from(cases))
    x = make_values(np.random.default_rng(draw(seeds)), shape, dtype, draw(st.sampled_from(_modes(dtype))))
    return x, pool, case, draw(st.booleans())


@pytest.mark.sweep
@settings(deadline=None)
@given(max_inputs(torch_compatible=True))
def test_sweep_matches_torch(args):
    x, pool, case, batched = args
    check_against_torch(x if batched else x[:1], pool, case, batched)


@pytest.mark.sweep
@settings(deadline=None)
@given(max_inputs(torch_compatible=False))
def test_sweep_matches_reference(args):
    x, pool, case, batched = args
    x = x if batched else x[:1]
    out, idx = np_max(x, pool, case, batched)
    r_out, r_idx = ref_max(x, pool)
    assert_identical(out, r_out)
    assert_identical(idx, r_idx)
    assert_identical(np_max(x, pool, case, batched, return_indices=False), r_out)


@pytest.mark.sweep
@settings(deadline=None)
@given(pool_cases(), st.sampled_from(FLOAT_DTYPES), st.sampled_from(CONTIGUOUS_CASES + ("cl_strided",)), seeds,
       st.sampled_from(("ties", "nan", "spread")))
def test_sweep_backward(shape_pool, dtype, case, seed, mode):
    shape, pool = shape_pool
    if case == "cl_strided":
        dtype = np.float32
    rng = np.random.default_rng(seed)
    x = make_values(rng, shape, dtype, mode)
    out, idx = np_max(x, pool, case)
    g = make_values(rng, out.shape, dtype, "spread")
    expected = ref_max_backward(g, x, pool)
    assert_close(np_max_backward(g, x, pool, case), expected)
    assert_close(np_max_backward(g, x, pool, case, indices=idx), expected)
    if pool.torch_padding(shape[2:]) is not None and (idx >= 0).all():
        assert_close(torch_max(x, pool, grad_cf=g)[2], expected)


def test_reference_rejects_a_window_that_does_not_fit():
    with pytest.raises(ValueError):
        reference.max_pool(np.zeros((1, 1, 2)), (3,), (1,), ((0, 0),), (1,), False)
