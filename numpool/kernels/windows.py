"""The N-D window engine: one driver per traversal, one small function per reducer.

Arrays arrive flattened over their spatial axes as ``(B, S, C)``: channels-last arrays as
``(N, S, C)``, channels-first ones as ``(N * C, S, 1)`` (one row per ``(n, c)`` plane), so
one driver serves both layouts.  The geometry is a
:class:`numpool._plan.WindowGeometry` (named per-axis arrays and window tables), so any
number of spatial dims runs through the same loops.  For every output position the
driver lists the flat offsets of the window's cells inside the input, in row-major window
order (last axis fastest; padding cells are never listed), gathers their values into a
scratch row and hands that row to the reducer.  The cells along every axis but the last
are listed once per output row (:func:`row_cells`); each window adds its own taps along
the last axis, so listing costs little next to the reduction.

The reducer is chosen when the driver compiles: ``code`` is forced to a literal
(``numba.literally``) and :func:`reduce` / :func:`choose` / :func:`gradient` resolve it to
one of the functions in the tables below at typing time, so each compiled driver holds one
reducer's loop and nothing else, and Numba's on-disk cache keys it by that literal.  (Numba
0.68 caches neither closures over a reducer nor drivers that take a reducer as an
argument: both recompiled in every new process.)

The max/min rule is written once, in :func:`_pick`: a tap replaces the running extreme when
it is strictly better, or is NaN (NaN propagates; ties keep the first tap; the last NaN
wins, PyTorch's CPU rule).  The sort that median, median_low and mode use is stable and
puts NaN last, so equal values keep window order.

Parallel loops never let two threads write one cell: forwards split the output positions
of each row ``b`` into blocks, one block per task; gradients run one task per (b, block of
channels), so the windows that overlap in space belong to one task and every cell's
gradient is summed in output order.
"""

import numpy as np
from numba import literally, njit, prange, types
from numba.extending import overload

_opts = dict(cache=True, nogil=True, error_model="numpy")
_par = dict(_opts, parallel=True)

# Reducer codes (the driver's compile-time choice).
MAX, MIN, NANMAX, NANMIN = 1, 2, 3, 4
SUM, NANSUM = 5, 6
MEAN, MEAN_I2F, MEAN_I2I, NANMEAN = 7, 8, 9, 10
MEDIAN, MEDIAN_I2F, MEDIAN_I2I, MEDIAN_LOW, MODE = 11, 12, 13, 14, 15

# Slots of the float64 ``params`` array the reducers read.
INCLUDE_PAD, OVERRIDE, TIES = 0, 1, 2
TIES_FIRST, TIES_ALL, TIES_SPLIT = 0, 1, 2

# A stable insertion sort is fastest for small windows; longer ones are merged.
_INSERTION = 16


# -- the window's cells --------------------------------------------------------------


@njit(**_opts)
def row_cells(r, g, oi, kk, cells):
    """The cells that output row ``r`` (one position of every axis but the last) covers
    along the other axes, as flat offsets in row-major order, into ``cells``; returns
    ``(count, padded)``: how many, and the product over those axes of the taps inside the
    padded input.  Every window of the row takes these and adds its own taps along the last
    axis, so a row's cells are listed once, not once per output."""
    nd = g.in_shape.shape[0] - 1
    for d in range(nd - 1, -1, -1):
        oi[d] = r % g.out_shape[d]
        r //= g.out_shape[d]
    n = 1
    padded = 1
    off = 0
    for d in range(nd):
        t = g.offsets[d] + oi[d]
        n *= g.count[t]
        padded *= g.padded[t]
        off += g.first[t] * g.in_strides[d]
        kk[d] = 0
    for i in range(n):
        cells[i] = off
        d = nd - 1
        while d >= 0:  # odometer: step the last of these axes, carry into the ones before it
            step = g.dil[d] * g.in_strides[d]
            kk[d] += 1
            off += step
            if kk[d] < g.count[g.offsets[d] + oi[d]]:
                break
            off -= kk[d] * step
            kk[d] = 0
            d -= 1
    return n, padded


@njit(**_opts)
def gather(xb, c, cells, nr, first, count, step, buf):
    """The values of one window's cells in channel ``c``: each row cell, then the window's
    ``count`` taps along the last axis from ``first`` on, ``step`` apart."""
    k = 0
    for i in range(nr):
        base = cells[i] + first
        for j in range(count):
            buf[k] = xb[base + j * step, c]
            k += 1


@njit(**_opts)
def cell_of(k, cells, first, count, step):
    """The flat offset of cell ``k`` of a window listed by :func:`gather`."""
    return cells[k // count] + first + (k % count) * step


# -- ordering --------------------------------------------------------------------------


@njit(**_opts)
def _before(a, b):
    """Sort order: ascending, NaN after every number (NumPy's)."""
    return a < b or (b != b and a == a)


@njit(**_opts)
def _same(a, b):
    return a == b or (a != a and b != b)


@njit(**_opts)
def sort_index(buf, n, ix):
    """Stable sort of ``buf[:n]`` by value into ``ix[:n]`` (indices into ``buf``); ``ix`` has
    room for ``2 * n`` entries, the second half being the merge's scratch."""
    for i in range(n):
        ix[i] = i
    for r0 in range(0, n, _INSERTION):  # insertion-sorted runs
        r1 = min(r0 + _INSERTION, n)
        for i in range(r0 + 1, r1):
            j = ix[i]
            v = buf[j]
            k = i - 1
            while k >= r0 and _before(v, buf[ix[k]]):
                ix[k + 1] = ix[k]
                k -= 1
            ix[k + 1] = j
    width = _INSERTION
    src, dst = 0, n
    while width < n:  # merge runs pairwise, the left run winning ties (stable)
        for lo in range(0, n, 2 * width):
            mid = min(lo + width, n)
            hi = min(lo + 2 * width, n)
            a, b = lo, mid
            for k in range(lo, hi):
                if a < mid and (b >= hi or not _before(buf[ix[src + b]], buf[ix[src + a]])):
                    ix[dst + k] = ix[src + a]
                    a += 1
                else:
                    ix[dst + k] = ix[src + b]
                    b += 1
        src, dst = dst, src
        width *= 2
    if src != 0:
        for i in range(n):
            ix[i] = ix[n + i]


@njit(**_opts)
def _nan_start(buf, n, ix):
    """Position in sorted order of the first NaN (``n`` when there is none)."""
    k = n
    while k > 0 and buf[ix[k - 1]] != buf[ix[k - 1]]:
        k -= 1
    return k


# -- choosing one cell: max, min and their NaN-skipping forms --------------------------


@njit(**_opts)
def _pick(buf, n, larger, skip_nan):
    """Index of the window's extreme: the first of equal extremes; with ``skip_nan`` NaN
    cells are passed over (0 when every cell is NaN), else the last NaN wins."""
    best = 0
    if skip_nan:
        while best < n - 1 and buf[best] != buf[best]:
            best += 1
    m = buf[best]
    for i in range(best + 1, n):
        v = buf[i]
        if (v > m if larger else v < m) or (not skip_nan and v != v):
            m = v
            best = i
    return best


@njit(**_opts)
def _choose_max(buf, n, params, ix):
    return _pick(buf, n, True, False)


@njit(**_opts)
def _choose_min(buf, n, params, ix):
    return _pick(buf, n, False, False)


@njit(**_opts)
def _choose_nanmax(buf, n, params, ix):
    return _pick(buf, n, True, True)


@njit(**_opts)
def _choose_nanmin(buf, n, params, ix):
    return _pick(buf, n, False, True)


@njit(**_opts)
def _choose_median_low(buf, n, params, ix):
    """The lower middle cell in stable sorted order; the first NaN when there is one."""
    sort_index(buf, n, ix)
    k = _nan_start(buf, n, ix)
    return ix[k] if k < n else ix[(n - 1) // 2]


# -- forward reducers: (buf, n, padded, params, acc, ix) -> value ------------------------
# ``acc`` is a two-cell scratch array of the accumulation dtype (the dtype sums run in);
# ``ix`` the sort's index scratch.


@njit(**_opts)
def _sum(buf, n, skip_nan, acc):
    acc[0] = 0
    s = acc[0]
    for i in range(n):
        v = buf[i]
        if not (skip_nan and v != v):
            s += v
    return s


@njit(**_opts)
def _divisor(n, padded, params):
    if params[OVERRIDE] > 0:
        return np.int64(params[OVERRIDE])
    return padded if params[INCLUDE_PAD] > 0 else n


@njit(**_opts)
def _max(buf, n, padded, params, acc, ix):
    return buf[_pick(buf, n, True, False)]


@njit(**_opts)
def _min(buf, n, padded, params, acc, ix):
    return buf[_pick(buf, n, False, False)]


@njit(**_opts)
def _nanmax(buf, n, padded, params, acc, ix):
    return buf[_pick(buf, n, True, True)]


@njit(**_opts)
def _nanmin(buf, n, padded, params, acc, ix):
    return buf[_pick(buf, n, False, True)]


@njit(**_opts)
def _plain_sum(buf, n, padded, params, acc, ix):
    return _sum(buf, n, False, acc)


@njit(**_opts)
def _nansum(buf, n, padded, params, acc, ix):
    return _sum(buf, n, True, acc)


@njit(**_opts)
def _mean(buf, n, padded, params, acc, ix):
    """Float mean: the sum divided once, both in the accumulation dtype."""
    s = _sum(buf, n, False, acc)
    acc[1] = _divisor(n, padded, params)
    return s / acc[1]


@njit(**_opts)
def _mean_i2f(buf, n, padded, params, acc, ix):
    """Integer mean as float64: the exact integer sum, converted and divided once."""
    s = _sum(buf, n, False, acc)
    return np.float64(s) / np.float64(_divisor(n, padded, params))


@njit(**_opts)
def _round_half_even(s, d):
    """``s / d`` rounded half to even, in integers (``d > 0``, both of one integer type)."""
    q = s // d
    r = s - q * d
    if 2 * r > d or (2 * r == d and (q & 1) == 1):
        q += 1
    return q


@njit(**_opts)
def _mean_i2i(buf, n, padded, params, acc, ix):
    """Integer mean in the input's integer dtype: exact, rounded half to even."""
    s = _sum(buf, n, False, acc)
    acc[1] = _divisor(n, padded, params)
    if acc[1] == 0:
        return acc[1]
    return _round_half_even(s, acc[1])


@njit(**_opts)
def _nanmean(buf, n, padded, params, acc, ix):
    """Mean of the non-NaN cells; NaN where there is none.  With ``count_include_pad`` the
    window's padding cells count in the divisor, as the mean's do."""
    s = _sum(buf, n, True, acc)
    m = 0
    for i in range(n):
        if buf[i] == buf[i]:
            m += 1
    if m == 0:
        acc[1] = np.nan
        return acc[1]
    acc[1] = _divisor(m, m + padded - n, params)
    return s / acc[1]


@njit(**_opts)
def _sort_values(buf, n):
    """Stable insertion sort of ``buf[:n]`` in place, NaN last: for the small windows where
    an index sort's indirection costs more than the compares (median 3x3: 882 -> see the
    benchmark's median row)."""
    for i in range(1, n):
        v = buf[i]
        k = i - 1
        while k >= 0 and _before(v, buf[k]):
            buf[k + 1] = buf[k]
            k -= 1
        buf[k + 1] = v


@njit(**_opts)
def _middles(buf, n, ix):
    """``(k, a, b)``: the first NaN's sorted position (``n``: none) and the two middle values
    (equal for an odd count).  Sorts ``buf`` itself: the forwards only read values; the
    gradients use :func:`sort_index`."""
    if n <= _INSERTION:
        _sort_values(buf, n)
        k = n
        while k > 0 and buf[k - 1] != buf[k - 1]:
            k -= 1
        return k, buf[k if k < n else (n - 1) // 2], buf[n // 2]
    sort_index(buf, n, ix)
    k = _nan_start(buf, n, ix)
    return k, buf[ix[k if k < n else (n - 1) // 2]], buf[ix[n // 2]]


@njit(**_opts)
def _median(buf, n, padded, params, acc, ix):
    """NumPy's median of floats: NaN if any cell is; the mean of the two middle values,
    ``(a + b) / 2`` in the accumulation dtype, for an even count."""
    k, a, b = _middles(buf, n, ix)
    if k < n:
        return a  # the first NaN
    acc[0] = a
    acc[0] += b
    acc[1] = 2
    return acc[0] / acc[1]


@njit(**_opts)
def _median_i2f(buf, n, padded, params, acc, ix):
    k, a, b = _middles(buf, n, ix)
    return (np.float64(a) + np.float64(b)) / 2.0


@njit(**_opts)
def _median_i2i(buf, n, padded, params, acc, ix):
    """The mean of the two middle integers rounded half to even, without overflow:
    ``floor((a + b) / 2)`` from halves, then the parity of ``a + b``."""
    k, a, b = _middles(buf, n, ix)
    h = (a >> 1) + (b >> 1) + (a & b & 1)
    if ((a ^ b) & 1) == 1 and (h & 1) == 1:
        h += 1
    return h


@njit(**_opts)
def _median_low(buf, n, padded, params, acc, ix):
    return buf[_choose_median_low(buf, n, params, ix)]


@njit(**_opts)
def _mode(buf, n, padded, params, acc, ix):
    """The most frequent value, ties to the smallest (NaN, one value, counts as the
    largest); of equal values the first in window order is returned."""
    if n <= _INSERTION:  # count each cell's equals: no sort, no indirection
        best, best_count = 0, 0
        for i in range(n):
            v = buf[i]
            count = 0
            for j in range(n):
                count += _same(buf[j], v)
            if count > best_count or (count == best_count and _before(v, buf[best])):
                best, best_count = i, count
        return buf[best]
    sort_index(buf, n, ix)
    best, best_len = 0, 0
    i = 0
    while i < n:
        j = i + 1
        while j < n and _same(buf[ix[j]], buf[ix[i]]):
            j += 1
        if j - i > best_len:
            best, best_len = i, j - i
        i = j
    return buf[ix[best]]


_REDUCE = {MAX: _max, MIN: _min, NANMAX: _nanmax, NANMIN: _nanmin, SUM: _plain_sum, NANSUM: _nansum,
           MEAN: _mean, MEAN_I2F: _mean_i2f, MEAN_I2I: _mean_i2i, NANMEAN: _nanmean, MEDIAN: _median,
           MEDIAN_I2F: _median_i2f, MEDIAN_I2I: _median_i2i, MEDIAN_LOW: _median_low, MODE: _mode}
_CHOOSE = {MAX: _choose_max, MIN: _choose_min, NANMAX: _choose_nanmax, NANMIN: _choose_nanmin,
           MEDIAN_LOW: _choose_median_low}


# -- gradients: (buf, n, padded, params, acc, ix, g, w) fill w[:n] ------------------------


@njit(**_opts)
def _spread_extreme(buf, n, params, g, w, larger, skip_nan):
    """Max/min gradient under the tie policy: to the cell the forward picks ("first"), to
    every cell equal to the result, the whole of it ("all") or an equal share ("split");
    a NaN result's tied cells are its NaN cells; NaN-skipping forms give NaN cells nothing."""
    for i in range(n):
        w[i] = 0
    k = _pick(buf, n, larger, skip_nan)
    m = buf[k]
    if skip_nan and m != m:
        return
    if params[TIES] == TIES_FIRST:
        w[k] = g
        return
    tied = 0
    for i in range(n):
        if _same(buf[i], m):
            tied += 1
    share = g
    if params[TIES] == TIES_SPLIT:
        w[0] = tied
        share = g / w[0]
    for i in range(n):
        w[i] = share if _same(buf[i], m) else 0


@njit(**_opts)
def _grad_max(buf, n, padded, params, acc, ix, g, w):
    _spread_extreme(buf, n, params, g, w, True, False)


@njit(**_opts)
def _grad_min(buf, n, padded, params, acc, ix, g, w):
    _spread_extreme(buf, n, params, g, w, False, False)


@njit(**_opts)
def _grad_nanmax(buf, n, padded, params, acc, ix, g, w):
    _spread_extreme(buf, n, params, g, w, True, True)


@njit(**_opts)
def _grad_nanmin(buf, n, padded, params, acc, ix, g, w):
    _spread_extreme(buf, n, params, g, w, False, True)


@njit(**_opts)
def _grad_sum(buf, n, padded, params, acc, ix, g, w):
    for i in range(n):
        w[i] = g


@njit(**_opts)
def _grad_nansum(buf, n, padded, params, acc, ix, g, w):
    for i in range(n):
        w[i] = g if buf[i] == buf[i] else 0


@njit(**_opts)
def _grad_mean(buf, n, padded, params, acc, ix, g, w):
    w[0] = _divisor(n, padded, params)
    share = g / w[0]
    for i in range(n):
        w[i] = share


@njit(**_opts)
def _grad_nanmean(buf, n, padded, params, acc, ix, g, w):
    m = 0
    for i in range(n):
        if buf[i] == buf[i]:
            m += 1
    w[0] = _divisor(m, m + padded - n, params) if m > 0 else 1
    share = g / w[0]
    for i in range(n):
        w[i] = share if buf[i] == buf[i] else 0


@njit(**_opts)
def _grad_median(buf, n, padded, params, acc, ix, g, w):
    """To the middle cell (stable sorted order); an even count's two middle cells get half
    each; with a NaN in the window, all of it to the first NaN (the result)."""
    for i in range(n):
        w[i] = 0
    sort_index(buf, n, ix)  # the cells, not only their values
    k = _nan_start(buf, n, ix)
    if k < n:
        w[ix[k]] = g
    elif n % 2 == 1:
        w[ix[n // 2]] = g
    else:
        w[ix[n // 2 - 1]] = g * 0.5
        w[ix[n // 2]] = g * 0.5


@njit(**_opts)
def _grad_median_low(buf, n, padded, params, acc, ix, g, w):
    for i in range(n):
        w[i] = 0
    w[_choose_median_low(buf, n, params, ix)] = g


_GRADIENT = {MAX: _grad_max, MIN: _grad_min, NANMAX: _grad_nanmax, NANMIN: _grad_nanmin, SUM: _grad_sum,
             NANSUM: _grad_nansum, MEAN: _grad_mean, NANMEAN: _grad_nanmean, MEDIAN: _grad_median,
             MEDIAN_LOW: _grad_median_low}


# -- compile-time dispatch -----------------------------------------------------------


def reduce(code, buf, n, padded, params, acc, ix):
    """The reducer ``code`` names (resolved when the calling driver compiles)."""


def choose(code, buf, n, params, ix):
    """The cell-choosing form of ``code`` (max, min, their NaN forms, median_low)."""


def gradient(code, buf, n, padded, params, acc, ix, g, w):
    """The gradient of reducer ``code``."""


def _dispatch(table, name):
    def typer(code, *args):
        if not isinstance(code, types.IntegerLiteral):
            return None
        fn = table[code.literal_value]

        def impl(code, *args):
            return fn(*args)
        return impl
    typer.__name__ = f"_{name}_literal"
    return typer


overload(reduce, jit_options=_opts)(_dispatch(_REDUCE, "reduce"))
overload(choose, jit_options=_opts)(_dispatch(_CHOOSE, "choose"))
overload(gradient, jit_options=_opts)(_dispatch(_GRADIENT, "gradient"))


# -- drivers ---------------------------------------------------------------------------


@njit(**_opts)
def _scratch(g, x):
    """One task's scratch: a row's cell offsets (:func:`row_cells`), a window's values, the
    sort's indices, and the output and tap counters."""
    nd = g.in_shape.shape[0]
    k = max(g.kmax, 1)  # a row of no axes (1-D) has one cell even where every window is empty
    return (np.empty(k, np.int64), np.empty(k, x.dtype), np.empty(2 * k, np.int64), np.empty(nd, np.int64),
            np.empty(nd, np.int64))


@njit(**_par)
def reduce_cells(code, x, out, g, params, acc0, fill, empties, block):
    """``out[b, o, c]`` = the reducer over output ``o``'s window of ``x[b, :, c]``; windows
    with no cell inside get ``fill[0]`` unless ``empties`` (the mean's forms compute theirs).

    ``x`` is (B, S, C) and ``out`` (B, O, C): channels-last arrays as they are, channels-first
    ones as (N * C, S, 1), one plane per row.  Each task takes ``block`` outputs of one ``b``.
    """
    literally(code)
    B, O, C = out.shape
    nb = (O + block - 1) // block
    last = g.in_shape.shape[0] - 1
    OL, step = g.out_shape[last], g.dil[last]
    for t in prange(B * nb):
        b = t // nb
        o0 = (t % nb) * block
        cells, buf, ix, oi, kk = _scratch(g, x)
        acc = acc0.copy()
        xb = x[b]
        row, ol = o0 // OL, o0 % OL  # counted on below: a division per output cost more than a 2x2 min
        nr, pr = row_cells(row, g, oi, kk, cells)
        for o in range(o0, min(o0 + block, O)):
            if ol == OL:
                row, ol = row + 1, 0
                nr, pr = row_cells(row, g, oi, kk, cells)
            tl = g.offsets[last] + ol
            ol += 1
            first, count = g.first[tl], g.count[tl]
            n, padded = nr * count, pr * g.padded[tl]
            for c in range(C):
                if n == 0 and not empties:
                    out[b, o, c] = fill[0]
                    continue
                gather(xb, c, cells, nr, first, count, step, buf)
                out[b, o, c] = reduce(code, buf, n, padded, params, acc, ix)


@njit(**_par)
def choose_cells(code, x, out, idx, g, params, fill, block):
    """The chosen cell's value and flat spatial index of every window (``fill[0]`` and -1
    for a window with no cell inside); arrays as for :func:`reduce_cells`."""
    literally(code)
    B, O, C = out.shape
    nb = (O + block - 1) // block
    last = g.in_shape.shape[0] - 1
    OL, step = g.out_shape[last], g.dil[last]
    for t in prange(B * nb):
        b = t // nb
        o0 = (t % nb) * block
        cells, buf, ix, oi, kk = _scratch(g, x)
        xb = x[b]
        row, ol = o0 // OL, o0 % OL
        nr, _ = row_cells(row, g, oi, kk, cells)
        for o in range(o0, min(o0 + block, O)):
            if ol == OL:
                row, ol = row + 1, 0
                nr, _ = row_cells(row, g, oi, kk, cells)
            tl = g.offsets[last] + ol
            ol += 1
            first, count = g.first[tl], g.count[tl]
            n = nr * count
            for c in range(C):
                if n == 0:
                    out[b, o, c] = fill[0]
                    idx[b, o, c] = -1
                    continue
                gather(xb, c, cells, nr, first, count, step, buf)
                k = choose(code, buf, n, params, ix)
                out[b, o, c] = buf[k]
                idx[b, o, c] = cell_of(k, cells, first, count, step)


@njit(**_par)
def gradient_cells(code, x, gout, gx, g, params, acc0, block):
    """``gx[b, :, c]`` += each window's gradient shares at its cells.  One task per (b, block
    of ``block`` channels): the windows that overlap in space belong to one task."""
    literally(code)
    B, O, C = gout.shape
    nblocks = (C + block - 1) // block
    last = g.in_shape.shape[0] - 1
    OL, step = g.out_shape[last], g.dil[last]
    for t in prange(B * nblocks):
        b = t // nblocks
        c0 = (t % nblocks) * block
        cells, buf, ix, oi, kk = _scratch(g, x)
        w = np.empty(max(g.kmax, 1), gx.dtype)
        acc = acc0.copy()
        xb = x[b]
        gb = gx[b]
        row, ol = 0, 0
        nr, pr = row_cells(row, g, oi, kk, cells)
        for o in range(O):
            if ol == OL:
                row, ol = row + 1, 0
                nr, pr = row_cells(row, g, oi, kk, cells)
            tl = g.offsets[last] + ol
            ol += 1
            first, count = g.first[tl], g.count[tl]
            n, padded = nr * count, pr * g.padded[tl]
            if n == 0:
                continue
            for c in range(c0, min(c0 + block, C)):
                gather(xb, c, cells, nr, first, count, step, buf)
                gradient(code, buf, n, padded, params, acc, ix, gout[b, o, c], w)
                for k in range(n):
                    gb[cell_of(k, cells, first, count, step), c] += w[k]


# -- user functions --------------------------------------------------------------------


def user_drivers(fn):
    """:func:`reduce_cells` with ``fn`` (a Numba dispatcher of a 1-D array of the window's
    cells) as the reducer.  Compiled once per function and process, never cached on disk: a
    cached driver could not tell one user function from another."""
    import types as pytypes

    @njit(nogil=True)
    def call(code, buf, n, padded, params, acc, ix):
        return fn(buf[:n])

    py = reduce_cells.py_func
    scope = dict(py.__globals__, reduce=call)
    copy = pytypes.FunctionType(py.__code__, scope, py.__name__, py.__defaults__, py.__closure__)
    return njit(parallel=True, nogil=True, error_model="numpy")(copy)
