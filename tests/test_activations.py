"""leaky_relu and relu6 against PyTorch, bit for bit, forward and backward."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import numpool
from numpool import DTypeError, ParameterError

SPECIAL = [-0.0, np.nan, -1.0, 0.0, 3.0, 6.0, 7.0, np.inf, -np.inf, -5.5, 1e-30, 5.999, 6.001, -1e-30]


def _values(dtype):
    rng = np.random.default_rng(0)
    # long enough that PyTorch's vectorised kernels handle the special values
    return np.concatenate([np.array(SPECIAL * 4), rng.standard_normal(64) * 5]).astype(dtype)


def _bits(a):
    return a.view(f"u{a.itemsize}")


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("name", ["relu6", "leaky_relu"])
def test_matches_torch_bitwise(name, dtype):
    x = _values(dtype)
    g = np.linspace(-1, 2, x.size).astype(dtype)
    xt = torch.from_numpy(x).requires_grad_(True)
    if name == "relu6":
        y, out, grad = F.relu6(xt), numpool.relu6(x), numpool.relu6_backward(g, x)
    else:
        y = F.leaky_relu(xt, 0.1)
        out, grad = numpool.leaky_relu(x, 0.1), numpool.leaky_relu_backward(g, x, 0.1)
    y.backward(torch.from_numpy(g))
    assert out.dtype == dtype and grad.dtype == dtype
    np.testing.assert_array_equal(_bits(out), _bits(y.detach().numpy()))
    np.testing.assert_array_equal(_bits(grad), _bits(xt.grad.numpy()))


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64, np.uint8])
def test_relu6_integers(dtype):
    x = np.array([0, 5, 6, 7, 100] + ([-3, -128] if np.dtype(dtype).kind == "i" else []), dtype=dtype)
    np.testing.assert_array_equal(numpool.relu6(x), F.relu6(torch.from_numpy(x)).numpy())
    assert numpool.relu6(x).dtype == dtype


def test_hand_values_and_errors():
    np.testing.assert_array_equal(numpool.leaky_relu(np.array([-2.0, 0.0, 3.0]), 0.5), [-1.0, 0.0, 3.0])
    np.testing.assert_array_equal(numpool.relu6_backward(np.ones(4), np.array([0.0, 3.0, 6.0, np.nan])), [0, 1, 0, 0])
    with pytest.raises(ParameterError, match="`negative_slope`"):
        numpool.leaky_relu(np.ones(2), "0.1")
    with pytest.raises(DTypeError, match="int32"):
        numpool.leaky_relu(np.ones(2, np.int32))
    with pytest.raises(ParameterError, match="`grad_output`"):
        numpool.relu6_backward(np.ones(3), np.ones(2))
