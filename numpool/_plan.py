"""Kernel planning for the N-D window engine: geometry as named fields.

:func:`window_geometry` turns a validated spec (``numpool._params.PoolSpec`` or
``AdaptiveSpec``) into the :class:`WindowGeometry` that :mod:`numpool.kernels.windows`
loops over, for any number of spatial dims.  The per-axis window tables are
``numpool._params.window_table`` / ``adaptive_table``: for output ``i`` along an axis, the
first tap inside the input, the number of taps inside, and the number inside the padded
input.  They are concatenated over the axes (``offsets[d]`` is where axis ``d`` starts), so
one array of each kind serves every rank.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from . import _params
from ._cache import byte_cache

WindowGeometry = namedtuple(
    "WindowGeometry",
    [
        "in_shape",    # int64 (nd,): input spatial sizes
        "in_strides",  # int64 (nd,): element strides of the flattened (C-order) spatial axes
        "out_shape",   # int64 (nd,): output spatial sizes
        "dil",         # int64 (nd,): tap spacing per axis (1 for adaptive bins)
        "offsets",     # int64 (nd,): where each axis starts in first / count / padded
        "first",       # int64 (sum(out),): input index of each window's first tap inside
        "count",       # int64 (sum(out),): taps inside the input
        "padded",      # int64 (sum(out),): taps inside the padded input
        "kmax",        # int: the most cells any window holds
    ],
)


def _tables(spec):
    if isinstance(spec, _params.AdaptiveSpec):
        return ([_params.adaptive_table(size, out) for size, out in zip(spec.in_spatial, spec.out_spatial)],
                (1,) * spec.nd)
    return ([_params.window_table(size, k, s, d, lo, hi, out)
             for size, k, s, d, (lo, hi), out in zip(spec.in_spatial, spec.kernel_size, spec.stride,
                                                     spec.dilation, spec.padding, spec.out_spatial)],
            spec.dilation)


@byte_cache
def window_geometry(spec):
    """The :class:`WindowGeometry` of a spec (cached: specs are frozen and hashable)."""
    tables, dilation = _tables(spec)
    sizes = np.array(spec.in_spatial, dtype=np.int64)
    strides = np.ones(len(sizes), dtype=np.int64)
    for d in range(len(sizes) - 2, -1, -1):
        strides[d] = strides[d + 1] * sizes[d + 1]
    lengths = [t.shape[1] for t in tables]
    offsets = np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.int64)
    first, count, padded = (np.ascontiguousarray(np.concatenate([t[row] for t in tables]), dtype=np.int64)
                            for row in range(3))
    kmax = int(np.prod([int(t[1].max()) for t in tables]))
    return WindowGeometry(sizes, strides, np.array(spec.out_spatial, dtype=np.int64),
                          np.array(dilation, dtype=np.int64), offsets, first, count, padded, kmax)


def output_block(planes, outputs, threads):
    """Output positions per task of the engine's forwards: a few tasks per thread, but
    never tasks so small that their scratch costs more than their windows."""
    tasks = max(1, planes) * outputs
    want = 8 * max(1, threads)
    return max(1, min(outputs, max(64, -(-tasks // want) // max(1, planes))))
