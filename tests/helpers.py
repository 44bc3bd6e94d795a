"""Shared utilities of the pooling tests: parameters, layouts, oracles, comparisons, strategies.

Every test states its case as a channels-first batched array ``x`` (N, C, *spatial) and a
:class:`Pool`; the helpers lay ``x`` out the way the case asks (channels-last, strided,
the other memory order, unbatched), call numpool, check that the input was not touched,
and hand the results back channels-first so they can be compared with PyTorch and with
:mod:`numpool.reference`.

Compile budget: every (kernel, dtype, memory order, contiguity) combination compiles once,
so non-contiguous cases are run with float32 only, and F-contiguous views (which would add
one more compiled variant) are avoided by keeping ``N * C > 1`` in transposed cases.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
import torch.nn.functional as F
from hypothesis import strategies as st

import numpool
from numpool import reference

INT_DTYPES = (np.int8, np.uint8, np.int16, np.int32, np.int64)
FLOAT_DTYPES = (np.float16, np.float32, np.float64)
MAX_DTYPES = (np.bool_,) + INT_DTYPES + FLOAT_DTYPES

# contiguous layouts, then the float32-only non-contiguous ones
CONTIGUOUS_CASES = ("cf", "cl", "cf_in_cl_memory", "cl_in_cf_memory")
STRIDED_CASES = ("cf_strided", "cl_strided", "cf_transposed", "cl_transposed")

TOLERANCE = {  # (rtol, atol) of averages and float gradients
    np.dtype(np.float16): (2e-3, 2e-3),
    np.dtype(np.float32): (1e-6, 1e-6),
    np.dtype(np.float64): (1e-12, 1e-12),
}


# ---------------------------------------------------------------------------------------
# parameters


def per_dim(value, nd):
    """An int or a sequence (length 1 or ``nd``) as a tuple of ``nd`` ints."""
    if isinstance(value, (int, np.integer)):
        return (int(value),) * nd
    value = tuple(value)
    return value * nd if len(value) == 1 else value


def padding_pairs(padding, spatial, kernel, stride, dilation):
    """Any numpool padding spelling as ``((lo, hi), ...)``; "same" is TensorFlow's SAME_UPPER."""
    nd = len(spatial)
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * nd
        pairs = []
        for size, k, s, d in zip(spatial, kernel, stride, dilation):
            out = -(-size // s)  # ceil(size / s)
            total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
            small, large = total // 2, total - total // 2
            pairs.append((small, large) if padding == "same" else (large, small))
        return tuple(pairs)
    if isinstance(padding, (int, np.integer)):
        return ((int(padding), int(padding)),) * nd
    items = per_dim(padding, nd)
    return tuple((p, p) if isinstance(p, (int, np.integer)) else tuple(p) for p in items)


@dataclasses.dataclass(frozen=True)
class Pool:
    """Window parameters spelled as a numpool user would spell them."""

    kernel_size: object
    stride: object = None
    padding: object = 0
    dilation: object = 1
    ceil_mode: bool = False

    def kwargs(self):
        return dict(kernel_size=self.kernel_size, stride=self.stride, padding=self.padding,
                    dilation=self.dilation, ceil_mode=self.ceil_mode)

    def geometry(self, spatial):
        """``(kernel, stride, padding_pairs, dilation, ceil_mode)`` as :mod:`numpool.reference` takes them."""
        nd = len(spatial)
        kernel = per_dim(self.kernel_size, nd)
        stride = kernel if self.stride is None else per_dim(self.stride, nd)
        dilation = per_dim(self.dilation, nd)
        pairs = padding_pairs(self.padding, spatial, kernel, stride, dilation)
        return kernel, stride, pairs, dilation, self.ceil_mode

    def torch_padding(self, spatial):
        """Symmetric per-dim padding PyTorch accepts (at most half the kernel), else None."""
        kernel, _, pairs, _, _ = self.geometry(spatial)
        if any(lo != hi or 2 * lo > k for (lo, hi), k in zip(pairs, kernel)):
            return None
        return tuple(lo for lo, _ in pairs)


# overlapping windows, padding, dilation and ceil_mode in one fixed case per rank
GRID_POOLS = {
    1: Pool(3, 2, 1, 2, True),
    2: Pool((3, 2), (2, 1), (1, 1), (1, 2), True),
    3: Pool(2, (1, 2, 2), ((1, 1), (0, 0), (1, 1)), 1, True),
}
GRID_SHAPES = {1: (2, 3, 11), 2: (2, 3, 7, 6), 3: (2, 3, 4, 5, 5)}


def long_row_cases(seed, dilation=True):
    """``(shape, pool, case)`` for many row lengths, strides (the kernels split strided rows
    into phases), kernels, dilations and paddings PyTorch accepts, on 1-D and 2-D inputs."""
    rng = np.random.default_rng(seed)
    for width in (1, 2, 3, 5, 8, 13, 21, 34, 47):
        for stride in range(1, 6):
            for kernel in range(1, 6):
                d = int(rng.integers(1, 4)) if dilation else 1
                pad = int(rng.integers(0, kernel // 2 + 1))
                pool = Pool(kernel, stride, pad, d, bool(rng.integers(2)))
                if reference.output_size(width, kernel, stride, d, pad, pad, pool.ceil_mode) < 1:
                    continue
                shape = (2, 3, width) if rng.integers(2) else (1, 2, d * (kernel - 1) + 2, width)
                yield shape, pool, CONTIGUOUS_CASES[int(rng.integers(len(CONTIGUOUS_CASES)))]


# ---------------------------------------------------------------------------------------
# layouts


def channel_axis(batched):
    return 1 if batched else 0


def strided_copy(a):
    """A non-contiguous view (every axis stepped by 2) holding ``a``'s values.

    The cells between hold a value that would win a maximum and spoil a sum (NaN, or the
    dtype's maximum), so a kernel that reads outside the view is caught.
    """
    filler = np.nan if a.dtype.kind == "f" else np.iinfo(a.dtype).max
    big = np.full(tuple(2 * s + 1 for s in a.shape), filler, dtype=a.dtype)
    view = big[tuple(slice(1, None, 2) for _ in a.shape)]
    view[...] = a
    return view


def transposed_copy(a):
    """A view with ``a``'s values whose last two axes are swapped in memory (a transpose)."""
    return np.swapaxes(np.ascontiguousarray(np.swapaxes(a, -1, -2)), -1, -2)


def arrange(x_cf, case, batched=True):
    """Lay a channels-first array out for ``case``; return ``(array, layout)``.

    ``case``: "cf"/"cl" contiguous; "cf_in_cl_memory" (a channels-first view of a
    contiguous channels-last array, np.transpose style) and "cl_in_cf_memory"; and the
    non-contiguous "cf_strided", "cl_strided", "cf_transposed", "cl_transposed".
    """
    c = channel_axis(batched)
    if case.startswith("cl"):
        layout = "channels_last"
        x = np.ascontiguousarray(np.moveaxis(x_cf, c, -1))
    else:
        layout = "channels_first"
        x = np.ascontiguousarray(x_cf)
    if case == "cf_in_cl_memory":
        x = np.moveaxis(np.ascontiguousarray(np.moveaxis(x_cf, c, -1)), -1, c)
    elif case == "cl_in_cf_memory":
        x = np.moveaxis(np.ascontiguousarray(x_cf), c, -1)
    elif case.endswith("_strided"):
        x = strided_copy(x)
    elif case.endswith("_transposed"):
        x = transposed_copy(x)
    elif case not in ("cf", "cl"):
        raise ValueError(case)
    return x, layout


def to_channels_first(a, layout, batched=True):
    """Undo :func:`arrange`'s channel move on a result."""
    return np.moveaxis(a, -1, channel_axis(batched)) if layout == "channels_last" else a


def param_id(value):
    """Readable pytest ids for dtypes (and anything else)."""
    return np.dtype(value).name if isinstance(value, type) and issubclass(value, np.generic) else str(value)


# ---------------------------------------------------------------------------------------
# comparisons


def assert_identical(actual, expected):
    """Same shape, same dtype and the same bytes (NaN payloads and -0.0 included)."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.dtype == expected.dtype, (actual.dtype, expected.dtype)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    width = actual.dtype.itemsize
    a = np.ascontiguousarray(actual).view(np.uint8).reshape(-1, width)
    b = np.ascontiguousarray(expected).view(np.uint8).reshape(-1, width)
    differ = np.flatnonzero((a != b).any(axis=1))
    if differ.size:
        first = differ[:5]
        raise AssertionError(
            f"{differ.size} of {actual.size} elements differ; first at flat {first.tolist()}: "
            f"got {actual.reshape(-1)[first].tolist()}, expected {expected.reshape(-1)[first].tolist()}"
        )


def check_same_or_refused(run, x, expected):
    """``run(x)`` equals ``expected`` (after a cast to its dtype), or raises a numpool error."""
    try:
        result = run(x)
    except numpool.NumpoolError:
        return
    assert_identical(result.astype(expected.dtype), expected)


def assert_close(actual, expected, dtype=None):
    """Equal to float rounding of ``dtype`` (NaN where NaN); dtype and shape must match."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.dtype == expected.dtype, (actual.dtype, expected.dtype)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    rtol, atol = TOLERANCE[np.dtype(dtype or actual.dtype)]
    np.testing.assert_allclose(actual.astype(np.float64), expected.astype(np.float64), rtol=rtol, atol=atol)


# ---------------------------------------------------------------------------------------
# data


VALUE_MODES = ("ties", "spread", "nan", "inf", "extremes")


def make_values(rng, shape, dtype, mode):
    """Test data: "ties" small integers (many equal values), "spread" mostly distinct values,
    "nan" / "inf" floats with NaN or +-inf sprinkled in, "extremes" the dtype's limits mixed in."""
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return rng.random(shape) < (0.2 if mode == "ties" else 0.5)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        if mode == "extremes":
            return rng.choice(np.array([info.min, info.min + 1, 0, info.max - 1, info.max], dtype=dtype), shape)
        if mode == "spread":
            return rng.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)
        low = 0 if dtype.kind == "u" else -2
        return rng.integers(low, low + 4, shape).astype(dtype)
    if mode == "ties":
        return rng.integers(-2, 2, shape).astype(dtype)
    x = rng.standard_normal(shape).astype(dtype)
    if mode == "nan":
        x[rng.random(shape) < 0.25] = np.nan
    elif mode == "inf":
        x[rng.random(shape) < 0.3] = -np.inf
        x[rng.random(shape) < 0.1] = np.inf
    elif mode == "extremes":
        finfo = np.finfo(dtype)
        x[rng.random(shape) < 0.3] = finfo.min
        x[rng.random(shape) < 0.1] = -0.0
    return x


def distinct_values(rng, shape, dtype=np.float64, gap=1.0):
    """A random permutation of well-separated values: every window has one clear maximum."""
    size = int(np.prod(shape))
    return (rng.permutation(size) * gap + rng.uniform(0, 0.1 * gap, size)).reshape(shape).astype(dtype)


# ---------------------------------------------------------------------------------------
# numpool calls (channels-first in, channels-first out)


def numpool_fn(kind, nd, backward=False):
    return getattr(numpool, f"{kind}_pool{nd}d" + ("_backward" if backward else ""))


def _call(fn, x_cf, case, batched, arrays=(), **kwargs):
    """Run ``fn(*arrays, x, **kwargs)`` with every array laid out for ``case``; check ``x`` is untouched."""
    x, layout = arrange(x_cf if batched else x_cf[0], case, batched)
    laid = [arrange(a if batched else a[0], case, batched)[0] for a in arrays]
    before = [a.copy() for a in laid + [x]]
    result = fn(*laid, x, layout=layout, **kwargs)
    for a, b in zip(laid + [x], before):
        assert_identical(a, b)  # inputs never modified
    results = result if isinstance(result, tuple) else (result,)
    back = tuple(to_channels_first(r, layout, batched) for r in results)
    if not batched:
        back = tuple(r[np.newaxis] for r in back)
    return back if isinstance(result, tuple) else back[0]


def np_max(x_cf, pool, case="cf", batched=True, return_indices=True):
    """numpool max pooling of a channels-first batched array laid out as ``case``."""
    return _call(numpool_fn("max", x_cf.ndim - 2), x_cf, case, batched, return_indices=return_indices,
                 **pool.kwargs())


def np_max_backward(grad_cf, x_cf, pool, case="cf", batched=True, indices=None):
    kwargs = pool.kwargs()
    if indices is not None:
        kwargs["indices"] = arrange(indices if batched else indices[0], case, batched)[0]
    return _call(numpool_fn("max", x_cf.ndim - 2, backward=True), x_cf, case, batched, (grad_cf,), **kwargs)


def np_avg(x_cf, pool, case="cf", batched=True, count_include_pad=True, divisor_override=None):
    return _call(numpool_fn("avg", x_cf.ndim - 2), x_cf, case, batched, count_include_pad=count_include_pad,
                 divisor_override=divisor_override, **pool.kwargs())


def np_avg_backward(grad_cf, x_cf, pool, case="cf", batched=True, count_include_pad=True, divisor_override=None):
    return _call(numpool_fn("avg", x_cf.ndim - 2, backward=True), x_cf, case, batched, (grad_cf,),
                 count_include_pad=count_include_pad, divisor_override=divisor_override, **pool.kwargs())


# ---------------------------------------------------------------------------------------
# oracles


def ref_max(x_cf, pool):
    return reference.max_pool(x_cf, *pool.geometry(x_cf.shape[2:]))


def ref_max_backward(grad_cf, x_cf, pool, indices=None):
    return reference.max_pool_backward(grad_cf, x_cf, *pool.geometry(x_cf.shape[2:]), indices=indices)


def ref_avg(x_cf, pool, count_include_pad=True, divisor_override=None):
    return reference.avg_pool(x_cf, *pool.geometry(x_cf.shape[2:]), count_include_pad, divisor_override)


def ref_avg_backward(grad_cf, x_cf, pool, count_include_pad=True, divisor_override=None):
    return reference.avg_pool_backward(grad_cf, x_cf, *pool.geometry(x_cf.shape[2:]), count_include_pad,
                                       divisor_override)


def _torch_args(x_cf, pool):
    kernel, stride, _, dilation, ceil_mode = pool.geometry(x_cf.shape[2:])
    padding = pool.torch_padding(x_cf.shape[2:])
    assert padding is not None, "PyTorch refuses this padding; compare with the reference only"
    return kernel, stride, padding, dilation, ceil_mode


def torch_max(x_cf, pool, grad_cf=None):
    """PyTorch's ``(out, indices)``, plus the input gradient when ``grad_cf`` is given.

    bool is not a PyTorch pooling dtype, so a bool input is pooled as uint8 and viewed back.
    """
    kernel, stride, padding, dilation, ceil_mode = _torch_args(x_cf, pool)
    fn = getattr(F, f"max_pool{x_cf.ndim - 2}d")
    t = torch.from_numpy(x_cf.view(np.uint8) if x_cf.dtype == np.bool_ else x_cf.copy())
    if grad_cf is not None:
        t.requires_grad_(True)
    out, idx = fn(t, kernel, stride, padding, dilation, ceil_mode, return_indices=True)
    result = out.detach().numpy(), idx.numpy()
    if x_cf.dtype == np.bool_:
        result = result[0].view(np.bool_), result[1]
    if grad_cf is None:
        return result
    out.backward(torch.from_numpy(grad_cf.copy()))
    return result + (t.grad.numpy(),)


def torch_avg(x_cf, pool, count_include_pad=True, divisor_override=None, grad_cf=None):
    """PyTorch's average (and input gradient with ``grad_cf``); dilation must be 1.

    ``avg_pool1d`` has no ``divisor_override``, so 1-D goes through ``avg_pool2d`` with a
    height-1 window.
    """
    kernel, stride, padding, dilation, ceil_mode = _torch_args(x_cf, pool)
    assert all(d == 1 for d in dilation), "PyTorch has no dilated average pooling"
    t = torch.from_numpy(x_cf.copy())
    if grad_cf is not None:
        t.requires_grad_(True)
    nd = x_cf.ndim - 2
    if nd == 1:
        out = F.avg_pool2d(t[:, :, None], (1,) + kernel, (1,) + stride, (0,) + padding, ceil_mode,
                           count_include_pad, divisor_override)[:, :, 0]
    else:
        out = getattr(F, f"avg_pool{nd}d")(t, kernel, stride, padding, ceil_mode, count_include_pad,
                                           divisor_override)
    if grad_cf is None:
        return out.detach().numpy()
    out.backward(torch.from_numpy(grad_cf.copy()))
    return out.detach().numpy(), t.grad.numpy()


def torch_accepts_avg(x_cf, pool):
    """Whether PyTorch's CPU average pooling takes this case: no dilation, padding at most half
    the kernel, and for ``avg_pool3d`` no float16 and no input smaller than the kernel."""
    spatial = x_cf.shape[2:]
    kernel, _, _, dilation, _ = pool.geometry(spatial)
    if pool.torch_padding(spatial) is None or any(d != 1 for d in dilation):
        return False
    return len(spatial) < 3 or (x_cf.dtype != np.float16 and all(s >= k for s, k in zip(spatial, kernel)))


# ---------------------------------------------------------------------------------------
# hypothesis strategies

MAX_SPATIAL = {1: 9, 2: 6, 3: 4}


def _spellings(values):
    """A per-dim tuple as itself, or as one int or a one-entry tuple when every entry is equal."""
    options = [values] + ([values[0], values[:1]] if len(set(values)) == 1 else [])
    return st.sampled_from(options)


@st.composite
def pool_cases(draw, nd=None, torch_compatible=False, dilation=True):
    """``(shape, pool)``: a channels-first batched shape and parameters whose output is non-empty.

    With ``torch_compatible``, padding is symmetric and at most half the kernel (PyTorch's
    limits); otherwise any spelling: ints, per-dim ints, (lo, hi) pairs, "same",
    "same_lower", "valid", and amounts large enough for windows wholly in padding.
    """
    nd = draw(st.integers(1, 3)) if nd is None else nd
    dims = st.integers(1, 3 if nd == 3 else 4)
    kernel = draw(st.tuples(*[dims] * nd))
    stride = draw(st.one_of(st.none(), st.tuples(*[st.integers(1, 3)] * nd)))
    dil = draw(st.tuples(*[st.integers(1, 3)] * nd)) if dilation else (1,) * nd
    if torch_compatible:
        pads = draw(st.tuples(*[st.integers(0, k // 2) for k in kernel]))
        padding = draw(st.sampled_from([pads, tuple((p, p) for p in pads)]
                                       + ([pads[0]] if len(set(pads)) == 1 else [])))
    else:
        most = 2 if nd == 3 else 4  # keeps the reference's loops short
        pair = st.tuples(st.integers(0, most), st.integers(0, most))
        padding = draw(st.one_of(
            st.integers(0, most),
            st.tuples(*[st.integers(0, most)] * nd),
            st.tuples(*[st.one_of(pair, st.integers(0, most))] * nd),  # pairs, ints mixed in
            st.sampled_from(["same", "same_lower", "valid"]),
        ))
    ceil_mode = draw(st.booleans())
    pool = Pool(draw(_spellings(kernel)), None if stride is None else draw(_spellings(stride)), padding,
                draw(_spellings(dil)), ceil_mode)
    # the smallest input each axis needs for a non-empty output, then a little more
    effective = [d * (k - 1) + 1 for k, d in zip(kernel, dil)]
    if isinstance(padding, str):
        pairs = ((0, 0),) * nd if padding == "valid" else None  # "same" fits any size
    else:
        pairs = padding_pairs(padding, (1,) * nd, kernel, kernel, dil)
    # ceil_mode keeps one partial window when the padded input is short by less than a stride
    slack = [s - 1 if ceil_mode else 0 for s in (kernel if stride is None else stride)]
    need = [1] * nd if pairs is None else [
        max(1, e - lo - hi - extra) for e, (lo, hi), extra in zip(effective, pairs, slack)]
    spatial = tuple(draw(st.integers(n, max(n, MAX_SPATIAL[nd]))) for n in need)
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3))) + spatial
    return shape, pool


seeds = st.integers(0, 2**32 - 1)


def central_difference(function, array, index, eps=1e-6):
    """``(f() with array[index] + eps  -  f() with array[index] - eps) / (2 eps)``.

    ``function`` reads ``array`` (a parameter or input, perturbed in place and restored).
    """
    saved = array[index]
    array[index] = saved + eps
    up = function()
    array[index] = saved - eps
    down = function()
    array[index] = saved
    return (up - down) / (2 * eps)
