"""reduce_window's reducers against the strongest peer for each, with the copy floor.

Run from the repository root::

    python benchmarks/reducers.py                       # table on stdout
    python benchmarks/reducers.py --markdown docs/benchmarks-reducers.md
    python benchmarks/reducers.py --quick               # smaller inputs, few repeats

Each row times numpool and its peers on the same array, every call taking its turn within
each repeat in rotating order; the minimum of each is reported (noise on a shared machine
only adds time) with the median beside it.  Peers: PyTorch eager (min pooling as
``-max_pool2d(-x)``), ``scipy.ndimage.median_filter``, a NumPy reshape-and-``nanmean``,
tinybrain's ``downsample_segmentation`` (mode), JAX ``lax.reduce_window`` under ``jit``;
a peer that is not installed gets "not installed" in its cell.  Every peer's result is
compared with numpool's once before timing (on the cells both define), so no row reports
the speed of a different answer; the check's outcome is in the table.  The floor is the
time to read the input and write the output once at the copy bandwidth measured beside
the row (``bench.copy_bandwidth``).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # idle PyTorch threads must not spin

import numba
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the copy floor and the machine's description)

import numpool  # noqa: E402


def _optional(name):
    try:
        return __import__(name)
    except ImportError:
        return None


def _jax_max4d():
    jax = _optional("jax")
    if jax is None:
        return None
    from jax import lax

    fn = jax.jit(lambda a: lax.reduce_window(a, -np.inf, lax.max, (1, 1, 2, 2, 2, 2), (1, 1, 2, 2, 2, 2), "VALID"))
    return lambda a: np.asarray(fn(a).block_until_ready())


def _rows(quick):
    torch = _optional("torch")
    scipy_ndimage = _optional("scipy.ndimage") and __import__("scipy.ndimage", fromlist=["median_filter"])
    tinybrain = _optional("tinybrain")
    scale = 2 if quick else 1
    rng = np.random.default_rng(0)

    x = rng.standard_normal((32 // scale, 64, 112, 112)).astype(np.float32)
    xn = x.copy()
    xn[rng.random(x.shape) < 0.1] = np.nan
    torch_min = None
    if torch is not None:
        tx = torch.from_numpy(x)
        torch_min = lambda a: (-torch.nn.functional.max_pool2d(-tx, 2)).numpy()  # noqa: E731
    median_in = rng.standard_normal((8 // scale, 3, 512, 512)).astype(np.float32)
    median_peer = None
    if scipy_ndimage is not None:
        median_peer = lambda a: scipy_ndimage.median_filter(a, size=(1, 1, 3, 3))[:, :, 1:-1, 1:-1]  # noqa: E731
    side = 512 // scale
    labels8 = rng.integers(0, 4, (side, side, side), dtype=np.uint8)  # ties in a third of the windows
    labels32 = (rng.integers(0, 4, (side, side, side)) * 1_000_003).astype(np.uint32)
    def mode_peer(labels):
        """tinybrain on the Fortran-ordered copy it works in (made outside the timing); it
        returns Fortran-ordered results, the same cells as numpool's."""
        if tinybrain is None:
            return None
        fortran = np.asfortranarray(labels)
        return lambda a: tinybrain.downsample_segmentation(fortran, (2, 2, 2), num_mips=1)[0][None, None]
    h = rng.standard_normal((2, 8, 32 // scale, 32, 32, 32)).astype(np.float32)

    def user_min(v):
        m = v[0]
        for a in v:
            m = a if a < m else m
        return m

    def nanmean_peer(a):
        n, c, hh, ww = a.shape
        return np.nanmean(a.reshape(n, c, hh // 2, 2, ww // 2, 2), axis=(3, 5))

    return [
        ("max 2x2 s2 (reference for min)", x, lambda a: numpool.max_pool2d(a, 2), {}),
        ("min 2x2 s2", x, lambda a: numpool.min_pool2d(a, 2), {"PyTorch -max(-x)": torch_min}),
        ("sum 2x2 s2", x, lambda a: numpool.reduce_window(a, "sum", 2), {}),
        ("nanmean 2x2 s2", xn, lambda a: numpool.reduce_window(a, "nanmean", 2), {"NumPy nanmean": nanmean_peer}),
        ("user min 2x2 s2 (vs built-in min)", x, lambda a: numpool.reduce_window(a, user_min, (2, 2)),
         {"built-in min": lambda a: numpool.min_pool2d(a, 2)}),
        ("median 3x3 s1 (8, 3, 512, 512)", median_in, lambda a: numpool.reduce_window(a, "median", 3, stride=1),
         {"scipy median_filter": median_peer}),
        (f"mode 2x2x2 uint8 {side}^3", labels8[None, None], lambda a: numpool.reduce_window(a, "mode", 2),
         {"tinybrain": mode_peer(labels8)}),
        (f"mode 2x2x2 uint32 {side}^3", labels32[None, None], lambda a: numpool.reduce_window(a, "mode", 2),
         {"tinybrain": mode_peer(labels32)}),
        ("max 2x2x2x2 (2, 8, 32, 32, 32, 32)", h, lambda a: numpool.reduce_window(a, "max", 2),
         {"JAX reduce_window": _jax_max4d()}),
    ]


def _agreement(ours, theirs):
    """"equal", "equal to float rounding" (sums in another order), or the share of equal cells
    (mode: the peers break ties their own way)."""
    theirs = np.asarray(theirs)
    if theirs.shape != ours.shape:
        return f"shape {theirs.shape} vs {ours.shape}"
    floating = ours.dtype.kind == "f"
    same = (ours == theirs) | (np.isnan(ours) & np.isnan(theirs) if floating else False)
    if same.all():
        return "equal"
    if floating and np.allclose(ours, theirs, rtol=1e-6, atol=1e-6, equal_nan=True):
        return "equal to float rounding"
    return f"{100 * float(np.mean(same)):.2f} % equal"


def measure(rows, repeats):
    """Time every row; floors at the median of the copy bandwidths measured beside the rows."""
    results = []
    bandwidth = bench.RowBandwidth()
    rates = []
    for name, x, ours, peers in rows:
        calls = {"numpool": ours}
        checks = {}
        expected = ours(x)
        for peer, fn in peers.items():
            if fn is None:
                checks[peer] = "not installed"
                continue
            checks[peer] = _agreement(expected, fn(x))
            calls[peer] = fn
        times = {label: [] for label in calls}
        order = list(calls)
        for label in order:  # warm-up: compilation, allocator
            calls[label](x)
        for r in range(repeats):
            for label in order[r % len(order):] + order[:r % len(order)]:
                t = time.perf_counter()
                calls[label](x)
                times[label].append(time.perf_counter() - t)
                time.sleep(0.005)
        rates.append(bandwidth())
        results.append([name, x, expected, times, checks, x.nbytes + expected.nbytes, peers])
        print(f"{name}: numpool {1e3 * min(times['numpool']):.2f} ms", file=sys.stderr)
    rate = float(np.median(rates))
    for row in results:
        row[5] = row[5] / (rate * 1e9)  # bytes -> seconds at the copy bandwidth
    return results, rate, (min(rates), max(rates))


def table(results):
    lines = ["| case | numpool ms min (median) | x floor | peer | peer ms min (median) | peer / numpool | check |",
             "|---|---:|---:|---|---:|---:|---|"]
    for name, x, expected, times, checks, floor, peers in results:
        ours = min(times["numpool"])
        head = f"| {name} | {1e3 * ours:.2f} ({1e3 * np.median(times['numpool']):.2f}) | {ours / floor:.2f}"
        if not peers:
            lines.append(head + " | | | | |")
        for peer in peers:
            if peer not in times:
                lines.append(head + f" | {peer} | {checks[peer]} | | |")
                continue
            theirs = min(times[peer])
            lines.append(head + f" | {peer} | {1e3 * theirs:.2f} ({1e3 * np.median(times[peer]):.2f}) | "
                                f"{theirs / ours:.2f}x | {checks[peer]} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="half-sized inputs, 3 repeats")
    parser.add_argument("--repeats", type=int, default=None, help="timed calls per library and row (default 7)")
    parser.add_argument("--markdown", metavar="PATH", help="also write the report as Markdown to PATH")
    args = parser.parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 7)
    torch = _optional("torch")
    if torch is not None:
        torch.set_num_threads(numba.get_num_threads())
    start = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    results, rate, spread = measure(_rows(args.quick), repeats)
    report = "\n".join([
        "# reduce_window against its peers", "",
        f"- Date: {start}; CPU: {bench.cpu_model()}, {os.cpu_count()} cores; numba threads: "
        f"{numba.get_num_threads()}" + (f", torch threads: {torch.get_num_threads()}" if torch is not None else ""),
        f"- Python {platform.python_version()}, numpy {np.__version__}, numba {numba.__version__}; "
        f"repeats: {repeats} (after a warm-up call)",
        f"- Floor: input read and output written once at {rate:.1f} GB/s, the median of the all-threads copy "
        f"bandwidths measured beside the rows ({spread[0]:.1f} to {spread[1]:.1f} GB/s)", "",
        table(results), ""])
    print(report)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(report)


if __name__ == "__main__":
    main()
