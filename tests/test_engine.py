"""Properties of the engine itself: lazy compilation, thread-count independence,
memory-order handling."""

import json
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
