"""Inputs a new user tried that once gave raw errors or asked for memory the call did not
need: empty batches and channels, 0-d array arguments, strides and padding far beyond the
input, bad seeds and shapes."""

from __future__ import annotations

import os

import numpy as np
import pytest

import numpool
from numpool import ParameterError


def _rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.parametrize("shape", [(0, 3, 5, 5, 5), (2, 0, 5, 5, 5)])
def test_empty_batch_or_channels(shape):
    x = np.zeros(shape, np.float32)
    out, idx = numpool.fractional_max_pool3d(x, 2, output_size=2, seed=0, return_indices=True)
    g = np.zeros(out.shape, np.float32)
    assert numpool.fractional_max_pool3d_backward(g, x, 2, output_size=2, seed=0).shape == shape
    assert numpool.fractional_max_pool3d_backward(g, x, 2, output_size=2, indices=idx).shape == shape
    assert numpool.global_avg_pool(x).shape == shape[:2]
    assert numpool.global_avg_pool(x[..., 0]).shape == shape[:2]
    for reducer in ("median", "max", "mean"):
        assert numpool.reduce_window(x, reducer, 2).shape == shape[:2] + (2, 2, 2)
        assert numpool.reduce_window_backward(np.zeros(shape[:2] + (2, 2, 2), np.float32), x, reducer, 2).shape == shape
    assert numpool.min_pool3d(x, 2, return_indices=True)[1].shape == shape[:2] + (2, 2, 2)


def test_zero_dimensional_array_arguments():
    x = np.random.default_rng(0).random((2, 3, 8, 8)).astype(np.float32)
    np.testing.assert_array_equal(numpool.interpolate(x, size=np.array(5)), numpool.interpolate(x, size=5))
    np.testing.assert_array_equal(numpool.interpolate(x, scale_factor=np.array(2.0)),
                                  numpool.interpolate(x, scale_factor=2.0))
    np.testing.assert_array_equal(numpool.fractional_max_pool2d(x, 2, output_ratio=np.array(0.5), seed=1),
                                  numpool.fractional_max_pool2d(x, 2, output_ratio=0.5, seed=1))
    np.testing.assert_array_equal(numpool.max_pool2d(x, np.array(2)), numpool.max_pool2d(x, 2))


@pytest.mark.parametrize("seed", [-1, 1.5, "abc", True])
def test_bad_seeds(seed):
    with pytest.raises(ParameterError, match=r"`seed` must be None or an int >= 0"):
        numpool.fractional_max_pool2d(np.zeros((1, 1, 8, 8)), 2, output_ratio=0.5, seed=seed)


@pytest.mark.parametrize("shape", [None, 5, (1, "a", 4, 4), (1, 1, -4, 4)])
def test_convert_indices_bad_input_shape(shape):
    with pytest.raises(ParameterError, match="`input_shape` must be a sequence of ints"):
        numpool.convert_indices(np.zeros((1, 1, 2, 2), np.int64), shape, "onnx")


@pytest.mark.parametrize("stride", [2**31 - 1, 2**24])
@pytest.mark.parametrize("call", [
    lambda x, s: numpool.max_pool2d(x, 2, stride=s),
    lambda x, s: numpool.max_pool2d(x, 2, stride=s, return_indices=True)[1],
    lambda x, s: numpool.avg_pool2d(x, 2, stride=s),
    lambda x, s: numpool.reduce_window(x, "median", 2, stride=s),
    lambda x, s: numpool.max_pool2d(np.ascontiguousarray(x.transpose(0, 2, 3, 1)), 2, stride=s,
                                    layout="channels_last"),
], ids=["max", "argmax", "avg", "median", "max-channels-last"])
def test_huge_strides_cost_what_the_output_costs(call, stride):
    """A stride wider than the input gives one window per axis, the one stride 8 gives;
    scratch and tables follow the input, not the stride."""
    x = np.random.default_rng(3).random((2, 3, 8, 8)).astype(np.float32)
    expected = call(x, 8)
    call(x, stride)  # compiled
    before = _rss_mb()
    np.testing.assert_array_equal(call(x, stride), expected)
    assert _rss_mb() - before < 50


def test_a_result_larger_than_memory_is_refused_first():
    x = np.zeros((2, 3, 8, 8), np.float32)
    with pytest.raises(ParameterError, match=r"would have shape \(2, 3, 2147483651, 2147483651\).*GiB"):
        numpool.avg_pool2d(x, 2, padding=2**31 - 1)
    with pytest.raises(ParameterError, match="GiB"):
        numpool.reduce_window(x, "max", 2, padding=2**31 - 1)
    with pytest.raises(ParameterError, match="GiB"):
        numpool.adaptive_max_pool2d(x, 2**31 - 1)


def test_caches_keep_little_after_long_inputs():
    """Window tables of long axes are not kept alive by the caches after the call."""
    numpool.avg_pool1d(np.zeros((1, 1, 64), np.float32), 3, stride=1)
    numpool.max_pool1d(np.zeros((1, 1, 64), np.float32), 2)
    before = _rss_mb()
    for i in range(6):
        y = np.zeros((1, 1, 2_000_000 + i), np.float32)
        numpool.avg_pool1d(y, 3, stride=1)
        numpool.max_pool1d(y, 2)
        del y
    assert _rss_mb() - before < 100
