"""numpool._params: output sizes, padding spellings, window tables and the spec cache.

Nothing here runs a Numba kernel: these are the pure-Python geometry rules that every
kernel trusts, checked against worked examples, brute-force enumeration and PyTorch.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from numpool import ParameterError
from numpool import _params as P

# ---------------------------------------------------------------------------------------
# references written independently of numpool


def ref_out_size(size, kernel, stride, dilation, lo, hi, ceil_mode):
    """Count window starts: every window that fits in the padded input, plus, in ceil mode,
    one last partial window if it starts inside the input or the left padding."""
    span = size + lo + hi - (dilation * (kernel - 1) + 1)  # the last start that fits
    count = 0
    while count * stride <= span:
        count += 1
    if ceil_mode and count * stride <= span + stride - 1 and count * stride < size + lo:
        count += 1
    return count


def ref_window_rows(size, kernel, stride, dilation, lo, hi, out):
    """Rows (first inside tap, taps inside, taps inside the padded input), one column an output."""
    table = np.zeros((3, out), dtype=np.int64)
    for o in range(out):
        taps = o * stride - lo + dilation * np.arange(kernel)
        inside = taps[(taps >= 0) & (taps < size)]
        padded = taps[(taps >= -lo) & (taps < size + hi)]
        table[:, o] = (inside[0] if inside.size else 0, inside.size, padded.size)
    return table


def same_pads(size, kernel, stride, dilation):
    """TF's SAME rule written out: (out, total, lo_upper, hi_upper)."""
    out = int(np.ceil(size / stride))
    total = max((out - 1) * stride + dilation * (kernel - 1) + 1 - size, 0)
    return out, total, total // 2, total - total // 2


axis_params = st.fixed_dictionaries({
    "size": st.integers(1, 20),
    "kernel": st.integers(1, 6),
    "stride": st.integers(1, 5),
    "dilation": st.integers(1, 3),
    "lo": st.integers(0, 6),
    "hi": st.integers(0, 6),
    "ceil_mode": st.booleans(),
})


# ---------------------------------------------------------------------------------------
# output size


@pytest.mark.parametrize(
    "size, kernel, stride, dilation, lo, hi, ceil_mode, expected",
    [
        (4, 2, 2, 1, 0, 0, False, 2),
        (4, 3, 3, 1, 0, 0, False, 1),  # d2l MaxPool2d(3) on 4x4
        (4, 3, 2, 1, 1, 1, False, 2),  # d2l MaxPool2d(3, padding=1, stride=2)
        (5, 2, 2, 1, 0, 0, False, 2),
        (5, 2, 2, 1, 0, 0, True, 3),
        (32, 1, 2, 1, 0, 0, True, 16),  # PyTorch: the 17th window would start past the input
        (32, 1, 2, 1, 0, 0, False, 16),
        (5, 2, 3, 1, 1, 1, True, 2),
        (6, 3, 2, 1, 1, 1, True, 4),  # (6+2-3)/2 -> ceil 3 -> 4; start 6 < 6+1 keeps it
        (6, 2, 2, 1, 1, 1, True, 4),  # start 6 >= 6+1? no -> 4 kept
        (7, 3, 2, 2, 0, 0, False, 2),  # effective 5
        (10, 3, 1, 4, 0, 0, False, 2),  # effective 9
        (3, 4, 1, 1, 0, 0, False, 0),
        (3, 2, 1, 3, 0, 0, True, 0),  # effective 4 > 3
        (1, 1, 1, 1, 0, 0, False, 1),
        (1, 3, 1, 1, 1, 1, False, 1),
    ],
)
def test_out_size_examples(size, kernel, stride, dilation, lo, hi, ceil_mode, expected):
    assert P.out_size(size, kernel, stride, dilation, lo, hi, ceil_mode) == expected
    assert ref_out_size(size, kernel, stride, dilation, lo, hi, ceil_mode) == expected


@pytest.mark.sweep
@given(axis_params)
def test_out_size_matches_enumeration(p):
    args = tuple(p[k] for k in ("size", "kernel", "stride", "dilation", "lo", "hi", "ceil_mode"))
    got = P.out_size(*args)
    if p["hi"] >= p["dilation"] * (p["kernel"] - 1) + 1:
        # a whole window fits in the right padding: see test_ceil_mode_never_drops_a_floor_window
        args = args[:-1] + (False,)
        got = P.out_size(*args)
    assert got == ref_out_size(*args)
    if got and args[-1]:
        assert (got - 1) * p["stride"] - p["lo"] < p["size"]  # starts inside the input or left padding


@pytest.mark.parametrize("size, kernel, stride, dilation, lo, hi", [(1, 1, 1, 1, 0, 2), (4, 2, 2, 1, 0, 4)])
def test_ceil_mode_never_drops_a_floor_window(size, kernel, stride, dilation, lo, hi):
    """``ceil_mode`` rounds up: it may add a partial window, never remove a whole one.

    PyTorch's ``out -= 1`` correction only ever removes the window that rounding up added
    (its padding limit keeps whole windows out of the right padding); numpool accepts any
    padding, so the correction must not remove a window that floor mode keeps.
    """
    floor = P.out_size(size, kernel, stride, dilation, lo, hi, False)
    ceil = P.out_size(size, kernel, stride, dilation, lo, hi, True)
    assert ref_out_size(size, kernel, stride, dilation, lo, hi, True) == floor
    assert floor <= ceil <= floor + 1


@pytest.mark.parametrize("size, kernel, stride, pad", [(1, 2, 2, 0), (3, 4, 3, 0), (2, 3, 5, 0), (1, 4, 3, 1)])
def test_ceil_mode_window_larger_than_input(size, kernel, stride, pad):
    """PyTorch's ceil mode keeps one partial window even when the window is larger than the
    padded input, as long as rounding up leaves room for it: ``max_pool1d(ones(1), 2, 2,
    ceil_mode=True)`` is ``[1.]``."""
    want = F.max_pool1d(torch.ones(1, 1, size), kernel, stride, pad, ceil_mode=True).shape[-1]
    assert want == 1
    assert ref_out_size(size, kernel, stride, 1, pad, pad, True) == 1
    assert P.out_size(size, kernel, stride, 1, pad, pad, True) == 1
    assert P.pool_spec("max_pool1d", (size,), kernel, stride, pad, 1, True).out_spatial == (1,)


def test_ceil_mode_rule_pytorch_example():
    spec = P.pool_spec("max_pool1d", (32,), 1, stride=2, ceil_mode=True)
    assert spec.out_spatial == (16,)
    assert torch.nn.functional.max_pool1d(torch.zeros(1, 1, 32), 1, 2, ceil_mode=True).shape[-1] == 16


# ---------------------------------------------------------------------------------------
# padding="same" / "same_lower"


@pytest.mark.parametrize(
    "size, kernel, stride, dilation, upper",
    [
        (5, 2, 2, 1, (0, 1)),  # total 1: the odd cell at the end
        (9, 2, 1, 1, (0, 1)),
        (4, 3, 1, 1, (1, 1)),
        (4, 4, 1, 1, (1, 2)),
        (5, 1, 3, 1, (0, 0)),  # total would be -1: clamped to 0
        (5, 3, 5, 1, (0, 0)),
        (6, 2, 1, 3, (1, 2)),  # dilation: effective 4, total 3
        (10, 3, 3, 2, (2, 2)),  # effective 5, out 4, total 4
        (7, 3, 2, 3, (3, 3)),  # effective 7, out 4, total 6
        (14, 2, 2, 1, (0, 0)),
        (14, 3, 2, 1, (0, 1)),
    ],
)
def test_same_padding_examples(size, kernel, stride, dilation, upper):
    lower = upper[::-1]
    spec = P.pool_spec("op", (size,), kernel, stride, "same", dilation)
    assert spec.padding == (upper,)
    assert spec.out_spatial == (-(-size // stride),)
    spec = P.pool_spec("op", (size,), kernel, stride, "same_lower", dilation)
    assert spec.padding == (lower,)
    assert spec.out_spatial == (-(-size // stride),)


@given(axis_params, st.sampled_from(["same", "SAME", "same_lower", "Same_Lower"]))
def test_same_padding_rule(p, mode):
    size, kernel, stride, dilation = p["size"], p["kernel"], p["stride"], p["dilation"]
    out, total, small, big = same_pads(size, kernel, stride, dilation)
    spec = P.pool_spec("op", (size,), kernel, stride, mode, dilation, p["ceil_mode"])
    expected = (small, big) if mode.lower() == "same" else (big, small)
    assert spec.padding == (expected,)
    assert spec.out_spatial == (out,)  # with either ceil_mode


def test_same_padding_per_axis():
    spec = P.pool_spec("op", (3, 5, 9), (1, 2, 2), (2, 2, 1), "SAME")
    assert spec.padding == ((0, 0), (0, 1), (0, 1))
    assert spec.out_spatial == (2, 3, 9)
    spec = P.pool_spec("op", (3, 5, 9), (1, 2, 2), (2, 2, 1), "same_lower")
    assert spec.padding == ((0, 0), (1, 0), (1, 0))


# ---------------------------------------------------------------------------------------
# padding spellings


@pytest.mark.parametrize(
    "padding, expected",
    [
        (0, ((0, 0), (0, 0))),
        (1, ((1, 1), (1, 1))),
        (np.int64(2), ((2, 2), (2, 2))),
        ((1, 2), ((1, 1), (2, 2))),
        ([1, 2], ((1, 1), (2, 2))),
        ((3,), ((3, 3), (3, 3))),
        (((0, 1), (2, 3)), ((0, 1), (2, 3))),
        ([[0, 1], [2, 3]], ((0, 1), (2, 3))),
        (((1, 0),), ((1, 0), (1, 0))),
        ((1, (0, 2)), ((1, 1), (0, 2))),
        (np.array([[0, 1], [1, 0]]), ((0, 1), (1, 0))),
        ("valid", ((0, 0), (0, 0))),
        ("VALID", ((0, 0), (0, 0))),
        ("Valid", ((0, 0), (0, 0))),
        ("same", ((0, 1), (1, 1))),
        ("SAME", ((0, 1), (1, 1))),
        ("sAmE", ((0, 1), (1, 1))),
        ("same_lower", ((1, 0), (1, 1))),
        ("SAME_LOWER", ((1, 0), (1, 1))),
    ],
)
def test_padding_spellings(padding, expected):
    # spatial (5, 6), kernel (2, 3), stride 1: SAME totals 1 and 2
    spec = P.pool_spec("op", (5, 6), (2, 3), 1, padding)
    assert spec.padding == expected


def test_padding_pairs_directly():
    assert P.padding_pairs(2, 3, (4, 4, 4), (3, 3, 3), (1, 1, 1), (1, 1, 1), "op") == ((2, 2),) * 3
    assert P.padding_pairs("same", 1, (5,), (2,), (2,), (1,), "op") == ((0, 1),)
    assert P.padding_pairs("same_lower", 1, (5,), (2,), (2,), (1,), "op") == ((1, 0),)


@pytest.mark.parametrize(
    "name, value, nd, expected",
    [
        ("kernel_size", 3, 2, (3, 3)),
        ("kernel_size", np.int32(3), 3, (3, 3, 3)),
        ("kernel_size", (2, 3), 2, (2, 3)),
        ("kernel_size", [2, 3, 4], 3, (2, 3, 4)),
        ("kernel_size", (5,), 3, (5, 5, 5)),
        ("kernel_size", (5,), 1, (5,)),
        ("stride", np.array([1, 2]), 2, (1, 2)),
    ],
)
def test_int_tuple_spellings(name, value, nd, expected):
    got = P.int_tuple(name, value, nd, "op", 1)
    assert got == expected
    assert all(type(v) is int for v in got)


def test_stride_defaults_to_kernel():
    spec = P.pool_spec("op", (8, 9), (2, 3))
    assert spec.stride == (2, 3)
    assert spec.out_spatial == (4, 3)
    assert P.pool_spec("op", (8, 9), (2, 3), stride=1).stride == (1, 1)


@pytest.mark.parametrize(
    "layout, expected",
    [
        ("channels_first", "channels_first"), ("CHANNELS_LAST", "channels_last"), ("NCHW", "channels_first"),
        ("nhwc", "channels_last"), ("NDHWC", "channels_last"), ("ncw", "channels_first"), ("NWC", "channels_last"),
    ],
)
def test_layout_spellings(layout, expected):
    assert P.normalize_layout(layout, "op") == expected


# ---------------------------------------------------------------------------------------
# window tables and the interior range


@pytest.mark.sweep
@given(axis_params)
def test_window_table_matches_enumeration(p):
    size, kernel, stride, dilation, lo, hi = (p[k] for k in ("size", "kernel", "stride", "dilation", "lo", "hi"))
    out = P.out_size(size, kernel, stride, dilation, lo, hi, p["ceil_mode"])
    table = P.window_table(size, kernel, stride, dilation, lo, hi, out)
    assert table.dtype == np.int64
    assert table.shape == (3, out)
    assert not table.flags.writeable  # cached: callers must not be able to change it
    np.testing.assert_array_equal(table, ref_window_rows(size, kernel, stride, dilation, lo, hi, out))


@pytest.mark.sweep
@given(axis_params)
def test_interior_range_matches_enumeration(p):
    size, kernel, stride, dilation, lo, hi = (p[k] for k in ("size", "kernel", "stride", "dilation", "lo", "hi"))
    out = P.out_size(size, kernel, stride, dilation, lo, hi, p["ceil_mode"])
    first, stop = P.interior_range(size, kernel, stride, dilation, lo, out)
    interior = [
        o for o in range(out)
        if o * stride - lo >= 0 and o * stride - lo + dilation * (kernel - 1) < size
    ]
    assert list(range(first, stop)) == interior
    assert 0 <= first <= stop <= out  # the kernels loop over [0, first), [first, stop), [stop, out)


@given(axis_params)
def test_count_include_pad_column_is_pytorch_divisor(p):
    """Column 2 is avg_pool's divisor: PyTorch's ``min(start + k, L + pad) - start`` (d = 1)."""
    size, kernel, stride = p["size"], p["kernel"], p["stride"]
    pad = min(p["lo"], kernel // 2)  # PyTorch's own limit, symmetric
    out = P.out_size(size, kernel, stride, 1, pad, pad, p["ceil_mode"])
    if out < 1:
        return
    table = P.window_table(size, kernel, stride, 1, pad, pad, out)
    x = torch.ones(1, 1, size, dtype=torch.float64)
    got = F.avg_pool1d(x, kernel, stride, pad, p["ceil_mode"], count_include_pad=True)[0, 0].numpy()
    np.testing.assert_allclose(got, table[1] / table[2], rtol=1e-15)
    for o in range(out):
        start = o * stride - pad
        assert table[2, o] == min(start + kernel, size + pad) - start


def test_table_spec_geometry():
    spec = P.pool_spec("op", (4, 7), (2, 3), (2, 2), ((0, 1), (1, 0)), (1, 2))
    (td, th, tw), dil, wgeom = P.table_spec(spec)
    assert td.tolist() == [[0], [1], [1]]  # the lifted size-1 depth axis
    np.testing.assert_array_equal(th, ref_window_rows(4, 2, 2, 1, 0, 1, spec.out_spatial[0]))
    np.testing.assert_array_equal(tw, ref_window_rows(7, 3, 2, 2, 1, 0, spec.out_spatial[1]))
    assert dil.tolist() == [1, 1, 2]
    first, stop = P.interior_range(7, 3, 2, 2, 1, spec.out_spatial[1])
    assert wgeom.tolist() == [2, 1, 3, 2, first, stop]


def test_lifted_and_divisor_factors():
    spec = P.pool_spec("op", (5,), 2, 2, 1, 1, True)
    assert spec.nd == 1
    assert spec.lifted() == ((1, 1, 5), (1, 1, 2), (1, 1, 2), (1, 1, 1), ((0, 0), (0, 0), (1, 1)),
                             (1, 1, 3))
    fd, fh, fw = P.divisor_factors(spec, True)
    assert fd.tolist() == [1] and fh.tolist() == [1]
    assert fw.tolist() == [2, 2, 2]
    assert P.divisor_factors(spec, False)[2].tolist() == [1, 2, 2]


# ---------------------------------------------------------------------------------------
# the spec cache


def test_pool_spec_accepts_lists_and_caches_them():
    args = ("op_cache_lists", [6, 7], [2, 3], [2, 1], [[0, 1], [1, 0]], [1, 2])
    first = P.pool_spec(*args)
    again = P.pool_spec(*args)
    assert again is first  # served from the cache
    assert first == P.pool_spec("op_cache_lists", (6, 7), (2, 3), (2, 1), ((0, 1), (1, 0)), (1, 2))
    assert first.kernel_size == (2, 3) and first.padding == ((0, 1), (1, 0))
    hash(first)  # frozen and hashable


def test_pool_spec_accepts_arrays_and_unhashable_arguments():
    spec = P.pool_spec("op_cache_arrays", (6, 7), np.array([2, 3]), np.array([2, 1]), np.array([1, 0]))
    assert spec.kernel_size == (2, 3) and spec.stride == (2, 1) and spec.padding == ((1, 1), (0, 0))
    assert all(type(v) is int for v in spec.kernel_size + spec.stride)
    # a one-shot iterable cannot be cached but is still validated
    spec = P.pool_spec("op_cache_iter", (6, 7), iter((2, 3)))
    assert spec.kernel_size == (2, 3)


@pytest.mark.parametrize(
    "good, bad",
    [
        (dict(kernel_size=1), dict(kernel_size=True)),
        (dict(kernel_size=2), dict(kernel_size=2.0)),
        (dict(kernel_size=2, stride=1), dict(kernel_size=2, stride=1.0)),
        (dict(kernel_size=2, dilation=1), dict(kernel_size=2, dilation=True)),
        (dict(kernel_size=2, padding=0), dict(kernel_size=2, padding=False)),
        (dict(kernel_size=2, padding=1), dict(kernel_size=2, padding=1.0)),
    ],
)
def test_cache_does_not_let_equal_but_invalid_values_through(good, bad):
    """``True == 1`` and ``2.0 == 2`` hash alike: a cached valid spec must not answer for them."""
    P.pool_spec("op_cache_typed", (5, 5), **good)
    with pytest.raises(ParameterError):
        P.pool_spec("op_cache_typed", (5, 5), **bad)


# ---------------------------------------------------------------------------------------
# agreement with PyTorch's output shapes


@st.composite
def torch_pool_params(draw):
    nd = draw(st.integers(1, 3))
    sizes = tuple(draw(st.integers(1, 9)) for _ in range(nd))
    kernel = tuple(draw(st.integers(1, 5)) for _ in range(nd))
    stride = tuple(draw(st.integers(1, 4)) for _ in range(nd))
    dilation = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)  # PyTorch's limit
    return nd, sizes, kernel, stride, dilation, padding, draw(st.booleans())


def _torch_shape(fn, *args, **kwargs):
    """The spatial output shape, "too small" where no window fits, None for other refusals."""
    try:
        return tuple(fn(*args, **kwargs).shape[2:])
    except RuntimeError as exc:
        # avg_pool3d also refuses an unpadded input smaller than the kernel: not a size rule
        return "too small" if "output size" in str(exc).lower() else None


@pytest.mark.sweep
@given(torch_pool_params())
def test_output_size_matches_torch(params):
    nd, sizes, kernel, stride, dilation, padding, ceil_mode = params
    x = torch.zeros((1, 1) + sizes)
    max_shape = _torch_shape(getattr(F, f"max_pool{nd}d"), x, kernel, stride, padding, dilation, ceil_mode)
    avg_shape = _torch_shape(getattr(F, f"avg_pool{nd}d"), x, kernel, stride, padding, ceil_mode)
    for dil, want in ((dilation, max_shape), ((1,) * nd, avg_shape)):
        if want == "too small":  # no window fits: numpool must refuse it too
            with pytest.raises(ParameterError, match="output size"):
                P.pool_spec(f"max_pool{nd}d", sizes, kernel, stride, padding, dil, ceil_mode)
        elif want is not None:
            spec = P.pool_spec(f"max_pool{nd}d", sizes, list(kernel), stride, padding, dil, ceil_mode)
            assert spec.out_spatial == want, (params, dil)
