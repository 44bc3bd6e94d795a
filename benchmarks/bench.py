"""numpool vs PyTorch (CPU) pooling benchmark, with a memory-bandwidth floor.

Run from the repository root::

    python benchmarks/bench.py                      # full run, table on stdout
    python benchmarks/bench.py --quick              # smoke run: smaller batches, few repeats
    python benchmarks/bench.py --markdown docs/benchmarks.md
    python benchmarks/bench.py --only "global avg" --only bilinear   # a subset, for A/B work

For every case in ``CASES`` and both layouts the script times numpool and PyTorch on the
same data (numpool ``layout="channels_first"`` on an NCHW-contiguous array against a
contiguous tensor; numpool ``layout="channels_last"`` on an NHWC-contiguous array against a
``torch.channels_last`` / ``channels_last_3d`` tensor viewing the same memory).  Both
libraries use ``numba.get_num_threads()`` threads.  The first calls (Numba compilation,
allocator warm-up) are excluded; then numpool and torch run alternately, swapping which
goes first every repeat.  The minimum of each is reported (noise on a shared machine only
adds time), with the median beside it; the ratios use the minima.

The floor is the time a plain memory copy would need to move the bytes the operation must
touch at least once (inputs read + output written), at the median of copy bandwidths
measured right after each row's timings (the machine is shared: a single copy at the start
read 40 GB/s in some runs and 72 in others, and single copies beside rows ranged from 41 to
88 GB/s within one run).  ``numpool/floor`` is how many times slower than that floor numpool is.

A third call takes turns with the two: a plain Numba copy that reads the same number of
input bytes and writes the result's bytes into a new array (``fresh_copy``), the least a
function returning new memory can cost on this machine, page faults included.

Each case is checked against PyTorch once before it is timed, so no row reports the speed
of a wrong answer.  Add an operator by adding an ``Op`` to ``OPS`` and a ``Case`` to
``CASES``.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Callable

import numba
import numpy as np
import torch
import torch.nn.functional as F

import numpool

LAYOUTS = ("channels_first", "channels_last")
PASSES = ("forward", "backward", "backward_indices")


# ---------------------------------------------------------------------------------------
# registry: operators and cases


@dataclass(frozen=True)
class Op:
    """How to call one pooling family in numpool and in PyTorch.

    ``numpool`` and ``torch_forward`` are name templates formatted with ``nd``; the torch
    backward is the ATen kernel autograd would run, called directly so that only the
    backward is timed.  ``backward_reads_input``: the backward must read ``x`` (max pooling
    recomputes or checks the argmax from it; average pooling only needs its shape).
    """

    numpool: str
    torch_forward: str
    torch_backward: Callable  # (grad, x, indices, case) -> tensor
    torch_kwargs: Callable  # case -> extra keyword arguments of the torch forward
    backward_reads_input: bool
    has_indices: bool
    numpool_kwargs: Callable = None  # case -> keyword arguments of both calls (default: the window)
    extra_inputs: Callable = None  # (case, x, layout) -> (numpool args, torch args) after x, forward only


def _unpool_inputs(case, x, layout):
    """Indices of a 2x2 max pool whose output is ``x``'s shape, for max_unpool."""
    big = np.repeat(np.repeat(_from_layout(x, layout), 2, axis=-1), 2, axis=-2)
    big = big + np.random.default_rng(0).random(big.shape, dtype=np.float32)
    _, idx = getattr(numpool, f"max_pool{case.nd}d")(np.ascontiguousarray(_to_layout(big, layout)), 2,
                                                     return_indices=True, layout=layout)
    return (idx,), (_tensor(idx, layout),)


def _window_kwargs(case):
    return dict(kernel_size=case.kernel, stride=case.stride, padding=case.padding)


OPS = {
    "max": Op(
        numpool="max_pool{nd}d",
        torch_forward="max_pool{nd}d",
        torch_backward=lambda g, x, idx, c: getattr(torch.ops.aten, f"max_pool{c.nd}d_with_indices_backward")(
            g, x, [c.kernel] * c.nd, [c.stride] * c.nd, [c.padding] * c.nd, [1] * c.nd, False, idx),
        torch_kwargs=lambda c: {},
        backward_reads_input=True,
        has_indices=True,
    ),
    "avg": Op(
        numpool="avg_pool{nd}d",
        torch_forward="avg_pool{nd}d",
        torch_backward=lambda g, x, idx, c: getattr(torch.ops.aten, f"avg_pool{c.nd}d_backward")(
            g, x, [c.kernel] * c.nd, [c.stride] * c.nd, [c.padding] * c.nd, False, True, None),
        torch_kwargs=lambda c: {"count_include_pad": True},
        backward_reads_input=False,
        has_indices=False,
    ),
    "unpool": Op(
        numpool="max_unpool{nd}d",
        torch_forward="max_unpool{nd}d",
        torch_backward=None,
        torch_kwargs=lambda c: {"kernel_size": c.kernel},
        backward_reads_input=False,
        has_indices=False,
        numpool_kwargs=lambda c: {"kernel_size": c.kernel},
        extra_inputs=_unpool_inputs,
    ),
    "nearest": Op(
        numpool="interpolate",
        torch_forward="interpolate",
        torch_backward=lambda g, x, idx, c: torch.ops.aten.upsample_nearest2d_backward(
            g, list(g.shape[2:]), list(x.shape), c.kernel, c.kernel),
        torch_kwargs=lambda c: {"scale_factor": c.kernel, "mode": "nearest"},
        backward_reads_input=False,
        has_indices=False,
        numpool_kwargs=lambda c: {"scale_factor": c.kernel, "mode": "nearest"},
    ),
    "bilinear": Op(
        numpool="interpolate",
        torch_forward="interpolate",
        torch_backward=lambda g, x, idx, c: torch.ops.aten.upsample_bilinear2d_backward(
            g, list(g.shape[2:]), list(x.shape), False, c.kernel, c.kernel),
        torch_kwargs=lambda c: {"scale_factor": c.kernel, "mode": "bilinear", "align_corners": False},
        backward_reads_input=False,
        has_indices=False,
        numpool_kwargs=lambda c: {"scale_factor": c.kernel, "mode": "bilinear", "align_corners": False},
    ),
    "adaptive_avg": Op(
        numpool="adaptive_avg_pool{nd}d",
        torch_forward="adaptive_avg_pool{nd}d",
        torch_backward=lambda g, x, idx, c: getattr(torch.ops.aten, f"_adaptive_avg_pool{c.nd}d_backward")(g, x),
        torch_kwargs=lambda c: {"output_size": c.kernel},
        backward_reads_input=False,
        has_indices=False,
        numpool_kwargs=lambda c: {"output_size": c.kernel},
    ),
    "global_avg": Op(
        numpool="global_avg_pool",
        torch_forward="adaptive_avg_pool{nd}d",
        torch_backward=lambda g, x, idx, c: getattr(torch.ops.aten, f"_adaptive_avg_pool{c.nd}d_backward")(g, x),
        torch_kwargs=lambda c: {"output_size": 1},
        backward_reads_input=False,
        has_indices=False,
        numpool_kwargs=lambda c: {"keepdims": True},
    ),
}


@dataclass(frozen=True)
class Case:
    """One benchmark row pair (both layouts): an operator, a float32 input shape and a pass.

    ``shape`` is logical channels-first ``(N, C, *spatial)``; the channels-last run uses the
    same data transposed to ``(N, *spatial, C)``.  ``pass_``: ``"forward"``,
    ``"backward"`` (max: numpool recomputes the argmax from ``x``) or ``"backward_indices"``
    (numpool is given the forward's ``indices=``).  The torch backward always uses indices,
    as autograd does.
    """

    op: str
    shape: tuple
    kernel: int
    stride: int
    padding: int = 0
    pass_: str = "forward"

    @property
    def nd(self):
        return len(self.shape) - 2

    def quick(self):
        """The same case with an eighth of the batch (at least 1), for --quick."""
        shape = (max(1, self.shape[0] // 8),) + tuple(self.shape[1:])
        return Case(self.op, shape, self.kernel, self.stride, self.padding, self.pass_)

    @property
    def label(self):
        if self.op == "adaptive_avg":
            return f"adaptive avg to {self.kernel}x{self.kernel} {tuple(self.shape)}"
        if self.op == "global_avg":
            return f"global avg {tuple(self.shape)}"
        if self.op == "unpool":
            return f"max_unpool {self.kernel}x{self.kernel} {tuple(self.shape)}"
        if self.op in ("nearest", "bilinear"):
            return f"{self.op} x{self.kernel} {tuple(self.shape)}"
        window = "x".join([str(self.kernel)] * self.nd)
        extra = f" s{self.stride}" + (f" p{self.padding}" if self.padding else "")
        return f"{self.op} {window}{extra} {tuple(self.shape)}"


CASES = [
    Case("max", (32, 64, 112, 112), 2, 2),
    Case("max", (32, 64, 112, 112), 3, 2, 1),
    Case("avg", (32, 192, 28, 28), 3, 1, 1),
    Case("max", (4, 32, 32, 64, 64), 2, 2),
    Case("max", (256, 6, 28, 28), 2, 2),
    Case("max", (32, 64, 112, 112), 2, 2, pass_="backward"),
    Case("max", (32, 64, 112, 112), 2, 2, pass_="backward_indices"),
    Case("max", (32, 64, 112, 112), 3, 2, 1, pass_="backward"),
    Case("max", (32, 64, 112, 112), 3, 2, 1, pass_="backward_indices"),
    Case("global_avg", (32, 2048, 7, 7), 0, 0),
    Case("adaptive_avg", (32, 512, 14, 14), 7, 0),  # kernel field: the output size
    Case("unpool", (32, 64, 56, 56), 2, 2),
    Case("nearest", (8, 64, 128, 128), 2, 0),  # kernel field: the scale factor
    Case("bilinear", (8, 64, 128, 128), 2, 0),
    Case("nearest", (8, 64, 128, 128), 2, 0, pass_="backward"),
    Case("bilinear", (8, 64, 128, 128), 2, 0, pass_="backward"),
]


# ---------------------------------------------------------------------------------------
# machine


def _copy_rate(fn, nbytes, repeats):
    """GB/s (bytes read + written) of the fastest of ``repeats`` calls of ``fn``, a copy of
    ``nbytes`` bytes."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 2 * nbytes / min(times) / 1e9


def copy_bandwidth(nbytes=256 * 2**20, repeats=7):
    """Best copy bandwidth in GB/s (bytes read + written), single-threaded ``np.copyto``
    and all-threads Numba copy, between preallocated, already-touched float32 arrays; and
    the rate of ``np.copy`` into a fresh array (page faults included), for reference."""
    src = np.ones(nbytes // 4, dtype=np.float32)
    dst = np.zeros_like(src)
    _parallel_copy(dst[:16], src[:16])  # compile outside the timing
    return {
        "np.copyto (1 thread)": _copy_rate(lambda: np.copyto(dst, src), src.nbytes, repeats),
        f"numba prange copy ({numba.get_num_threads()} threads)":
            _copy_rate(lambda: _parallel_copy(dst, src), src.nbytes, repeats),
        "np.copy into a fresh array": _copy_rate(lambda: np.copy(src), src.nbytes, repeats),
    }


class RowBandwidth:
    """The copy bandwidth now, next to each row: best of a few all-threads copies of 128 MB.
    The floors use the median over the run's rows (see the module docstring)."""

    def __init__(self, nbytes=128 * 2**20, repeats=5):
        self.src = np.ones(nbytes // 4, dtype=np.float32)
        self.dst = np.zeros_like(self.src)
        self.repeats = repeats

    def __call__(self):
        return _copy_rate(lambda: _parallel_copy(self.dst, self.src), self.src.nbytes, self.repeats)


@numba.njit(parallel=True, cache=False)
def _parallel_copy(dst, src):
    for i in numba.prange(src.size):
        dst[i] = src[i]


@numba.njit(parallel=True, cache=False)
def _move_bytes(src, dst, chunk):
    """Read every cell of ``src`` once and write every cell of ``dst`` once (flat uint32),
    in sequential, vectorised loops on all threads: ``src`` is cut into pieces of about
    ``chunk`` cells (at least 64 pieces), ``dst`` into as many segments, and each segment
    is its piece repeated while the piece is in cache (a piece under 1024 cells is first
    repeated into a scratch run); what of a piece its segment leaves out is summed instead."""
    n_in, n_out = src.size, dst.size
    pieces = min(n_in, max(64, (n_in + chunk - 1) // chunk))
    sums = np.zeros(pieces, dtype=np.uint32)
    for c in numba.prange(pieces):
        piece = src[c * n_in // pieces:(c + 1) * n_in // pieces]
        segment = dst[c * n_out // pieces:(c + 1) * n_out // pieces]
        source = piece
        if piece.size < min(1024, segment.size):  # a very short piece: repeat it into a longer run first
            source = np.empty(min(1024, segment.size), dtype=src.dtype)
            for k in range(source.size):
                source[k] = piece[k % piece.size]
        done = 0
        while done < segment.size:
            run = min(source.size, segment.size - done)
            d = segment[done:done + run]
            for k in range(run):
                d[k] = source[k]
            done += run
        sums[c] = piece[min(piece.size, segment.size):].sum()
    return sums


def fresh_copy(read_bytes, write_bytes):
    """A call that reads ``read_bytes`` and returns ``write_bytes`` of new memory with nothing
    else to do (:func:`_move_bytes` into ``np.empty``, allocated as numpool's calls allocate):
    about the least a function returning a new array costs here, fresh pages included."""
    src = np.ones(max(read_bytes // 4, 1), dtype=np.uint32)
    n_out = max(write_bytes // 4, 1)
    chunk = 1 << 16

    def run():
        dst = np.empty(n_out, dtype=np.uint32)
        _move_bytes(src, dst, chunk)
        return dst

    run()  # compile outside the timing
    return run


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def numpool_source():
    """Where the measured numpool comes from: its folder, and its git commit (with
    "+ uncommitted changes" when its files differ from that commit) when it has one."""
    folder = os.path.dirname(os.path.abspath(numpool.__file__))

    def git(*args):
        return subprocess.run(["git", "-C", folder, *args], capture_output=True, text=True).stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--", ".")
    except OSError:
        commit = dirty = ""
    where = f"numpool {numpool.__version__} from {folder}"
    if commit:
        where += f", commit {commit}" + (" + uncommitted changes" if dirty else "")
    return where


# ---------------------------------------------------------------------------------------
# one case in one layout


def _to_layout(a, layout):
    """A logical channels-first array as a C-contiguous array in ``layout``."""
    return a if layout == "channels_first" else np.ascontiguousarray(np.moveaxis(a, 1, -1))


def _from_layout(a, layout):
    """Back to logical channels-first (a view)."""
    return a if layout == "channels_first" else np.moveaxis(a, -1, 1)


def _tensor(a, layout):
    """A torch tensor viewing ``a`` (C-contiguous in ``layout``), logically channels-first:
    contiguous for channels_first, channels_last(_3d) memory format for channels_last."""
    t = torch.from_numpy(a)
    return t if layout == "channels_first" else t.movedim(-1, 1)


@dataclass
class Prepared:
    run_numpool: Callable
    run_torch: Callable
    floor_bytes: int
    out_bytes: int  # of floor_bytes, those the call writes to its new result


def prepare(case, layout, rng):
    """Inputs, both calls and the floor's byte count for one case in one layout; checks
    numpool against torch once."""
    op = OPS[case.op]
    kw = (op.numpool_kwargs or _window_kwargs)(case)
    np_forward = getattr(numpool, op.numpool.format(nd=case.nd))
    t_forward = getattr(F, op.torch_forward.format(nd=case.nd))
    t_kw = dict({} if op.numpool_kwargs else kw, **op.torch_kwargs(case))

    x = _to_layout(rng.standard_normal(case.shape, dtype=np.float32), layout)
    xt = _tensor(x, layout)
    if layout == "channels_last":
        fmt = torch.channels_last if case.nd == 2 else torch.channels_last_3d
        assert xt.is_contiguous(memory_format=fmt)

    np_args, t_args = op.extra_inputs(case, x, layout) if op.extra_inputs else ((), ())
    with torch.no_grad():
        if op.has_indices:
            ref, ref_idx = t_forward(xt, return_indices=True, **t_kw)
        else:
            ref, ref_idx = t_forward(xt, *t_args, **t_kw), None

    if case.pass_ == "forward":
        out = np_forward(x, *np_args, layout=layout, **kw)
        _check(case, layout, out, ref)
        return Prepared(
            run_numpool=lambda: np_forward(x, *np_args, layout=layout, **kw),
            run_torch=lambda: t_forward(xt, *t_args, **t_kw),
            floor_bytes=x.nbytes + sum(a.nbytes for a in np_args if isinstance(a, np.ndarray)) + out.nbytes,
            out_bytes=out.nbytes,
        )

    np_backward = getattr(numpool, op.numpool.format(nd=case.nd) + "_backward")
    g_cf = rng.standard_normal(tuple(ref.shape), dtype=np.float32)
    g = _to_layout(g_cf, layout)
    gt = _tensor(g, layout)
    ref_gx = op.torch_backward(gt, xt, ref_idx, case)
    extra = {}
    read = g.nbytes + (x.nbytes if op.backward_reads_input else 0)
    if case.pass_ == "backward_indices":
        _, idx = np_forward(x, layout=layout, return_indices=True, **kw)
        np.testing.assert_array_equal(_from_layout(idx, layout), ref_idx.numpy())
        extra["indices"] = idx
        read = g.nbytes + idx.nbytes
    gx = np_backward(g, x, layout=layout, **kw, **extra)
    _check(case, layout, gx, ref_gx)
    return Prepared(
        run_numpool=lambda: np_backward(g, x, layout=layout, **kw, **extra),
        run_torch=lambda: op.torch_backward(gt, xt, ref_idx, case),
        floor_bytes=read + gx.nbytes,
        out_bytes=gx.nbytes,
    )


def _check(case, layout, ours, ref):
    ours = _from_layout(ours, layout)
    ref = ref.numpy()
    if case.op == "max" and case.pass_ == "forward":
        np.testing.assert_array_equal(ours, ref, err_msg=f"{case.label} {layout}")
    else:
        np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-6, err_msg=f"{case.label} {layout}")


def time_calls(calls, warmup, repeats, pause=0.01):
    """(min, median) seconds of each call, taking turns in one loop and rotating the order
    every repeat, so that each call comes first, and after each other call, equally often.
    ``pause`` seconds before each timed call let the other library's OpenMP workers (numba
    and torch each bring their own libgomp) stop spinning first."""
    for _ in range(warmup):
        for fn in calls:
            fn()
    times = {fn: [] for fn in calls}
    for r in range(repeats):
        for fn in calls[r % len(calls):] + calls[:r % len(calls)]:
            time.sleep(pause)
            t0 = time.perf_counter()
            fn()
            times[fn].append(time.perf_counter() - t0)
    return [(min(times[fn]), statistics.median(times[fn])) for fn in calls]


# ---------------------------------------------------------------------------------------
# report


COLUMNS = ("case", "pass", "layout", "numpool ms min (median)", "torch ms min (median)", "torch/numpool",
           "floor ms", "numpool/floor", "new-memory copy ms", "numpool/copy")


def row_cells(r):
    return (r["case"], r["pass"], r["layout"], f"{r['np_ms']:.2f} ({r['np_med']:.2f})",
            f"{r['t_ms']:.2f} ({r['t_med']:.2f})",
            f"{r['t_ms'] / r['np_ms']:.2f}x", f"{r['floor_ms']:.2f}", f"{r['np_ms'] / r['floor_ms']:.2f}",
            f"{r['copy_ms']:.2f}", f"{r['np_ms'] / r['copy_ms']:.2f}")


def text_table(rows):
    cells = [COLUMNS] + [row_cells(r) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths)))
                     for line in cells)


def markdown_table(rows):
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join(["---"] * 3 + ["---:"] * (len(COLUMNS) - 3)) + "|"]
    lines += ["| " + " | ".join(row_cells(r)) + " |" for r in rows]
    return "\n".join(lines)


def notes(rows):
    slower = [r for r in rows if r["t_ms"] < r["np_ms"]]
    far = sorted(rows, key=lambda r: r["np_ms"] / r["floor_ms"], reverse=True)[:3]
    out = []
    if slower:
        out.append("numpool was slower than PyTorch in: " + "; ".join(
            f"{r['case']} {r['pass']} {r['layout']} ({r['t_ms'] / r['np_ms']:.2f}x)" for r in slower) + ".")
    else:
        out.append("numpool was at least as fast as PyTorch in every row.")
    out.append("Farthest from the floor: " + "; ".join(
        f"{r['case']} {r['pass']} {r['layout']} ({r['np_ms'] / r['floor_ms']:.1f}x the floor)" for r in far) + ".")
    over = [r for r in rows if r["pass"] == "forward" and r["np_ms"] > 2 * r["floor_ms"]]
    if over:
        out.append("Forward rows above 2x the floor: " + "; ".join(
            f"{r['case']} {r['layout']} ({r['np_ms'] / r['floor_ms']:.2f}x; the new-memory copy of the same "
            f"bytes {r['copy_ms'] / r['floor_ms']:.2f}x)" for r in over) + ".")
    else:
        out.append("Every forward row is within 2x the floor.")
    return out


MARKDOWN = """# Benchmarks

numpool against PyTorch's CPU pooling kernels, float32, generated by
`benchmarks/bench.py`{quick}.

## Machine and run

- Date: {date}
- CPU: {cpu}, {cores} cores visible ({affinity} usable); numba threads: {threads}, torch threads: {torch_threads}
- Copy bandwidth at the start (bytes read + written, best of several, 256 MB float32 arrays):
{bandwidth}
- Copy bandwidth beside each row (all-threads Numba copy, best of 5, 128 MB): {row_bw_min:.1f}
  to {row_bw_max:.1f} GB/s; their median, used for every floor below: **{row_bw_med:.1f} GB/s**
- Load average before / after the run: {load_before} / {load_after} (the machine may be shared)
- {source}
- Python {python}, numpy {numpy}, numba {numba} (threading layer {layer}), torch {torch}
- Repeats per measurement: {repeats} (after {warmup} warm-up calls, excluded)

## Results

{table}

{notes}

## Columns

- **case**: operator, window (`2x2`), stride `s`, padding `p`, and the logical input shape
  `(N, C, *spatial)`.
- **pass**: `forward`; `backward` = gradient with respect to the input, numpool given only
  `grad_output` and `x` (`max_pool2d_backward(g, x, ...)`, which recomputes the argmax);
  `backward_indices` = the same with the forward's `indices=`.  PyTorch's backward is the
  ATen kernel autograd runs (`aten.max_pool2d_with_indices_backward`), always given the
  indices; it is the same call in both backward rows and is timed again in each.
- **layout**: `channels_first` = numpool `layout="channels_first"` on an NCHW-contiguous
  array vs a contiguous torch tensor; `channels_last` = numpool `layout="channels_last"` on
  an NHWC-contiguous array vs a `torch.channels_last` (`channels_last_3d` in 3-D) tensor
  viewing the same memory.
- **numpool ms min (median)**, **torch ms min (median)**: the fastest of the repeated calls, and in
  parentheses the median.  The ratios use the fastest: other load on a shared machine only
  adds time, so the minimum is the steadier estimate of what each library does; a median far
  above the minimum means the row was disturbed.  Every call allocates its result, as users'
  calls do, so page faults on fresh output memory are included.  The two libraries and the
  new-memory copy take turns (the order rotated every repeat) so they share the machine's
  noise, with a 10 ms pause before each call so that the other library's idle OpenMP
  workers (numba and torch each load their own libgomp) have stopped spinning.
- **torch/numpool**: how many times faster numpool is (below 1x: PyTorch is faster).
- **floor ms**: the bytes an operation must touch once — forward: input read + output
  written (max_unpool's input is its values and their int64 indices); backward:
  `grad_output` read + `x` (or `indices`, int64) read + `grad_input` written — divided by
  the median of the copy bandwidths measured right after each row's timings.
- **numpool/floor**: numpool's time over that floor; 1.0 would be a memory-bound kernel
  running at copy speed.  The floor is a main-memory rate: a case whose arrays fit in the CPU's
  caches (the small ones) could in principle go below it.
- **new-memory copy ms**: the fastest call of a plain all-threads Numba copy that reads as
  many bytes as the floor counts for the inputs and writes the result's bytes into a new
  `np.empty` array, as numpool's and PyTorch's calls do; timed in turn with the two
  libraries, in the same loop.  It is what any function returning new memory needs on this
  machine, page faults included (see "Fresh memory" below).
- **numpool/copy**: numpool's time over that copy.

Before timing, every case is checked against PyTorch (max forward bitwise, the rest to
float rounding), and numpool's indices must equal PyTorch's.

## Fresh memory on this machine

The floor leaves out what it costs to get new memory for the result, which every call
that returns a new array pays (PyTorch's too).  Results over glibc's mmap threshold (32 MB
at most) are new pages from the kernel on every call, zeroed on first touch, and on this
virtual machine that is expensive: in one measurement, an all-threads fill of a fresh
134 MB array (the bilinear x2 result) took 5.6 ms against 4.1 ms into a touched one, and
of a fresh 103 MB array (max_unpool's) 6.6 against 2.1 ms.  It varies from run to run
(measured apart from the rows of one run, from 1.8 to 11.5 ms for the 134 MB results), so
the floor neither subtracts nor adds it; the new-memory copy column measures it instead, in
the same loop as the two libraries, by moving the row's bytes into a new array with
nothing else to do.  Where the result is several times the input, that copy alone is
about 1.5x the floor.  A program that calls large upsamplings in a loop can let glibc keep
freed blocks for reuse instead of returning them to the kernel, for numpool and PyTorch
alike:

```sh
MALLOC_MMAP_THRESHOLD_=1073741824 MALLOC_TRIM_THRESHOLD_=4294967296 python train.py
```

With these two variables, bilinear x2 of (8, 64, 128, 128) channels-first went from 10.6
to 6.9 ms here, at the cost of the process keeping up to that much freed memory.  The
benchmark runs without them.

## Reproduce

```sh
python benchmarks/bench.py --markdown docs/benchmarks.md   # full run, a few minutes
python benchmarks/bench.py --quick                         # smoke run, smaller batches
```

The script measures whichever `numpool` Python imports, and the report names its folder and
commit.  To measure a committed revision while the working tree is being edited, clone it
and put the clone first on the path:

```sh
git clone -q . /tmp/np_head
PYTHONPATH=/tmp/np_head python benchmarks/bench.py --markdown docs/benchmarks.md
```

Timings on a shared or busy machine are noisy; compare the ratios, which are measured in
the same run, rather than absolute times across runs.  On a 2-core virtual machine a
descheduled worker thread shows up as times rounded up to multiples of the 4 ms scheduler
tick (medians of 8.00, 12.00, 16.00 ms): such a row was disturbed.
"""


def write_markdown(path, rows, meta):
    bandwidth = "\n".join(f"  - {k}: {v:.1f} GB/s" for k, v in meta["bandwidth"].items())
    bws = [r["bw"] for r in rows]
    text = MARKDOWN.format(table=markdown_table(rows), notes="\n".join(f"- {n}" for n in notes(rows)),
                           bandwidth=bandwidth, row_bw_min=min(bws), row_bw_max=max(bws),
                           row_bw_med=statistics.median(bws), **{k: v for k, v in meta.items() if k != "bandwidth"})
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


# ---------------------------------------------------------------------------------------
# main


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 1/8 of each batch, few repeats")
    parser.add_argument("--repeats", type=int, help="timed calls per library and row (default 21, quick 3)")
    parser.add_argument("--markdown", metavar="PATH", help="also write the report as Markdown to PATH")
    parser.add_argument("--only", metavar="TEXT", action="append",
                        help="time only the cases whose label contains TEXT (repeatable; for A/B work, "
                             "not for the published table)")
    args = parser.parse_args(argv)
    if args.only and args.markdown:
        parser.error("--only times a subset of the cases; the published table (--markdown) needs them all")
    repeats = args.repeats or (3 if args.quick else 21)
    warmup = 1 if args.quick else 2

    threads = numba.get_num_threads()
    torch.set_num_threads(threads)
    load_before = " ".join(f"{v:.2f}" for v in os.getloadavg())
    bandwidth = copy_bandwidth()
    source = numpool_source()
    print(source)
    print(f"CPU {cpu_model()}, {os.cpu_count()} cores, numba/torch threads {threads}, load {load_before}")
    for k, v in bandwidth.items():
        print(f"copy bandwidth, {k}: {v:.1f} GB/s")
    print(f"{repeats} repeats after {warmup} warm-up calls; the floors use the median copy bandwidth measured "
          "beside the rows (a row's line here uses its own until the final table)\n", flush=True)

    rng = np.random.default_rng(0)
    row_bandwidth = RowBandwidth()
    rows = []
    for case in CASES:
        case = case.quick() if args.quick else case
        if args.only and not any(text in f"{case.label} {case.pass_}" for text in args.only):
            continue
        for layout in LAYOUTS:
            gc.collect()
            p = prepare(case, layout, rng)
            copy = fresh_copy(p.floor_bytes - p.out_bytes, p.out_bytes)
            with torch.no_grad():
                (np_min, np_med), (t_min, t_med), (c_min, _) = time_calls(
                    (p.run_numpool, p.run_torch, copy), warmup, repeats)
            bw = row_bandwidth()
            rows.append({"case": case.label, "pass": case.pass_, "layout": layout, "np_ms": np_min * 1e3,
                         "np_med": np_med * 1e3, "t_ms": t_min * 1e3, "t_med": t_med * 1e3, "bw": bw,
                         "copy_ms": c_min * 1e3,
                         "floor_bytes": p.floor_bytes, "floor_ms": p.floor_bytes / (bw * 1e9) * 1e3})
            print(text_table(rows[-1:]).splitlines()[-1], flush=True)
            del p, copy
    floor_bw = statistics.median(r["bw"] for r in rows)
    for r in rows:
        r["floor_ms"] = r["floor_bytes"] / (floor_bw * 1e9) * 1e3
    print(f"\nfloor bandwidth (median beside the rows): {floor_bw:.1f} GB/s")
    print(text_table(rows))
    for n in notes(rows):
        print(n)

    if args.markdown:
        meta = dict(
            quick=" (**--quick smoke run: batches cut to 1/8, not representative**)" if args.quick else "",
            date=datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
            cpu=cpu_model(), cores=os.cpu_count(), affinity=len(os.sched_getaffinity(0)),
            threads=threads, torch_threads=torch.get_num_threads(), bandwidth=bandwidth,
            load_before=load_before, load_after=" ".join(f"{v:.2f}" for v in os.getloadavg()),
            source=source, layer=numba.threading_layer(), python=platform.python_version(),
            numpy=np.__version__, numba=numba.__version__, torch=torch.__version__, repeats=repeats, warmup=warmup,
        )
        write_markdown(args.markdown, rows, meta)
        print(f"\nwrote {args.markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
