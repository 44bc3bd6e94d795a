"""Finite-difference checks of the max and average pooling gradients, in float64.

The backward functions must be the derivative of the forward ones: for a random output
gradient ``g``, ``d/dx sum(g * pool(x))`` is estimated by central differences and compared
with ``pool_backward(g, x)``.  Max pooling is piecewise linear, so its inputs are distinct
values far apart (a nudge of ``EPS`` never changes an argmax); average pooling is linear.
"""

import numpy as np
import pytest

from helpers import Pool, distinct_values, np_avg, np_avg_backward, np_max, np_max_backward

EPS = 1e-6

POOLS = {  # padding, overlap, ceil_mode (with a partial last window), dilation, (lo, hi) pairs
    1: [Pool(3, 2, 1), Pool(2, 2, 1, ceil_mode=True), Pool(3, 1, ((2, 1),), 2, True), Pool(2, 3, "same")],
    2: [Pool(3, 2, 1), Pool((2, 3), (2, 2), (1, 0), ceil_mode=True), Pool(2, 1, ((0, 2), (1, 1)), (2, 1))],
    3: [Pool(2, 2, 1, ceil_mode=True), Pool((1, 2, 3), (1, 2, 2), "same_lower", (1, 1, 2))],
}
SHAPES = {1: (2, 3, 7), 2: (2, 2, 5, 6), 3: (1, 2, 3, 4, 5)}
CASES = [(nd, pool) for nd, pools in POOLS.items() for pool in pools]


def numeric_gradient(forward, x, g):
    """Central differences of ``sum(g * forward(x))`` with respect to every element of ``x``.

    All ``2 * x.size`` nudged copies of ``x`` go through one ``forward`` call, stacked on
    the batch axis (batch entries are pooled independently).
    """
    n = x.size
    nudge = (EPS * np.eye(n)).reshape((n,) + x.shape)
    stacked = np.concatenate([x + nudge, x - nudge]).reshape((2 * n * x.shape[0],) + x.shape[1:])
    out = forward(stacked).reshape((2, n) + g.shape)
    totals = np.sum(g * out, axis=tuple(range(2, out.ndim)))
    return ((totals[0] - totals[1]) / (2 * EPS)).reshape(x.shape)


@pytest.mark.parametrize("case", ["cf", "cl"])
@pytest.mark.parametrize("nd, pool", CASES)
def test_max_gradient(nd, pool, case):
    rng = np.random.default_rng(nd)
    x = distinct_values(rng, SHAPES[nd])
    out, idx = np_max(x, pool, case)
    g = rng.standard_normal(out.shape)
    expected = numeric_gradient(lambda a: np_max(a, pool, case, return_indices=False), x, g)
    np.testing.assert_allclose(np_max_backward(g, x, pool, case), expected, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(np_max_backward(g, x, pool, case, indices=idx), expected, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("options", [(True, None), (False, None), (True, 3)])
@pytest.mark.parametrize("case", ["cf", "cl"])
@pytest.mark.parametrize("nd, pool", CASES)
def test_avg_gradient(nd, pool, case, options):
    count_include_pad, divisor_override = options
    rng = np.random.default_rng(nd)
    x = rng.standard_normal(SHAPES[nd])
    opts = dict(count_include_pad=count_include_pad, divisor_override=divisor_override)
    out = np_avg(x, pool, case, **opts)
    g = rng.standard_normal(out.shape)
    g[np.isnan(out)] = 0  # windows wholly in padding average nothing (NaN) and pass no gradient
    expected = numeric_gradient(lambda a: np.nan_to_num(np_avg(a, pool, case, **opts)), x, g)
    np.testing.assert_allclose(np_avg_backward(g, x, pool, case, **opts), expected, rtol=1e-6, atol=1e-8)
