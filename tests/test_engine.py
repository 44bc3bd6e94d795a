"""Properties of the engine itself: lazy compilation, thread-count independence,
memory-order handling."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import numpool


def _run(code, **env):
    import os

    full_env = dict(os.environ, **{k: str(v) for k, v in env.items()})
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=full_env, timeout=600)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_import_compiles_nothing():
    out = _run("""
        import json, sys, numba, numpool
        from numba.core.registry import CPUDispatcher
        compiled = []
        for name, module in list(sys.modules.items()):
            if name.startswith("numpool") and module is not None:
                for attr, value in vars(module).items():
                    if isinstance(value, CPUDispatcher) and value.signatures:
                        compiled.append(f"{name}.{attr}")
        print(json.dumps(compiled))
    """)
    assert json.loads(out) == []


_BACKWARDS = """
    import numpy as np, numpool
    rng = np.random.default_rng(0)
    # N=1, so the channels-last backward splits channels between threads; values rounded
    # to halves, so many windows hold ties.
    x = np.round(rng.standard_normal((1, 40, 9, 11)) * 2).astype(np.float32) / 2
    xl = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    results = []
    for layout, a in (("channels_first", x), ("channels_last", xl)):
        kw = dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, layout=layout)
        out = numpool.max_pool2d(a, **kw)
        g = np.linspace(-1, 1, out.size, dtype=np.float32).reshape(out.shape)
        results.append(numpool.max_pool2d_backward(g, a, **kw))
        results.append(numpool.avg_pool2d_backward(g, a, **kw))
    np.save(OUT, np.stack([r.ravel() for r in results]))
"""


def test_backward_is_bitwise_identical_for_any_thread_count(tmp_path):
    saved = []
    for threads in (1, 2, 3):
        path = tmp_path / f"t{threads}.npy"
        _run(f"OUT = {str(path)!r}\n" + textwrap.dedent(_BACKWARDS), NUMBA_NUM_THREADS=threads)
        saved.append(np.load(path))
    for other in saved[1:]:
        assert np.array_equal(saved[0].view(np.uint32), other.view(np.uint32))


@pytest.mark.parametrize("op", ["max", "avg"])
def test_other_memory_order_runs_the_other_kernel_and_keeps_it(op):
    # A channels_first array whose memory is channels-last (a transposed NHWC array) gives
    # the same values as its contiguous copy, and its result keeps channels-last memory.
    rng = np.random.default_rng(1)
    nhwc = rng.standard_normal((2, 7, 9, 5)).astype(np.float32)
    view = nhwc.transpose(0, 3, 1, 2)
    assert not view.flags.c_contiguous
    fn = numpool.max_pool2d if op == "max" else numpool.avg_pool2d
    got = fn(view, 3, stride=2, padding=1)
    want = fn(np.ascontiguousarray(view), 3, stride=2, padding=1)
    assert np.array_equal(got, want)
    assert got.transpose(0, 2, 3, 1).flags.c_contiguous
    back = (numpool.max_pool2d_backward if op == "max" else numpool.avg_pool2d_backward)(
        np.ones_like(got), view, 3, stride=2, padding=1)
    assert back.shape == view.shape and back.transpose(0, 2, 3, 1).flags.c_contiguous


# -- the whole-plane channels-first kernels against the row kernels ----------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from helpers import INT_DTYPES, pool_cases, seeds  # noqa: E402
from numpool import _params  # noqa: E402


def _both_paths(monkeypatch, run):
    """``run()`` through the whole-plane kernels and through the row kernels (the cached
    call plans and runners, which hold the plane geometry, are dropped before each)."""
    monkeypatch.setattr(_params, "PLANE_MAX_WIDTH", 10**9)
    numpool.functional._forget_plans()
    planes = run()
    monkeypatch.setattr(_params, "PLANE_MAX_WIDTH", 0)
    numpool.functional._forget_plans()
    rows = run()
    numpool.functional._forget_plans()
    return planes, rows


def _values(shape, dtype, seed):
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind in "iu":
        return rng.integers(np.iinfo(dtype).min, np.iinfo(dtype).max, shape, dtype=dtype, endpoint=True)
    x = rng.integers(-3, 4, shape).astype(dtype)  # many ties
    x.flat[rng.integers(0, x.size, max(1, x.size // 7))] = rng.standard_normal(max(1, x.size // 7))
    x.flat[rng.integers(0, x.size, max(1, x.size // 11))] = np.nan
    return x


@settings(deadline=None, max_examples=150)
@given(pool_cases(), st.sampled_from((np.float32, np.float64) + INT_DTYPES), seeds, st.booleans(),
       st.sampled_from([None, 3]))
def test_plane_kernels_equal_row_kernels_bitwise(shape_pool, dtype, seed, include, override):
    shape, pool = shape_pool
    nd = len(shape) - 2
    x = _values(shape, dtype, seed)
    with pytest.MonkeyPatch.context() as mp:
        planes, rows = _both_paths(mp, lambda: getattr(numpool, f"max_pool{nd}d")(x, **pool.kwargs()))
        np.testing.assert_array_equal(planes, rows)
        assert planes.dtype == rows.dtype and np.array_equal(np.signbit(planes), np.signbit(rows))
        if np.dtype(dtype).kind == "f":
            run = lambda: getattr(numpool, f"avg_pool{nd}d")(  # noqa: E731
                x, **pool.kwargs(), count_include_pad=include, divisor_override=override)
            planes, rows = _both_paths(mp, run)
            np.testing.assert_array_equal(planes, rows)
            assert np.array_equal(np.signbit(planes), np.signbit(rows))


@pytest.mark.parametrize("nd, spatial, out", [
    (1, (12,), 4), (2, (14, 14), 7), (2, (12, 8), (4, 2)), (2, (9, 12), (9, 3)), (3, (4, 6, 6), (2, 3, 2)),
    (3, (5, 6, 6), (2, 3, 3)),  # depth bins of varying size, equal bins in the plane
])
def test_plane_kernels_take_equal_adaptive_bins(monkeypatch, nd, spatial, out):
    x = _values((2, 3) + spatial, np.float32, nd)
    x[np.isnan(x)] = 0.5
    for name in ("adaptive_avg_pool", "adaptive_max_pool"):
        planes, rows = _both_paths(monkeypatch, lambda: getattr(numpool, f"{name}{nd}d")(x, out))
        np.testing.assert_array_equal(planes, rows)


def test_plane_geometry_declines_unequal_bins_and_wide_planes():
    spec = _params.adaptive_spec("adaptive_avg_pool2d", (14, 13), 7)
    assert _params.plane_geometry(spec) is None
    wide = _params.pool_spec("max_pool2d", (8, _params.PLANE_MAX_WIDTH + 1), 2, None, 0, 1, False)
    assert _params.plane_geometry(wide) is None
    # ceil_mode keeps a 5th window starting at padded cell 8: rows 0..10 padded, 5 + 1 columns a phase
    assert _params.plane_geometry(_params.pool_spec("max_pool2d", (8, 8), 3, 2, 1, 1, True)).tolist() == [
        3, 2, 1, 1, 3, 2, 1, 1, 11, 6, 0]


@pytest.mark.parametrize("planes", [37, 64])
@pytest.mark.parametrize("spatial, kwargs", [
    ((14, 14), dict(kernel_size=2)),
    ((12, 10), dict(kernel_size=(3, 2), stride=(3, 2))),
    ((12, 9), dict(kernel_size=(2, 3), stride=(3, 2), padding=(0, 1))),  # padding left and right only
    ((10, 7), dict(kernel_size=(2, 2), stride=(2, 1), dilation=(1, 2))),
    ((8, 6), dict(kernel_size=(1, 3), stride=(2, 3))),
    ((9,), dict(kernel_size=3)),
])
def test_stacked_planes_equal_one_plane_at_a_time(monkeypatch, planes, spatial, kwargs):
    """Geometries where consecutive planes' windows tile their stacked rows: pooled in groups
    of planes (37 leaves a partial last group), bitwise the row kernels' result.  The
    adaptive outputs halve even sizes, so that its bins are equal and its planes stack too."""
    nd = len(spatial)
    x = _values((1, planes) + spatial, np.float32, planes)
    call = numpool.functional._window_call("max_pool", nd, x, kwargs["kernel_size"], kwargs.get("stride"),
                                   kwargs.get("padding", 0), kwargs.get("dilation", 1), False, "channels_first", "f")
    assert call.plane[10] == 1
    assert numpool.functional._plane_tasks(call.kernel_input(), call.plane)[1] > 1
    for run in (lambda: getattr(numpool, f"max_pool{nd}d")(x, **kwargs),
                lambda: getattr(numpool, f"avg_pool{nd}d")(x, **kwargs, count_include_pad=False),
                lambda: getattr(numpool, f"adaptive_avg_pool{nd}d")(x, tuple(n // 2 if n % 2 == 0 else n
                                                                              for n in spatial))):
        stacked = run()
        monkeypatch.setattr(numpool.functional, "_STACK_CELLS", 0)
        single = run()
        monkeypatch.undo()
        _, rows = _both_paths(monkeypatch, run)
        monkeypatch.undo()
        np.testing.assert_array_equal(stacked, single)
        np.testing.assert_array_equal(stacked, rows)


@pytest.mark.parametrize("spatial, kwargs", [
    ((8, 12), dict(kernel_size=2)),
    ((9, 12), dict(kernel_size=(3, 2), stride=2)),
    ((7, 10), dict(kernel_size=2, stride=(1, 2))),  # windows overlapping in rows
    ((9, 8), dict(kernel_size=2, stride=(2, 2), dilation=(2, 1))),
    ((16,), dict(kernel_size=2)),
    ((4, 6, 8), dict(kernel_size=2)),  # a depth axis: the planes do not stack
    ((3, 5, 8), dict(kernel_size=(2, 3, 2), stride=(1, 1, 2))),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16])
def test_two_column_windows_read_in_place_equal_row_kernels(monkeypatch, spatial, kwargs, dtype):
    """Windows two columns wide at column stride 2 tiling the columns exactly: the
    whole-plane kernels read the plane in place instead of through the phase scratch; NaN,
    ties and signed zeros as the row kernels have them."""
    nd = len(spatial)
    x = _values((2, 5) + spatial, dtype, nd)
    if x.dtype.kind == "f":
        x.flat[::5] = -0.0
    pg = _params.plane_geometry(_params.pool_spec("max_pool", spatial, kwargs["kernel_size"], kwargs.get("stride"),
                                                  0, kwargs.get("dilation", 1), False))
    assert pg is not None and (pg[4], pg[5], pg[6], 2 * pg[9]) == (2, 2, 1, spatial[-1])
    runs = [lambda: getattr(numpool, f"max_pool{nd}d")(x, **kwargs)]
    if x.dtype.kind == "f":
        runs.append(lambda: getattr(numpool, f"avg_pool{nd}d")(x, **kwargs))
    for run in runs:
        planes, rows = _both_paths(monkeypatch, run)
        monkeypatch.undo()
        np.testing.assert_array_equal(planes, rows)
        assert np.array_equal(np.signbit(planes), np.signbit(rows))


def test_plane_geometry_stacks_only_exact_row_tilings():
    def stack(spatial, *args):
        return _params.plane_geometry(_params.pool_spec("max_pool2d", spatial, *args))[10]
    assert stack((14, 14), 2, None, 0, 1, False) == 1
    assert stack((15, 14), 2, None, 0, 1, True) == 0   # ceil_mode: the last window leaves the plane
    assert stack((14, 14), 3, 2, 1, 1, False) == 0    # top padding, and windows overlap rows
    assert stack((14, 14), 3, 1, 0, 1, False) == 0    # windows taller than the stride
    assert stack((14, 14), (2, 2), 2, 0, (2, 1), False) == 0  # dilated rows reach the next plane
    assert _params.plane_geometry(_params.pool_spec("max_pool3d", (2, 4, 4), 2, None, 0, 1, False))[10] == 0


@settings(deadline=None, max_examples=150)
@given(pool_cases(), st.sampled_from([np.float32, np.float64]), seeds, st.booleans(), st.sampled_from([None, 3, 4, 8]),
       st.sampled_from([1.0, 1e38, 1e-39]))
def test_average_layouts_agree_bitwise(shape_pool, dtype, seed, include, override, magnitude):
    """Channels-last sums (two taps a pass, the exact reciprocal folded into each cell's last
    pass) round exactly as channels-first ones, signed zeros included."""
    shape, pool = shape_pool
    nd = len(shape) - 2
    x = _values(shape, dtype, seed)
    x[np.isnan(x) | (np.random.default_rng(seed).random(shape) < 0.6)] = -0.0  # windows of -0.0 sum to +0.0
    x = (x * dtype(magnitude)).astype(dtype)  # float32 sums that overflow, or round in the subnormals
    run = getattr(numpool, f"avg_pool{nd}d")
    kwargs = dict(pool.kwargs(), count_include_pad=include, divisor_override=override)
    cf = run(x, **kwargs)
    cl = run(np.ascontiguousarray(np.moveaxis(x, 1, -1)), **kwargs, layout="channels_last")
    np.testing.assert_array_equal(np.moveaxis(cl, -1, 1), cf)
    assert np.array_equal(np.signbit(np.moveaxis(cl, -1, 1)), np.signbit(cf))
    out = tuple(max(1, n // 2) for n in shape[2:])
    adaptive = getattr(numpool, f"adaptive_avg_pool{nd}d")
    np.testing.assert_array_equal(
        np.moveaxis(adaptive(np.ascontiguousarray(np.moveaxis(x, 1, -1)), out, layout="channels_last"), -1, 1),
        adaptive(x, out))


def test_kernel_cache_is_dropped_when_any_kernel_module_changes(tmp_path):
    """Numba keys a cached kernel on its own file only; numpool drops the whole kernel cache
    when any kernel module changes, so a kernel never keeps an inlined helper's old code."""
    from numpool.kernels import _drop_stale_cache
    (tmp_path / "avgpool.py").write_text("def avg(): pass\n")
    (tmp_path / "_rows.py").write_text("def helper(): return 1\n")
    cache = tmp_path / "__pycache__"
    cache.mkdir()
    entries = [cache / "avgpool.avg-1.py311.nbi", cache / "avgpool.avg-1.py311.1.nbc"]
    for entry in entries:
        entry.write_bytes(b"stale")
    dirs = [(str(cache), True), (str(tmp_path / "elsewhere"), False)]  # the second is never created
    _drop_stale_cache(str(tmp_path), dirs)  # no stamp yet: dropped, stamped
    assert not any(e.exists() for e in entries) and (cache / "numpool-kernels.sha256").exists()
    for entry in entries:
        entry.write_bytes(b"fresh")
    _drop_stale_cache(str(tmp_path), dirs)  # nothing changed: kept
    assert all(e.read_bytes() == b"fresh" for e in entries)
    (tmp_path / "_rows.py").write_text("def helper(): return 2\n")  # only the helper's module
    _drop_stale_cache(str(tmp_path), dirs)
    assert not any(e.exists() for e in entries)
    assert not (tmp_path / "elsewhere").exists()


def test_kernel_cache_guard_covers_numba_cache_dir(tmp_path):
    """With NUMBA_CACHE_DIR set, Numba caches the kernels there, and the guard stamps it."""
    script = textwrap.dedent(f"""
        import numpy as np, numpool, os, glob
        numpool.max_pool1d(np.zeros((1, 1, 4), np.float32), 2)
        from numpool.kernels import _cache_dirs, _FOLDER
        external = [d for d, _ in _cache_dirs(_FOLDER) if d.startswith({str(tmp_path)!r})]
        assert len(external) == 1, external
        assert os.path.exists(os.path.join(external[0], "numpool-kernels.sha256"))
        assert glob.glob(os.path.join(external[0], "*.nbi")), os.listdir(external[0])
    """)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    subprocess.run([sys.executable, "-c", script], check=True, env=env, timeout=600)


@pytest.mark.parametrize("layout", ["channels_first", "channels_last"])
def test_average_rounds_in_float32_at_each_step(layout):
    """Float32 window sums round in float32 tap by tap, as PyTorch's do: two 3e38 overflow
    to inf before the division, and a subnormal sum rounds before it is halved 3 times."""
    def run(values, **kwargs):
        x = np.array(values, np.float32).reshape(1, 1, -1)
        if layout == "channels_last":
            x = np.ascontiguousarray(np.moveaxis(x, 1, -1))
        out = numpool.avg_pool1d(x, 2, layout=layout, **kwargs)
        return out.reshape(-1)
    assert np.isinf(run([3e38, 3e38]))[0]
    got = run([7.07555e-39, 4.5726221e-38], divisor_override=8)
    want = (np.float32(7.07555e-39) + np.float32(4.5726221e-38)) * np.float32(0.125)
    assert got.view(np.uint32)[0] == np.float32(want).view(np.uint32)


def test_call_plans_are_reused_but_never_skip_a_check():
    """A repeated call reuses its cached plan and runner, on new data; the same shape with
    arguments that are equal but of another type (7.0, True, 1 for a bool), or in another
    memory order, still gets its own checks and kernel."""
    from numpool import functional

    functional._forget_plans()
    x = np.arange(2 * 3 * 14 * 14, dtype=np.float32).reshape(2, 3, 14, 14)
    first = numpool.adaptive_avg_pool2d(x, 7)
    assert len(functional._PLANS) == 1 and len(functional._RUNNERS) == 1
    np.testing.assert_array_equal(numpool.adaptive_avg_pool2d(x + 1, 7), first + 1)
    assert len(functional._PLANS) == 1 and len(functional._RUNNERS) == 1
    with pytest.raises(numpool.ParameterError, match=r"output_size=7\.0"):
        numpool.adaptive_avg_pool2d(x, 7.0)
    with pytest.raises(numpool.ParameterError, match="kernel_size"):
        numpool.max_pool2d(x, True)
    numpool.max_pool2d(x, 1)
    with pytest.raises(numpool.ParameterError, match="kernel_size"):
        numpool.max_pool2d(x, True)
    numpool.global_avg_pool(x, keepdims=True)
    with pytest.raises(numpool.ParameterError, match="keepdims"):
        numpool.global_avg_pool(x, keepdims=1)
    numpool.max_pool2d(x, 2, return_indices=False)
    out, idx = numpool.max_pool2d(x, 2, return_indices=True)  # not the values-only runner
    assert idx.dtype == np.int64
    with pytest.raises(numpool.DTypeError):  # another dtype, another key: checked again
        numpool.adaptive_avg_pool2d(x.astype(np.int32), 7)
    # the same shape in channels-last memory runs the other kernel, and a strided view is read right
    xl = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    np.testing.assert_array_equal(numpool.adaptive_avg_pool2d(xl, 7), first)
    xs = np.repeat(x, 2, axis=-1)[..., ::2]
    np.testing.assert_array_equal(numpool.adaptive_avg_pool2d(xs, 7), first)
    # unhashable arguments plan afresh, and a list input is never a runner's key
    np.testing.assert_array_equal(numpool.adaptive_avg_pool2d(x, [7, 7]), first)
    np.testing.assert_array_equal(numpool.adaptive_avg_pool2d(x, np.array([7, 7])), first)
    np.testing.assert_array_equal(numpool.adaptive_avg_pool2d(x.tolist(), 7), first)


def test_runners_follow_the_thread_count():
    """A stored runner sizes its parallel tasks at each call, so that changing the number
    of threads between calls keeps working (and the result does not depend on it)."""
    import numba

    x = np.random.default_rng(0).standard_normal((4, 37, 14, 14)).astype(np.float32)
    want = numpool.adaptive_avg_pool2d(x, 7)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        np.testing.assert_array_equal(numpool.adaptive_avg_pool2d(x, 7), want)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(numpool.adaptive_avg_pool2d(x, 7), want)


def test_call_plan_cache_is_bounded():
    from numpool import functional

    functional._forget_plans()
    x = np.zeros((1, 1, 100), np.float32)
    for k in range(1, 100):  # about 300 plans
        numpool.max_pool1d(x, k)
        numpool.avg_pool1d(x, k, stride=1)
        numpool.max_pool1d(x[..., :k + 1], 1)
    assert 0 < len(functional._PLANS) <= functional._PLAN_LIMIT
    assert 0 < len(functional._RUNNERS) <= functional._PLAN_LIMIT
