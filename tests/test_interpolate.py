"""interpolate / interpolate_backward: hand cases, PyTorch and ONNX Resize differential tests,
autograd and finite-difference gradients, dtypes, layouts, errors."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from numpool import resample
from numpool.resample import interpolate, interpolate_backward

LAYOUTS = ["channels_first", "channels_last"]
MODES = {1: ["nearest", "nearest-exact", "linear", "area"],
         2: ["nearest", "nearest-exact", "bilinear", "bicubic", "area"],
         3: ["nearest", "nearest-exact", "trilinear", "area"]}
INTERPOLATING = ("linear", "bilinear", "bicubic", "trilinear")
TOL = {np.dtype(np.float16): 2e-3, np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}


def to_layout(a, layout):
    return a if layout == "channels_first" else np.ascontiguousarray(np.moveaxis(a, 1, -1))


def from_layout(a, layout):
    return a if layout == "channels_first" else np.moveaxis(a, -1, 1)


# ---------------------------------------------------------------------------------------
# hand-computed cases


def test_nearest_repeats_and_picks_floor():
    x = np.array([[[1.0, 2.0, 3.0]]])
    np.testing.assert_array_equal(interpolate(x, scale_factor=2), [[[1, 1, 2, 2, 3, 3]]])
    # size 2 from 3: scale 1.5, sources floor(0), floor(1.5) = 0, 1
    np.testing.assert_array_equal(interpolate(x, size=2), [[[1, 2]]])
    # nearest-exact: floor((o + 0.5) * 1.5) = 0, 2
    np.testing.assert_array_equal(interpolate(x, size=2, mode="nearest-exact"), [[[1, 3]]])


def test_linear_half_pixel_and_align_corners():
    x = np.array([[[0.0, 4.0]]])
    # half pixel: s = (o + 0.5) / 2 - 0.5 = -0.25 (clamped to 0), 0.25, 0.75, 1.25
    np.testing.assert_allclose(interpolate(x, size=4, mode="linear"), [[[0.0, 1.0, 3.0, 4.0]]])
    np.testing.assert_allclose(interpolate(x, size=5, mode="linear", align_corners=True), [[[0, 1, 2, 3, 4]]])


def test_bicubic_weights_sum_to_one_and_reproduce_a_constant():
    x = np.full((1, 1, 3, 4), 2.5)
    np.testing.assert_allclose(interpolate(x, size=(7, 5), mode="bicubic"), np.full((1, 1, 7, 5), 2.5))


def test_area_is_adaptive_average():
    x = np.arange(6.0).reshape(1, 1, 6)
    np.testing.assert_allclose(interpolate(x, size=3, mode="area"), [[[0.5, 2.5, 4.5]]])
    np.testing.assert_allclose(interpolate(x, scale_factor=0.5, mode="area"), [[[0.5, 2.5, 4.5]]])


def test_backward_hand_case():
    # linear 2 -> 4 (half pixel): weights per output (1, 0), (.75, .25), (.25, .75), (0, 1)
    g = interpolate_backward(np.array([[[1.0, 1.0, 1.0, 1.0]]]), np.zeros((1, 1, 2)), size=4, mode="linear")
    np.testing.assert_allclose(g, [[[2.0, 2.0]]])
    g = interpolate_backward(np.array([[[1, 2, 3, 4]]]), np.zeros((1, 1, 2), np.int32), scale_factor=2)
    assert g.dtype == np.int32
    np.testing.assert_array_equal(g, [[[3, 7]]])


def test_keras_upsampling2d_mapping():
    # Keras UpSampling2D(size=(2, 3), interpolation="nearest") is a repeat (channels_last)
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5)).astype(np.float32)
    want = x.repeat(2, axis=1).repeat(3, axis=2)
    np.testing.assert_array_equal(interpolate(x, scale_factor=(2, 3), layout="channels_last"), want)
    # "bilinear" is half-pixel without antialias: align_corners=False
    y = interpolate(x, scale_factor=(2, 3), mode="bilinear", layout="channels_last")
    yt = F.interpolate(torch.from_numpy(np.moveaxis(x, -1, 1).copy()), scale_factor=(2, 3), mode="bilinear")
    np.testing.assert_allclose(np.moveaxis(y, -1, 1), yt.numpy(), rtol=2e-6, atol=2e-6)


# ---------------------------------------------------------------------------------------
# against PyTorch


def _torch_check(x, mode, kw, layout="channels_first", seed=0, unbatched=False):
    """numpool vs F.interpolate and autograd on channels-first ``x``; input untouched."""
    xt = torch.from_numpy(x).requires_grad_(True)
    yt = F.interpolate(xt, mode=mode, **kw)
    g = np.random.default_rng(seed).standard_normal(tuple(yt.shape)).astype(x.dtype)
    yt.backward(torch.from_numpy(g))
    xin, gin = to_layout(x, layout), to_layout(g, layout)
    if unbatched:
        xin, gin = xin[0], gin[0]
    before = xin.copy()
    y = interpolate(xin, mode=mode, layout=layout, **kw)
    gx = interpolate_backward(gin, xin, mode=mode, layout=layout, **kw)
    if unbatched:
        y, gx = y[None], gx[None]
    y, gx = from_layout(y, layout), from_layout(gx, layout)
    assert y.dtype == x.dtype and gx.dtype == x.dtype and gx.shape == x.shape
    tol = TOL[x.dtype]
    if mode.startswith("nearest"):
        np.testing.assert_array_equal(y, yt.detach().numpy())
    else:
        np.testing.assert_allclose(y, yt.detach().numpy(), rtol=tol, atol=tol)
    want = _nearest_adjoint(x, mode, kw, g) if mode.startswith("nearest") else xt.grad.numpy()
    # Where PyTorch's autograd is not the adjoint of its forward, only the forward is compared:
    # its bicubic backward copies the gradient when no size changes (the forward resamples
    # with the scale factor), and its antialiased forward copies an axis of unchanged size
    # (the backward filters it)
    unchanged = any(a == b for a, b in zip(y.shape[2:], x.shape[2:])) and "scale_factor" in kw
    if not ((mode == "bicubic" and y.shape == x.shape) or (kw.get("antialias") and unchanged)):
        np.testing.assert_allclose(gx, want, rtol=tol * 4, atol=tol * 4)
    np.testing.assert_array_equal(xin, before)


def _nearest_adjoint(x, mode, kw, g):
    """The adjoint of PyTorch's nearest forward: its source indices (read off an image of flat
    indices, in ``x``'s dtype so the same arithmetic runs) with ``g`` summed onto them.

    Not torch's autograd: PyTorch's nearest backward has its own index function (float32, and
    an unchanged axis size copied in every rank), so in rare cases it is not the adjoint of its
    forward (docs/semantics.md).
    """
    n, c, spatial = x.shape[0], x.shape[1], x.shape[2:]
    cells = int(np.prod(spatial))
    image = torch.from_numpy(np.arange(cells).astype(x.dtype).reshape((1, 1) + spatial))
    src = F.interpolate(image, mode=mode, **kw).numpy().astype(np.int64).reshape(-1)
    flat = g.reshape(n * c, -1).astype(np.float64)
    out = np.zeros((n * c, cells))
    for row in range(n * c):
        out[row] = np.bincount(src, weights=flat[row], minlength=cells)
    return out.reshape(x.shape)


CASES = [  # (spatial, size or scale_factor kwargs)
    ((5,), dict(size=9)), ((9,), dict(size=4)), ((6,), dict(scale_factor=2.0)), ((7,), dict(scale_factor=0.4)),
    ((5,), dict(size=1)), ((1,), dict(size=3)), ((7,), dict(scale_factor=1.7, recompute_scale_factor=True)),
    ((4, 6), dict(size=(7, 3))), ((5, 5), dict(scale_factor=(2.0, 0.5))), ((3, 8), dict(scale_factor=1.3)),
    ((6, 4), dict(size=(6, 4))), ((2, 7), dict(size=(1, 1))),
    ((3, 4, 5), dict(size=(5, 2, 7))), ((4, 3, 2), dict(scale_factor=(0.5, 2.0, 1.5))),
]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("spatial, kw", CASES)
def test_matches_torch(spatial, kw, layout):
    nd = len(spatial)
    x = np.random.default_rng(1).standard_normal((2, 3) + spatial).astype(np.float32)
    for mode in MODES[nd]:
        if mode == "area" and kw.get("recompute_scale_factor"):
            continue
        for align in ((False, True) if mode in INTERPOLATING else (None,)):
            extra = {} if align is None else {"align_corners": align}
            _torch_check(x, mode, {**kw, **extra}, layout)


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_nearest_axis_of_unchanged_size(nd):
    """PyTorch's 2-D nearest copies an axis whose size a scale factor leaves unchanged (4 * 1.2
    -> 4); 1-D and 3-D map it through the scale.  PyTorch's backward always copies it, so here
    only the forward is PyTorch's and the backward is the forward's adjoint."""
    x = np.arange(4.0 * 5 ** (nd - 1)).reshape((1, 1, 4) + (5,) * (nd - 1))
    kw = dict(scale_factor=(1.2,) + (2.0,) * (nd - 1))
    np.testing.assert_array_equal(interpolate(x, **kw), F.interpolate(torch.from_numpy(x), **kw).numpy())


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.uint8, np.int64, np.bool_])
@pytest.mark.parametrize("batch, spatial, factors", [
    ((1, 1), (5, 7), (2, 2)),          # few planes: each plane's rows split over tasks
    ((3, 9), (4, 6), (2, 2)),          # many planes: whole planes per task
    ((1, 2), (3, 5), (3, 2)),          # x3 rows: two of every three rows copied
    ((2, 1), (6, 5), (1, 2)),          # H unchanged: no row copies, W repeated
    ((1, 1), (1, 1), (2, 2)),
    ((2, 3), (5,), (2,)),
    ((1, 2), (3, 4, 5), (2, 2, 2)),
    ((2, 2), (2, 3, 4), (2, 3, 1)),
])
def test_nearest_integer_upsampling_is_np_repeat(batch, spatial, factors, dtype, layout):
    """Integer nearest upsampling, which the fused kernel runs through its row-copy and
    repeat-by-two loops, is ``np.repeat`` along each axis, bitwise, for every dtype."""
    x = np.random.default_rng(1).integers(0, 200, size=batch + spatial).astype(dtype)
    want = x
    for axis, k in enumerate(factors):
        want = np.repeat(want, k, axis=2 + axis)
    scale = tuple(float(k) for k in factors)
    got = interpolate(to_layout(x, layout), scale_factor=scale, layout=layout)
    assert got.dtype == x.dtype
    np.testing.assert_array_equal(from_layout(got, layout), want)
    if x.dtype != np.bool_:  # the backward sums each input's k1 * k2 * ... outputs (exact here)
        g = np.random.default_rng(2).integers(0, 9, size=want.shape).astype(x.dtype)
        summed = g.astype(np.int64)
        for axis, k in enumerate(factors):
            shape = summed.shape
            summed = summed.reshape(shape[:2 + axis] + (shape[2 + axis] // k, k) + shape[3 + axis:]).sum(3 + axis)
        gx = interpolate_backward(to_layout(g, layout), to_layout(x, layout), scale_factor=scale, layout=layout)
        assert gx.dtype == x.dtype
        np.testing.assert_array_equal(from_layout(gx, layout), summed.astype(x.dtype))
    # W one longer than twice: W is gathered through its table, and the last column repeats
    size = tuple(L * k for L, k in zip(spatial, factors))[:-1] + (2 * spatial[-1] + 1,)
    got = interpolate(to_layout(x, layout), size=size, layout=layout)
    if x.dtype.kind == "f":
        np.testing.assert_array_equal(from_layout(got, layout),
                                      F.interpolate(torch.from_numpy(x.astype(np.float32)), size=size).numpy()
                                      .astype(x.dtype))
    assert got.shape[-1 if layout == "channels_first" else -2] == 2 * spatial[-1] + 1


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
@pytest.mark.parametrize("align", [False, True])
@pytest.mark.parametrize("size", [(3, 5), (9, 2), (1, 1), (12, 16), (7, 7)])
def test_antialias_matches_torch(mode, align, size):
    x = np.random.default_rng(2).standard_normal((2, 3, 7, 11)).astype(np.float64)
    _torch_check(x, mode, dict(size=size, antialias=True, align_corners=align))
    _torch_check(x.astype(np.float32), mode, dict(size=size, antialias=True, align_corners=align), "channels_last")


@pytest.mark.parametrize("dtype", [np.float16, np.float64])
@pytest.mark.parametrize("mode", ["nearest", "bilinear", "bicubic", "area"])
def test_float_dtypes(dtype, mode):
    x = np.random.default_rng(3).standard_normal((2, 3, 5, 6)).astype(dtype)
    kw = dict(size=(8, 4)) if mode != "bicubic" else dict(scale_factor=1.5)
    _torch_check(x, mode, kw)


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int32, np.int64, np.bool_])
@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
def test_nearest_keeps_integer_dtypes(dtype, mode):
    rng = np.random.default_rng(4)
    x = (rng.integers(0, 2, (2, 3, 5, 7)) if dtype == np.bool_ else rng.integers(-9, 9, (2, 3, 5, 7))).astype(dtype)
    y = interpolate(x, size=(8, 3), mode=mode)
    assert y.dtype == dtype
    want = F.interpolate(torch.from_numpy(x.astype(np.float32)), size=(8, 3), mode=mode).numpy()
    np.testing.assert_array_equal(y.astype(np.float32), want)


def test_unbatched_and_strided_inputs():
    x = np.random.default_rng(5).standard_normal((2, 6, 10, 12)).astype(np.float32)
    _torch_check(x[:1], "bilinear", dict(size=(5, 7)), unbatched=True)
    _torch_check(x[:1], "nearest", dict(scale_factor=(2.0, 2.0)), "channels_last", unbatched=True)
    strided = x[:, ::2, 1::2, ::3]
    np.testing.assert_array_equal(interpolate(strided, size=(4, 4), mode="bicubic"),
                                  interpolate(np.ascontiguousarray(strided), size=(4, 4), mode="bicubic"))
    nhwc_memory = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    y = interpolate(nhwc_memory, size=(3, 5), mode="bilinear")
    np.testing.assert_array_equal(y, interpolate(x, size=(3, 5), mode="bilinear"))
    assert y.transpose(0, 2, 3, 1).flags.c_contiguous  # keeps the input's memory order, as PyTorch


@st.composite
def torch_cases(draw):
    nd = draw(st.integers(1, 3))
    mode = draw(st.sampled_from(MODES[nd]))
    spatial = tuple(draw(st.lists(st.integers(1, 9), min_size=nd, max_size=nd)))
    kw = {}
    if draw(st.booleans()):
        kw["size"] = tuple(draw(st.lists(st.integers(1, 12), min_size=nd, max_size=nd)))
    else:
        scales = draw(st.lists(st.floats(0.2, 3.5), min_size=nd, max_size=nd))
        scales = [max(s, 1.0 / L + 1e-3) for s, L in zip(scales, spatial)]  # at least one output cell
        kw["scale_factor"] = tuple(scales)
        if mode != "area" and draw(st.booleans()):
            kw["recompute_scale_factor"] = True
    if mode in INTERPOLATING:
        kw["align_corners"] = draw(st.booleans())
        if mode in ("bilinear", "bicubic") and draw(st.booleans()):
            kw["antialias"] = True
    return spatial, mode, kw


@pytest.mark.sweep
@settings(deadline=None)
@given(case=torch_cases(), layout=st.sampled_from(LAYOUTS), dtype=st.sampled_from([np.float32, np.float64]),
       seed=st.integers(0, 2**16))
def test_matches_torch_random(case, layout, dtype, seed):
    spatial, mode, kw = case
    x = np.random.default_rng(seed).standard_normal((2, 3) + spatial).astype(dtype)
    out = interpolate(x, mode=mode, **kw).shape[2:]
    # PyTorch 2.13's antialiased kernel is wrong for an output one column wide: every output
    # row is the first (see test_torch_antialias_defect_one_column)
    assume(not (kw.get("antialias") and out[-1] == 1 and out[0] != spatial[0]))
    _torch_check(x, mode, kw, layout, seed)


def test_torch_antialias_defect_one_column():
    x = np.arange(12.0).reshape(1, 1, 4, 3)
    ours = interpolate(x, size=(6, 1), mode="bilinear", antialias=True)
    np.testing.assert_allclose(ours.ravel(), [1.0, 2.5, 4.5, 6.5, 8.5, 10.0])  # each row's mean, filtered
    theirs = F.interpolate(torch.from_numpy(x), size=(6, 1), mode="bilinear", antialias=True).numpy()
    if np.allclose(theirs, theirs.ravel()[0]):  # still defective: all rows equal
        pytest.xfail("PyTorch's antialiased kernel repeats the first row when the output is one column wide")
    np.testing.assert_allclose(ours, theirs)


@pytest.mark.sweep
@settings(deadline=None)
@given(length=st.integers(1, 300), out=st.integers(1, 700), scale=st.floats(0.01, 20), exact=st.booleans(),
       dtype=st.sampled_from([np.float64, np.float32, np.uint8]))
def test_nearest_indices_bitwise_random(length, out, scale, exact, dtype):
    """Nearest source coordinates use PyTorch's arithmetic (float64 for float64 input, else
    float32, then rounded to float32 and floored): compare the gathers."""
    x = (np.arange(length) % 251).astype(dtype).reshape(1, 1, length)
    mode = "nearest-exact" if exact else "nearest"
    np.testing.assert_array_equal(interpolate(x, size=out, mode=mode),
                                  F.interpolate(torch.from_numpy(x), size=out, mode=mode).numpy())
    if int(length * scale) >= 1:
        np.testing.assert_array_equal(interpolate(x, scale_factor=scale, mode=mode),
                                      F.interpolate(torch.from_numpy(x), scale_factor=scale, mode=mode).numpy())


def test_gradients_by_finite_differences():
    rng = np.random.default_rng(6)
    for nd, mode, kw in ((1, "linear", dict(size=7)), (2, "bicubic", dict(size=(3, 7))),
                         (2, "bilinear", dict(size=(3, 4), antialias=True)), (3, "trilinear", dict(scale_factor=1.5)),
                         (2, "bicubic", dict(size=(5, 3), coordinate_transformation_mode="half_pixel",
                                             exclude_outside=True, cubic_coeff_a=-0.5))):
        x = rng.standard_normal((1, 2) + (5,) * nd)
        w = rng.standard_normal(interpolate(x, mode=mode, **kw).shape)
        grad = interpolate_backward(w, x, mode=mode, **kw)
        # the map is linear: the directional derivative along a random d is exact
        for _ in range(3):
            d = rng.standard_normal(x.shape)
            eps = 1e-4
            numeric = ((interpolate(x + eps * d, mode=mode, **kw) - interpolate(x - eps * d, mode=mode, **kw)) * w).sum()
            assert abs(numeric / (2 * eps) - (grad * d).sum()) < 1e-8


@pytest.mark.sweep
@settings(deadline=None)
@given(nd=st.integers(2, 3), batch=st.sampled_from([(1, 1), (2, 3), (9, 4)]),
       sizes=st.lists(st.tuples(st.integers(1, 12), st.integers(1, 25)), min_size=3, max_size=3),
       mode=st.sampled_from(["linear", "cubic", "antialias"]), align=st.booleans(), layout=st.sampled_from(LAYOUTS),
       dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2**16))
def test_fused_2d_kernel_equals_separable_passes(nd, batch, sizes, mode, align, layout, dtype, seed):
    """The one-pass H-and-W kernels, forward (ring of W-resampled rows, periodic phases) and
    backward (channels-first: H sum, then W, per input row), give the
    separable per-axis passes' bits; a zero scratch limit forces the separable passes."""
    import numpool.resample as resample
    assume(nd == 2 or mode == "linear")  # PyTorch's cubic and antialiased modes are 2-D
    spatial, out = zip(*sizes[:nd])
    rng = np.random.default_rng(seed)
    x = to_layout(rng.standard_normal(batch + spatial).astype(dtype), layout)
    x[(0,) * x.ndim] = -0.0
    kw = dict(size=out, mode={2: "bilinear", 3: "trilinear"}[nd] if mode == "linear" else "bicubic",
              align_corners=align, layout=layout)
    if mode == "antialias":
        kw.update(mode="bilinear", antialias=True, size=out[:nd - 2] + tuple(max(1, L // 3) for L in spatial[-2:]))
    g = rng.standard_normal(interpolate(x, **kw).shape).astype(dtype)
    g[(0,) * g.ndim] = -0.0
    g[0, ..., -1] = -0.0  # a column of -0.0: its gradient sums are +0.0
    fused = interpolate(x, **kw), interpolate_backward(g, x, **kw)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(resample, "_RING_CELLS", 0)
        patch.setattr(resample._Resample, "fused_hw_backward", lambda self, g: None)
        separable = interpolate(x, **kw), interpolate_backward(g, x, **kw)
    for got, want in zip(fused, separable):
        np.testing.assert_array_equal(got, want)
        assert np.array_equal(np.signbit(got), np.signbit(want))


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("size, scale", [(None, 2.0), (None, 3.0), ((40, 60), None), ((96, 200), None),
                                         ((33, 17), None)])
def test_fused_2d_kernel_periodic_runs(monkeypatch, layout, size, scale):
    """Sizes whose W table repeats with a period (x2, x3, x1.5, 100 -> 200 wide) run in
    strided phases; they equal the separable passes bitwise and PyTorch to rounding."""
    import numpool.resample as resample
    x = np.random.default_rng(3).standard_normal((2, 3, 20, 40)).astype(np.float32)
    kw = dict(size=size, scale_factor=scale, mode="bilinear")
    want = F.interpolate(torch.from_numpy(x), **kw).numpy()
    name = "linear_hw_cf" if layout == "channels_first" else "linear_hw_cl"
    calls = []
    kernel = getattr(resample.kernels, name)
    monkeypatch.setattr(resample.kernels, name, lambda *args: calls.append(args[-1]) or kernel(*args))
    fused = from_layout(interpolate(to_layout(x, layout), layout=layout, **kw), layout)
    assert len(calls) == 1
    if layout == "channels_first":  # (lo, count, period, step): some columns run in phases
        lo, count, period, step = calls[0]
        assert (count >= 2) == (size != (33, 17))  # 40 -> 17 columns has no short period: all gathered
        assert scale != 2.0 or (lo, count, period, step) == (1, 39, 2, 1)
    np.testing.assert_allclose(fused, want, rtol=1e-5, atol=1e-5)
    monkeypatch.setattr(resample, "_RING_CELLS", 0)
    np.testing.assert_array_equal(fused, from_layout(interpolate(to_layout(x, layout), layout=layout, **kw), layout))


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
def test_backward_of_negative_zeros_is_positive_zero_as_in_torch(mode):
    """PyTorch's gradient buffers start at +0.0: a gradient of -0.0 everywhere comes back +0.0
    (the forward, which sums from the first product, keeps -0.0)."""
    x = np.zeros((1, 1, 4, 4), np.float32)
    g = np.full((1, 1, 8, 8), -0.0, np.float32)
    xt = torch.from_numpy(x).requires_grad_()
    F.interpolate(xt, scale_factor=2, mode=mode).backward(torch.from_numpy(g))
    gx = interpolate_backward(g, x, scale_factor=2, mode=mode)
    np.testing.assert_array_equal(np.signbit(gx), np.signbit(xt.grad.numpy()))
    assert not np.signbit(gx).any()


def test_backward_is_deterministic_across_threads():
    import numba
    x = np.random.default_rng(7).standard_normal((2, 5, 9, 11)).astype(np.float32)
    g = np.random.default_rng(8).standard_normal((2, 5, 4, 23)).astype(np.float32)
    results = []
    for threads in (1, numba.config.NUMBA_NUM_THREADS):
        numba.set_num_threads(threads)
        results.append(interpolate_backward(g, x, size=(4, 23), mode="bicubic"))
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    np.testing.assert_array_equal(results[0], results[1])


# ---------------------------------------------------------------------------------------
# against ONNX Resize (the onnx package's reference implementation)


def _onnx_resize(x, mode, sizes=None, scales=None, roi=None, antialias=False, roi_dtype=np.float32, **attrs):
    """ONNX's reference Resize on ``x`` (N, C, H, W), float64.  ``axes=[2, 3]`` (opset 18+), so
    ``sizes``/``scales``/``roi`` name the spatial axes only (numpool's rule: the aspect policy
    never looks at N and C); inputs not given are left out of the node (an empty ``sizes`` next
    to ``scales`` crashes the reference).  ``roi`` is fed as a ``roi_dtype`` tensor."""
    from onnx import TensorProto, helper
    from onnx.reference import ReferenceEvaluator

    attrs = {k: v for k, v in attrs.items() if v is not None}
    inputs = [("X", TensorProto.DOUBLE, x)]
    inputs.append(("roi", {np.float32: TensorProto.FLOAT, np.float64: TensorProto.DOUBLE}[roi_dtype],
                   np.array(roi, roi_dtype)) if roi is not None else None)
    inputs.append(("scales", TensorProto.FLOAT, np.array(scales, np.float32)) if scales is not None else None)
    if sizes is not None:
        inputs.append(("sizes", TensorProto.INT64, np.array(sizes, np.int64)))
    node = helper.make_node("Resize", ["" if i is None else i[0] for i in inputs], ["Y"], mode=mode,
                            antialias=int(antialias), axes=[2, 3], **attrs)
    given = [i for i in inputs if i is not None]
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info(n, t, None) for n, t, _ in given],
                              [helper.make_tensor_value_info("Y", TensorProto.DOUBLE, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
    return ReferenceEvaluator(model).run(None, {n: v for n, _, v in given})[0]


# ONNX's reference picks the taps of a point x from x + ceil(n/2) (its edge padding) rounded
# in float64, and their weights from x's own fraction: when that fraction is below half an
# ulp of x + ceil(n/2), its taps sit one cell left of the weights' (docs/semantics.md)
_WINDOW_BUG = "ONNX's reference takes the taps from x + ceil(n/2) rounded in float64 (one cell left of its weights)"
_CROP = dict(coordinate_transformation_mode="tf_crop_and_resize", extrapolation_value=-3.0)
ONNX_CASES = {
    **{m: dict(coordinate_transformation_mode=m) for m in
       ("half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners", "asymmetric")},
    "crop-f32": dict(_CROP, roi=(0.1, 0.3, 0.9, 1.2)),
    "crop-f32-outside-h": dict(_CROP, roi=(-0.2, 0.1, 1.1, 0.8)),  # H extrapolates, then W interpolates
    "crop-f64": dict(_CROP, roi=(0.1, 0.3, 0.9, 1.2), roi_dtype=np.float64),
}
ONNX_MODES = [("nearest", dict(nearest_mode=m)) for m in ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")]
ONNX_MODES += [("linear", {}), ("linear", dict(antialias=True)), ("cubic", {}),
               ("cubic", dict(cubic_coeff_a=-0.5, exclude_outside=True)), ("cubic", dict(antialias=True))]
ONNX_RESIZES = {"sizes-7x3": dict(sizes=(7, 3)), "scales-1.7x0.6": dict(scales=(1.7, 0.6)),
                "sizes-2x9": dict(sizes=(2, 9))}


def _onnx_params():
    for case, opts in ONNX_CASES.items():
        for mode, extra in ONNX_MODES:
            for rname, resize in ONNX_RESIZES.items():
                marks = ()
                # float64 roi: x = 6 * 0.8 * 4 / 6 + 0.4 = 2.0000000000000004 at H's output 3;
                # 2.0000000000000004 + 2 rounds to 4.0, so ONNX's cubic reads cells 0..3, not 1..4
                if case == "crop-f64" and mode == "cubic" and rname == "sizes-7x3":
                    marks = pytest.mark.xfail(strict=True, reason=_WINDOW_BUG)
                name = "-".join([case, mode] + [f"{k}={v}" for k, v in extra.items()] + [rname])
                yield pytest.param(mode, extra, opts, resize, id=name, marks=marks)


@pytest.mark.parametrize("mode,extra,opts,resize", list(_onnx_params()))
def test_matches_onnx_reference(mode, extra, opts, resize):
    """Against onnx.reference's Resize: ONNX's taps and weights, computed with its precisions
    (float32 cubic coefficients, roi terms in the roi's dtype), so values agree to rounding of
    the final weighted sums (numpool sums its axes in its own order: 1e-12)."""
    x = np.random.default_rng(9).standard_normal((1, 2, 5, 6))
    want = _onnx_resize(x, mode, **resize, **opts, **extra)
    ours = {k: v for k, v in {**opts, **extra}.items() if k != "roi_dtype"}
    if "exclude_outside" in ours:
        ours["exclude_outside"] = bool(ours["exclude_outside"])
    if "roi" in ours:  # the same tensor ONNX reads: its dtype sets the roi arithmetic
        ours["roi"] = np.array(ours["roi"], opts.get("roi_dtype", np.float32))
    scale = None if "scales" not in resize else tuple(float(np.float32(s)) for s in resize["scales"])
    for layout in LAYOUTS:
        y = from_layout(interpolate(to_layout(x, layout), size=resize.get("sizes"), scale_factor=scale, mode=mode,
                                    layout=layout, **ours), layout)
        assert y.shape == want.shape
        inside = np.ones(y.shape, bool)
        if "extrapolation_value" in opts:
            # numpool's extrapolated outputs are extrapolation_value exactly (ONNX's definition);
            # ONNX's reference resizes H before W, so an H-extrapolated row is then
            # W-interpolated: value * (sum of W's weights), a sum of float32 cubic weights that
            # misses 1 by a few float32 ulps: |1 - sum| < 2**-20
            ev = opts["extrapolation_value"]
            inside = y != ev
            np.testing.assert_allclose(want[~inside], ev, rtol=2.0**-20, atol=0)
        np.testing.assert_allclose(y[inside], want[inside], rtol=1e-12, atol=1e-12)


def _aspect_params():
    for policy, sizes in (("not_larger", (7, 7)), ("not_larger", (9, 4)), ("not_smaller", (7, 7)),
                          ("not_smaller", (9, 4))):
        for ctm in ("half_pixel", "asymmetric", "align_corners"):
            marks = ()
            # not_smaller (7, 7): scale 1.4, W 8 -> 11; half_pixel x(10) = 10.5 / 1.4 - 0.5 =
            # 7.000000000000001, and 7.000000000000001 + 1 rounds to 8.0 in ONNX's tap window
            if (policy, sizes, ctm) == ("not_smaller", (7, 7), "half_pixel"):
                marks = pytest.mark.xfail(strict=True, reason=_WINDOW_BUG)
            yield pytest.param(policy, sizes, ctm, id=f"{policy}-{sizes[0]}x{sizes[1]}-{ctm}", marks=marks)


@pytest.mark.parametrize("mode", ["nearest", "linear", "cubic"])
@pytest.mark.parametrize("policy,sizes,ctm", list(_aspect_params()))
def test_keep_aspect_ratio_policy_matches_onnx(policy, sizes, ctm, mode):
    x = np.random.default_rng(10).standard_normal((1, 2, 5, 8))
    want = _onnx_resize(x, mode, sizes=sizes, keep_aspect_ratio_policy=policy, coordinate_transformation_mode=ctm)
    y = interpolate(x, size=sizes, mode=mode, keep_aspect_ratio_policy=policy, coordinate_transformation_mode=ctm)
    assert y.shape == want.shape
    np.testing.assert_allclose(y, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("nd, mode", [(1, "linear"), (2, "linear"), (3, "linear"), (2, "cubic"), (2, "antialias")])
@pytest.mark.parametrize("ratio", [(1, 2), (1, 3), (2, 3), (3, 4), (2, 1), (3, 2), (5, 3)])
@pytest.mark.parametrize("align", [False, True])
def test_innermost_axis_periodic_runs_equal_the_csr_loop(nd, mode, ratio, align):
    """The innermost axis of channels-first resampling, forward and backward, runs its
    periodic middle phase by phase from contiguous slices (``apply_inner``): bitwise the
    cell-by-cell loop over the CSR table, signed zeros included.  Sizes in a ratio of small
    numbers, so that the tables have periodic runs."""
    import numpool._params as params

    in_w, out_w = ratio[0] * 7, ratio[1] * 7
    dtype = np.float64 if ratio[0] == 3 else np.float32
    seed = nd * 100 + ratio[0] * 10 + ratio[1]
    spatial = (3,) * (nd - 1) + (in_w,)
    out = (4,) * (nd - 1) + (out_w,)
    names = {1: "linear", 2: "bilinear", 3: "trilinear"}
    kw = dict(size=out, mode="bicubic" if mode == "cubic" else names[nd], align_corners=align)
    if mode == "antialias":
        kw.update(antialias=True, align_corners=False)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 3) + spatial).astype(dtype)
    x.flat[::7] = -0.0
    x[0, 0] = -0.0  # whole rows of -0.0: forward sums stay -0.0, backward ones become +0.0
    g = rng.standard_normal((2, 3) + out).astype(dtype)
    g.flat[::5] = -0.0
    g[0, 0] = -0.0
    results = []
    for periodic in (True, False):
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(resample, "_RING_CELLS", 0)  # the separable passes, so W is a pass of its own
            if not periodic:
                patch.setattr(params.AxisTable, "inner_periodic", property(lambda self: np.zeros(5, np.int64)))
            calls = []
            kernel = resample.kernels.apply_inner
            patch.setattr(resample.kernels, "apply_inner", lambda *args: calls.append(args) or kernel(*args))
            results.append((interpolate(x, **kw), interpolate_backward(g, x, **kw)))
            if not kw["align_corners"]:  # with it, the scale (L - 1) / (O - 1) seldom has a short period
                assert bool(calls) == periodic
    for got, want in zip(*results):
        np.testing.assert_array_equal(got, want)
        assert np.array_equal(np.signbit(got), np.signbit(want))


def test_transposed_bilinear_x2_table_is_one_periodic_run():
    import numpool._params as params

    spec = params.resample_spec("interpolate", (128,), None, 2, "linear", dtype=np.float32, align_corners=False)
    # input iw gathers outputs 2iw - 1 .. 2iw + 2, weights 1/4, 3/4, 3/4, 1/4
    assert spec.tables[0].transposed(128).inner_periodic.tolist() == [1, 126, 1, 2, 4]
