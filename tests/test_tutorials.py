"""The tutorials numpool grew from (tests/../shared/seeds), reproduced with numpool.

Each test quotes the example it reproduces: the printed values and shapes must come out
of numpool exactly.  The sources are

- d2l (动手学深度学习 22, 池化层): ``pool2d`` by hand and ``nn.MaxPool2d`` on ``arange(16)``;
- a TF2 course (池化与采样): Keras ``MaxPool2D`` / ``tf.nn.max_pool2d`` shapes, the
  ``stride=1`` figure and ``tf.nn.relu`` on a printed 2x3 tensor;
- a TF pooling-functions tutorial: ``tf.nn.avg_pool`` / ``max_pool`` /
  ``max_pool_with_argmax`` / ``avg_pool3d`` / ``max_pool3d`` output shapes;
- a NumPy derivation (深度学习——Pooling Layer): forward and backward by hand with a mask.

Most inputs are float32 (the tutorials' dtype) so the suite compiles few kernel variants.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import numpool
from numpool import _params

# ---------------------------------------------------------------------------------------
# references


def d2l_pool2d(X, pool_size, mode="max"):
    """d2l's ``pool2d``, verbatim but for NumPy: stride 1, no padding."""
    p_h, p_w = pool_size
    Y = np.zeros((X.shape[0] - p_h + 1, X.shape[1] - p_w + 1), dtype=X.dtype)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            if mode == "max":
                Y[i, j] = X[i: i + p_h, j: j + p_w].max()
            elif mode == "avg":
                Y[i, j] = X[i: i + p_h, j: j + p_w].mean()
    return Y


def tf_same(size, k, s):
    """TF's SAME geometry on one axis: (out, pad_before)."""
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return out, total // 2


def tf_pool(x, ksize, strides, padding, mode):
    """``tf.nn.max_pool`` / ``avg_pool`` (N, *spatial, C) by enumeration; SAME averages count
    only the cells inside the input."""
    spatial = x.shape[1:-1]
    geo = [tf_same(n, k, s) if padding == "SAME" else ((n - k) // s + 1, 0)
           for n, k, s in zip(spatial, ksize, strides)]
    out = np.zeros((x.shape[0],) + tuple(o for o, _ in geo) + (x.shape[-1],), dtype=x.dtype)
    for pos in np.ndindex(*out.shape[1:-1]):
        lo = [max(p * s - pad, 0) for p, s, (_, pad) in zip(pos, strides, geo)]
        hi = [min(p * s - pad + k, n) for p, s, (_, pad), k, n in zip(pos, strides, geo, ksize, spatial)]
        window = x[(slice(None),) + tuple(slice(a, b) for a, b in zip(lo, hi))]
        axes = tuple(range(1, 1 + len(spatial)))
        out[(slice(None),) + pos] = window.max(axis=axes) if mode == "max" else window.mean(axis=axes)
    return out


def tf_max_pool_with_argmax(x, ksize, strides, padding, include_batch_in_index=False):
    """TensorFlow's CPU ``MaxPoolWithArgmax`` loop: the first tap inside the input starts the
    window, a later tap replaces it only if strictly greater; flat index
    ``((b * H + y) * W + x) * C + c`` (the batch term only with include_batch_in_index)."""
    N, H, W, C = x.shape
    (oh, pt), (ow, pl) = [tf_same(n, k, s) if padding == "SAME" else ((n - k) // s + 1, 0)
                          for n, k, s in zip((H, W), ksize, strides)]
    out = np.zeros((N, oh, ow, C), dtype=x.dtype)
    arg = np.full((N, oh, ow, C), -1, dtype=np.int64)
    b = np.arange(N)[:, None]
    c = np.arange(C)[None, :]
    for i in range(oh):
        for j in range(ow):
            best = np.zeros((N, C), dtype=x.dtype)
            idx = np.full((N, C), -1, dtype=np.int64)
            for y in range(i * strides[0] - pt, i * strides[0] - pt + ksize[0]):
                for xx in range(j * strides[1] - pl, j * strides[1] - pl + ksize[1]):
                    if not (0 <= y < H and 0 <= xx < W):
                        continue
                    v = x[:, y, xx, :]
                    better = (idx == -1) | (v > best)
                    best = np.where(better, v, best)
                    flat = ((b * H + y) * W + xx) * C + c if include_batch_in_index else (y * W + xx) * C + c
                    idx = np.where(better, flat, idx)
            out[:, i, j], arg[:, i, j] = best, idx
    return out, arg


def assert_same(actual, expected):
    """Equal values (NaN where NaN), same shape and dtype."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape
    assert actual.dtype == expected.dtype
    np.testing.assert_array_equal(actual, expected)


# ---------------------------------------------------------------------------------------
# d2l 动手学深度学习 22: 池化层


D2L_X = np.array([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]], dtype=np.float32)


def test_d2l_pool2d_by_hand():
    # print(pool2d(X, (2, 2)))         -> tensor([[4., 5.], [7., 8.]])
    # print(pool2d(X, (2, 2), 'avg'))  -> tensor([[2., 3.], [5., 6.]])
    want_max = np.array([[4.0, 5.0], [7.0, 8.0]], dtype=np.float32)
    want_avg = np.array([[2.0, 3.0], [5.0, 6.0]], dtype=np.float32)
    assert_same(d2l_pool2d(D2L_X, (2, 2)), want_max)
    assert_same(d2l_pool2d(D2L_X, (2, 2), "avg"), want_avg)
    # numpool on the unbatched (C, H, W) input and on a batched one
    assert_same(numpool.max_pool2d(D2L_X[None], 2, stride=1)[0], want_max)
    assert_same(numpool.avg_pool2d(D2L_X[None], 2, stride=1)[0], want_avg)
    assert_same(numpool.max_pool2d(D2L_X[None, None], (2, 2), stride=(1, 1))[0, 0], want_max)
    assert_same(numpool.avg_pool2d(D2L_X[None, None], (2, 2), stride=(1, 1))[0, 0], want_avg)


@pytest.mark.parametrize("pool_size", [(1, 1), (2, 3), (3, 2), (4, 4)])
def test_d2l_pool2d_by_hand_matches_numpool(pool_size):
    X = np.random.default_rng(0).standard_normal((5, 6)).astype(np.float32)
    assert_same(numpool.max_pool2d(X[None], pool_size, stride=1)[0], d2l_pool2d(X, pool_size))
    np.testing.assert_allclose(numpool.avg_pool2d(X[None], pool_size, stride=1)[0],
                               d2l_pool2d(X, pool_size, "avg"), rtol=1e-6, atol=1e-6)


ARANGE = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)


@pytest.mark.parametrize(
    "kwargs, printed",
    [
        # pool2d = nn.MaxPool2d(3)                               -> tensor([[[[10.]]]])
        (dict(kernel_size=3), [[10.0]]),
        # nn.MaxPool2d(3, padding=1, stride=2)                   -> [[5., 7.], [13., 15.]]
        (dict(kernel_size=3, padding=1, stride=2), [[5.0, 7.0], [13.0, 15.0]]),
        # nn.MaxPool2d((2, 3), stride=(2, 3), padding=(0, 1))    -> [[5., 7.], [13., 15.]]
        (dict(kernel_size=(2, 3), stride=(2, 3), padding=(0, 1)), [[5.0, 7.0], [13.0, 15.0]]),
    ],
    ids=["MaxPool2d(3)", "MaxPool2d(3,padding=1,stride=2)", "MaxPool2d((2,3),stride=(2,3),padding=(0,1))"],
)
def test_d2l_maxpool2d_on_arange16(kwargs, printed):
    want = np.array([[printed]], dtype=np.float32)
    assert_same(numpool.max_pool2d(ARANGE, **kwargs), want)
    torch_kwargs = dict(kwargs)
    assert_same(torch.nn.MaxPool2d(**torch_kwargs)(torch.from_numpy(ARANGE)).numpy(), want)


def test_d2l_two_channels():
    # X = torch.cat((X, X + 1), 1); nn.MaxPool2d(3, padding=1, stride=2)(X)
    # -> tensor([[[[ 5.,  7.], [13., 15.]], [[ 6.,  8.], [14., 16.]]]])
    X = np.concatenate((ARANGE, ARANGE + 1), axis=1)
    assert X.shape == (1, 2, 4, 4)
    np.testing.assert_array_equal(X[0, 1], np.arange(1, 17).reshape(4, 4))  # the printed X
    want = np.array([[[[5.0, 7.0], [13.0, 15.0]], [[6.0, 8.0], [14.0, 16.0]]]], dtype=np.float32)
    assert_same(numpool.max_pool2d(X, 3, padding=1, stride=2), want)
    # the same pooling channels-last, the layout TF tutorials use
    out = numpool.max_pool2d(np.ascontiguousarray(X.transpose(0, 2, 3, 1)), 3, padding=1, stride=2,
                             layout="channels_last")
    assert_same(out, want.transpose(0, 2, 3, 1))


# ---------------------------------------------------------------------------------------
# TF2 course 池化与采样 (龙良曲)


@pytest.fixture(scope="module")
def course_x():
    """``x  # TensorShape([1, 14, 14, 4])``: random normal, channels-last."""
    return np.random.default_rng(14).standard_normal((1, 14, 14, 4)).astype(np.float32)


def test_course_keras_maxpool_shapes(course_x):
    # pool=layers.MaxPool2D(2,strides=2); out=pool(x)  -> TensorShape([1, 7, 7, 4])
    out = numpool.max_pool2d(course_x, 2, stride=2, layout="channels_last")
    assert out.shape == (1, 7, 7, 4)
    assert_same(out, course_x.reshape(1, 7, 2, 7, 2, 4).max(axis=(2, 4)))
    # pool=layers.MaxPool2D(3,strides=2); out=pool(x)  -> TensorShape([1, 6, 6, 4])
    out = numpool.max_pool2d(course_x, 3, stride=2, layout="channels_last")
    assert out.shape == (1, 6, 6, 4)
    assert_same(out, tf_pool(course_x, (3, 3), (2, 2), "VALID", "max"))
    # Keras's default padding is "valid"; spelled out the same
    assert_same(numpool.max_pool2d(course_x, 3, stride=2, padding="valid", layout="channels_last"), out)


def test_course_tf_nn_max_pool2d_shape(course_x):
    # out=tf.nn.max_pool2d(x, 2, strides=2, padding='VALID')  -> TensorShape([1, 7, 7, 4])
    out = numpool.max_pool2d(course_x, 2, stride=2, padding="VALID", layout="NHWC")
    assert out.shape == (1, 7, 7, 4)
    out2, _ = numpool.max_pool_with_argmax(course_x, [1, 2, 2, 1], [1, 2, 2, 1], padding="VALID")
    assert_same(out2, out)
    nchw = torch.from_numpy(course_x).permute(0, 3, 1, 2)
    assert_same(out, F.max_pool2d(nchw, 2, 2).permute(0, 2, 3, 1).numpy())


def test_course_stride_1_figure():
    # Strides / stride=1: the 4x4 figure pooled 2x2 with stride 1 (printed column by column)
    x = np.array([[1, 3, 2, 4], [1, 3, 2, 4], [5, 7, 6, 8], [5, 7, 6, 8]], dtype=np.float32)
    want = np.array([[3, 3, 4], [7, 7, 8], [7, 7, 8]], dtype=np.float32)
    assert_same(numpool.max_pool2d(x[None, None], 2, stride=1)[0, 0], want)
    assert_same(numpool.max_pool2d(x[None, :, :, None], 2, stride=1, layout="channels_last")[0, :, :, 0], want)
    # the same figure with stride 2 (the slide's "Max/Avg pooling stride=2")
    assert_same(numpool.max_pool2d(x[None, None], 2)[0, 0], np.array([[3, 4], [7, 8]], dtype=np.float32))
    assert_same(numpool.avg_pool2d(x[None, None], 2)[0, 0], np.array([[2, 3], [6, 7]], dtype=np.float32))


def test_course_relu_values():
    # x=tf.random.normal([2,3]); tf.nn.relu(x); layers.ReLU()(x)  (both print the same)
    x = np.array([[-1.533682, -2.7053335, 0.36354962], [0.00713745, 0.69756126, 0.8053344]], dtype=np.float32)
    want = np.array([[0.0, 0.0, 0.36354962], [0.00713745, 0.69756126, 0.8053344]], dtype=np.float32)
    out = numpool.relu(x)
    assert_same(out, want)
    np.testing.assert_array_equal(out.view(np.uint32), want.view(np.uint32))  # bit for bit
    assert not np.shares_memory(out, x)


# ---------------------------------------------------------------------------------------
# TF pooling-functions tutorial (池化): shapes printed by the tutorial's run


@pytest.fixture(scope="module")
def conv_y():
    """``tf.nn.conv2d`` output ``shape=(10, 9, 9, 2)``, float32: random stand-in values with ties."""
    rng = np.random.default_rng(9)
    return (rng.integers(0, 6, size=(10, 9, 9, 2)) + rng.choice([0, 0.5], (10, 9, 9, 2))).astype(np.float32)


def test_tf_avg_pool_same(conv_y):
    # tf.nn.avg_pool(value=y, ksize=[1, 2, 2, 1], strides=[1, 1, 1, 1], padding='SAME')
    #   -> Tensor("AvgPool:0", shape=(10, 9, 9, 2), dtype=float32)
    out = numpool.avg_pool2d(conv_y, 2, stride=1, padding="SAME", count_include_pad=False, layout="channels_last")
    assert out.shape == (10, 9, 9, 2) and out.dtype == np.float32
    np.testing.assert_allclose(out, tf_pool(conv_y, (2, 2), (1, 1), "SAME", "avg"), rtol=1e-6)
    # the last row and column average only the cells inside the input: SAME pads (0, 1)
    np.testing.assert_allclose(out[:, -1, -1], conv_y[:, -1, -1], rtol=0)


def test_tf_max_pool_same(conv_y):
    # tf.nn.max_pool(value=y, ksize=[1, 2, 2, 1], strides=[1, 1, 1, 1], padding='SAME')
    #   -> Tensor("MaxPool:0", shape=(10, 9, 9, 2), dtype=float32)
    out = numpool.max_pool2d(conv_y, 2, stride=1, padding="SAME", layout="channels_last")
    assert out.shape == (10, 9, 9, 2) and out.dtype == np.float32
    assert_same(out, tf_pool(conv_y, (2, 2), (1, 1), "SAME", "max"))


@pytest.mark.parametrize("include_batch_in_index", [False, True])
def test_tf_max_pool_with_argmax_same(conv_y, include_batch_in_index):
    # tf.nn.max_pool_with_argmax(input=y, ksize=[1, 2, 2, 1], strides=[1, 1, 1, 1], padding='SAME')
    #   -> shape=(10, 9, 9, 2) float32 and shape=(10, 9, 9, 2) int64
    out, argmax = numpool.max_pool_with_argmax(conv_y, [1, 2, 2, 1], [1, 1, 1, 1], padding="SAME",
                                               include_batch_in_index=include_batch_in_index)
    assert out.shape == (10, 9, 9, 2) and out.dtype == np.float32
    assert argmax.shape == (10, 9, 9, 2) and argmax.dtype == np.int64
    want_out, want_arg = tf_max_pool_with_argmax(conv_y, (2, 2), (1, 1), "SAME", include_batch_in_index)
    assert_same(out, want_out)
    assert_same(argmax, want_arg)
    # the index points at the maximum
    flat = argmax if include_batch_in_index else argmax + (np.arange(10) * 9 * 9 * 2)[:, None, None, None]
    assert_same(conv_y.ravel()[flat], out)


@pytest.fixture(scope="module")
def conv3d_y():
    """``tf.nn.conv3d`` output ``shape=(1, 1, 3, 5, 3)`` (N, D, H, W, C), float32."""
    return np.random.default_rng(3).standard_normal((1, 1, 3, 5, 3)).astype(np.float32)


def test_tf_conv3d_same_shape_rule():
    # tf.nn.conv3d(input (1, 2, 5, 5, 1), filters (2, 3, 3, 1, 3), strides=[1, 2, 2, 1, 1], 'SAME')
    #   -> shape=(1, 1, 3, 5, 3): SAME sizes are ceil(L / s) whatever the window
    spec = _params.pool_spec("conv3d", (2, 5, 5), (2, 3, 3), (2, 2, 1), "SAME")
    assert spec.out_spatial == (1, 3, 5)


@pytest.mark.parametrize("mode", ["avg", "max"])
def test_tf_pool3d_same(conv3d_y, mode):
    # tf.nn.avg_pool3d / max_pool3d(input=y, ksize=[1, 1, 2, 2, 1], strides=[1, 2, 2, 1, 1], padding='SAME')
    #   -> shape=(1, 1, 2, 5, 3)
    # ksize and strides are (N, D, H, W, C): window (1, 2, 2), strides (D, H, W) = (2, 2, 1),
    # so D = ceil(1/2) = 1, H = ceil(3/2) = 2, W = ceil(5/1) = 5.
    kwargs = dict(kernel_size=(1, 2, 2), stride=(2, 2, 1), padding="SAME", layout="channels_last")
    if mode == "avg":
        out = numpool.avg_pool3d(conv3d_y, count_include_pad=False, **kwargs)
    else:
        out = numpool.max_pool3d(conv3d_y, **kwargs)
    assert out.shape == (1, 1, 2, 5, 3) and out.dtype == np.float32
    want = tf_pool(conv3d_y, (1, 2, 2), (2, 2, 1), "SAME", mode)
    assert want.shape == (1, 1, 2, 5, 3)
    np.testing.assert_allclose(out, want, rtol=1e-6)
    # had the strides been read as (2, 1, 1), H would stay 3
    assert numpool.max_pool3d(conv3d_y, (1, 2, 2), (2, 1, 1), "SAME", layout="channels_last").shape == (1, 1, 3, 5, 3)


# ---------------------------------------------------------------------------------------
# NumPy derivation (深度学习——Pooling Layer): forward, and backward with a mask


def tutorial_forward(A_prev, f, stride, mode):
    """a[nh, nw, c] = max or np.sum(slice) / (f * f) over slice = a_prev[nh*s:nh*s+f, nw*s:nw*s+f, c]."""
    m, H, W, C = A_prev.shape
    A = np.zeros((m, (H - f) // stride + 1, (W - f) // stride + 1, C), dtype=A_prev.dtype)
    for h in range(A.shape[1]):
        for w in range(A.shape[2]):
            window = A_prev[:, h * stride:h * stride + f, w * stride:w * stride + f, :]
            A[:, h, w, :] = window.max(axis=(1, 2)) if mode == "max" else window.sum(axis=(1, 2)) / (f * f)
    return A


def tutorial_backward(dA, A_prev, f, stride, mode):
    """max: mask = (slice == max) routes dA there; avg: every cell of the slice gets dA / (f*f)."""
    dA_prev = np.zeros_like(A_prev)
    for i in range(dA.shape[0]):
        for h in range(dA.shape[1]):
            for w in range(dA.shape[2]):
                for c in range(dA.shape[3]):
                    hs, ws = h * stride, w * stride
                    if mode == "max":
                        a_slice = A_prev[i, hs:hs + f, ws:ws + f, c]
                        mask = a_slice == np.max(a_slice)
                        dA_prev[i, hs:hs + f, ws:ws + f, c] += mask * dA[i, h, w, c]
                    else:
                        dA_prev[i, hs:hs + f, ws:ws + f, c] += np.ones((f, f)) * dA[i, h, w, c] / (f * f)
    return dA_prev


@pytest.mark.parametrize("f, stride", [(2, 2), (3, 1), (3, 2)])
@pytest.mark.parametrize("mode", ["max", "avg"])
def test_derivation_forward_backward(mode, f, stride):
    rng = np.random.default_rng(f * 10 + stride)
    # distinct values: the tutorial's mask then marks exactly one cell, the argmax
    A_prev = rng.permutation(2 * 7 * 7 * 3).reshape(2, 7, 7, 3).astype(np.float32) / 8
    kwargs = dict(kernel_size=f, stride=stride, layout="channels_last")
    pool = numpool.max_pool2d if mode == "max" else numpool.avg_pool2d
    A = pool(A_prev, **kwargs)
    np.testing.assert_allclose(A, tutorial_forward(A_prev, f, stride, mode), rtol=1e-6)
    dA = rng.integers(-8, 8, size=A.shape).astype(np.float32) / 4  # exact in float32
    backward = numpool.max_pool2d_backward if mode == "max" else numpool.avg_pool2d_backward
    got = backward(dA, A_prev, **kwargs)
    assert got.shape == A_prev.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, tutorial_backward(dA, A_prev, f, stride, mode), rtol=1e-6, atol=1e-7)
    if mode == "avg":  # nothing is lost: every cell of every window gets its share
        np.testing.assert_allclose(got.sum(), dA.sum(), rtol=1e-5)


def test_derivation_max_mask_with_ties_goes_to_the_first_max():
    """The tutorial's mask gives a tied gradient to every tied maximum; numpool (like PyTorch
    and TF) gives it to the first one in row-major order only."""
    A_prev = np.array([[7.0, 7.0], [1.0, 7.0]], dtype=np.float32)[None, :, :, None]
    dA = np.ones((1, 1, 1, 1), dtype=np.float32)
    tutorial = tutorial_backward(dA, A_prev, 2, 2, "max")
    assert tutorial.sum() == 3  # the mask counts every tie
    got = numpool.max_pool2d_backward(dA, A_prev, 2, layout="channels_last")
    assert_same(got[0, :, :, 0], np.array([[1.0, 0.0], [0.0, 0.0]], dtype=np.float32))
    xt = torch.from_numpy(A_prev).permute(0, 3, 1, 2).requires_grad_()
    F.max_pool2d(xt, 2).sum().backward()
    assert_same(got, xt.grad.permute(0, 2, 3, 1).numpy())


# ---------------------------------------------------------------------------------------
# max_pool_with_argmax in TensorFlow's format


def test_argmax_docstring_example():
    x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
    out, argmax = numpool.max_pool_with_argmax(x, 2, padding="VALID")
    assert_same(argmax[0, :, :, 0], np.array([[5, 7], [13, 15]], dtype=np.int64))
    assert_same(out[0, :, :, 0], np.array([[5, 7], [13, 15]], dtype=np.float32))


@pytest.mark.parametrize("memory", ["channels_last", "channels_first"])
@pytest.mark.parametrize("include_batch_in_index", [False, True])
@pytest.mark.parametrize(
    "ksize, strides, padding",
    [((2, 2), (2, 2), "VALID"), ((3, 2), (1, 2), "SAME"), ((3, 3), (2, 2), "SAME"), ((2, 3), (3, 1), "VALID")],
)
def test_argmax_format_and_ties(ksize, strides, padding, include_batch_in_index, memory):
    rng = np.random.default_rng(sum(ksize) * 7 + sum(strides))
    x = rng.integers(0, 3, size=(3, 7, 8, 5)).astype(np.float32)  # many ties
    if memory == "channels_first":  # NHWC view of NCHW memory: numpool's other kernel
        x = np.ascontiguousarray(x.transpose(0, 3, 1, 2)).transpose(0, 2, 3, 1)
    out, argmax = numpool.max_pool_with_argmax(x, ksize, strides, padding, include_batch_in_index)
    want_out, want_arg = tf_max_pool_with_argmax(x, ksize, strides, padding, include_batch_in_index)
    assert_same(out, want_out)
    assert_same(argmax, want_arg)
    c = np.arange(5)
    assert np.all(argmax % 5 == c)  # ... * C + c
    if include_batch_in_index:
        assert np.all(argmax // (7 * 8 * 5) == np.arange(3)[:, None, None, None])
    else:
        assert argmax.max() < 7 * 8 * 5


def test_argmax_unbatched_and_tf_style_windows():
    x = np.random.default_rng(5).standard_normal((6, 6, 2)).astype(np.float32)
    out, argmax = numpool.max_pool_with_argmax(x, [1, 2, 2, 1], [1, 1, 1, 1], "SAME")
    want_out, want_arg = tf_max_pool_with_argmax(x[None], (2, 2), (1, 1), "SAME")
    assert_same(out, want_out[0])
    assert_same(argmax, want_arg[0])
    out2, argmax2 = numpool.max_pool_with_argmax(x, 2, 1, "same")
    assert_same(out2, out)
    assert_same(argmax2, argmax)
    # include_batch_in_index on an unbatched input: batch 0 adds nothing
    assert_same(numpool.max_pool_with_argmax(x, 2, 1, "SAME", include_batch_in_index=True)[1], argmax)


@pytest.mark.parametrize("memory", ["channels_last", "channels_first"])
def test_argmax_nan_rule(memory):
    """NaN wins only as the window's first in-bounds tap; a later NaN is ignored."""
    nan = np.nan
    x = np.array([[[1.0, nan], [nan, 2.0]],     # window 0: NaN later -> 2.0 at (1, 1)
                  [[nan, 3.0], [1.0, 2.0]],     # window 1: NaN first -> NaN at (0, 0)
                  [[nan, nan], [nan, nan]],     # window 2: all NaN -> the first
                  [[-np.inf, 5.0], [5.0, nan]]],  # window 3: tie, first 5.0 at (0, 1)
                 dtype=np.float32)  # (4 windows, 2, 2)
    x = np.concatenate(list(x), axis=1)[None, :, :, None]  # (1, 2, 8, 1): windows side by side
    x = np.concatenate([x, -x], axis=3)  # a second channel
    if memory == "channels_first":
        x = np.ascontiguousarray(x.transpose(0, 3, 1, 2)).transpose(0, 2, 3, 1)
    out, argmax = numpool.max_pool_with_argmax(x, 2)
    want_out, want_arg = tf_max_pool_with_argmax(x, (2, 2), (2, 2), "VALID")
    assert_same(out, want_out)
    assert_same(argmax, want_arg)
    W, C = 8, 2
    assert_same(out[0, 0, :, 0], np.array([2.0, nan, nan, 5.0], dtype=np.float32))
    assert_same(argmax[0, 0, :, 0], np.array([(1 * W + 1) * C, (0 * W + 2) * C, (0 * W + 4) * C,
                                              (0 * W + 7) * C], dtype=np.int64))
    # the PyTorch-rule max_pool2d propagates every NaN instead
    assert np.isnan(numpool.max_pool2d(x, 2, layout="channels_last")[0, 0, 0, 0])


def test_argmax_same_padding_never_points_into_padding():
    x = -np.ones((2, 5, 5, 3), dtype=np.float32) * np.arange(1, 76).reshape(1, 5, 5, 3)  # all negative
    out, argmax = numpool.max_pool_with_argmax(x, 2, 2, "SAME", include_batch_in_index=True)
    assert out.shape == (2, 3, 3, 3)
    assert argmax.min() >= 0 and argmax.max() < x.size
    assert_same(x.ravel()[argmax], out)  # padding never wins, even over negative values


# ---------------------------------------------------------------------------------------
# relu and relu_backward against PyTorch


RELU_TORCH_DTYPES = [np.float16, np.float32, np.float64, np.int8, np.int16, np.int32, np.int64, np.uint8]


def relu_values(dtype):
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        info = np.finfo(dtype)
        special = [0.0, -0.0, np.nan, -np.nan, np.inf, -np.inf, info.tiny, -info.tiny, info.smallest_subnormal,
                   -info.smallest_subnormal, info.max, info.min, 1.0, -1.0]
        a = np.array(special, dtype=dtype)
        payload = np.array([np.nan], dtype=dtype).view(f"u{dtype.itemsize}") | 1  # a NaN with a payload
        a = np.concatenate([a, payload.view(dtype), -payload.view(dtype)])
        rand = np.random.default_rng(1).standard_normal(37).astype(dtype)
        return np.concatenate([a, rand])
    info = np.iinfo(dtype)
    return np.array([0, 1, -1 if info.min < 0 else 2, info.min, info.max, info.max - 1, info.min + 1, 17],
                    dtype=dtype)


def bits(a):
    a = np.asarray(a)
    return a.view(f"u{a.dtype.itemsize}") if a.dtype.kind == "f" else a


def _is_negative_zero(a):
    return (a == 0) & np.signbit(a) if a.dtype.kind == "f" else np.zeros(a.shape, bool)


@pytest.mark.parametrize("dtype", RELU_TORCH_DTYPES, ids=lambda d: np.dtype(d).name)
def test_relu_matches_torch_bitwise(dtype):
    x = relu_values(dtype).reshape(-1, 1)
    got = numpool.relu(x)
    assert got.dtype == x.dtype and got.shape == x.shape
    want = torch.relu(torch.from_numpy(x)).numpy()
    assert np.array_equal(bits(got), bits(want))  # NaN payloads and -0.0 included
    neg_zero = _is_negative_zero(x)
    assert np.signbit(got[neg_zero]).all()  # relu(-0.0) is -0.0, as in torch 2.13
    np.testing.assert_array_equal(x, relu_values(dtype).reshape(-1, 1))  # input untouched


@pytest.mark.parametrize("dtype", [np.uint16, np.uint32, np.uint64, np.bool_], ids=lambda d: np.dtype(d).name)
def test_relu_unsigned_and_bool_are_identity(dtype):
    x = np.array([0, 1, 1, 0, 1], dtype=dtype) * (np.iinfo(dtype).max if dtype != np.bool_ else True)
    got = numpool.relu(x)
    assert_same(got, x)
    assert not np.shares_memory(got, x)


@pytest.mark.parametrize("dtype", RELU_TORCH_DTYPES, ids=lambda d: np.dtype(d).name)
def test_relu_backward_matches_torch_bitwise(dtype):
    x = relu_values(dtype)
    n = x.size
    rng = np.random.default_rng(2)
    grads = [np.ones(n, dtype), rng.permutation(n).astype(dtype)]
    if np.dtype(dtype).kind == "f":
        g = rng.standard_normal(n).astype(dtype)
        g[::5] = np.nan
        g[1::7] = -0.0
        grads.append(g)
    for g in grads:
        got = numpool.relu_backward(g, x)
        assert got.dtype == x.dtype and got.shape == x.shape
        want = torch.ops.aten.threshold_backward(torch.from_numpy(g), torch.from_numpy(x), 0).numpy()
        xt = torch.from_numpy(x.astype(np.float64) if x.dtype.kind != "f" else x).requires_grad_()
        if x.dtype.kind == "f":
            torch.relu(xt).backward(torch.from_numpy(g))
            assert np.array_equal(bits(xt.grad.numpy()), bits(want))  # autograd uses threshold_backward
        assert np.array_equal(bits(got), bits(want))
        nan_x = np.isnan(x) if x.dtype.kind == "f" else np.zeros(n, bool)
        np.testing.assert_array_equal(got[nan_x], g[nan_x])  # a NaN input passes the gradient


def test_relu_backward_mixed_dtypes_follow_x():
    x = np.array([-1.0, 0.0, 2.0, 3.0], dtype=np.float32)
    g = np.array([1.5, 2.5, 3.5, 0.1], dtype=np.float64)
    got = numpool.relu_backward(g, x)
    assert_same(got, np.array([0.0, 0.0, 3.5, 0.1], dtype=np.float32))
    got = numpool.relu_backward(np.array([7, 8, 9, 10], dtype=np.int64), x)
    assert_same(got, np.array([0.0, 0.0, 9.0, 10.0], dtype=np.float32))


def test_relu_keeps_shape_and_accepts_lists():
    x = np.random.default_rng(4).standard_normal((2, 3, 4, 5))
    assert_same(numpool.relu(x), np.maximum(x, 0))
    assert_same(numpool.relu([[-1, 2], [3, -4]]), np.array([[0, 2], [3, 0]]))
    strided = x[:, ::2, ::-1]
    assert_same(numpool.relu(strided), np.maximum(strided, 0))


def test_argmax_window_wholly_in_padding_is_minus_one():
    # Windows at w = -3 and w = -1 hold no input cell: -inf and index -1, with or
    # without the batch term (never a plausible index into another batch item).
    x = np.arange(16.0).reshape(2, 2, 2, 2)
    for with_batch in (False, True):
        out, idx = numpool.max_pool_with_argmax(x, 1, 2, padding=((0, 0), (3, 0)), include_batch_in_index=with_batch)
        assert np.isneginf(out[:, :, :2]).all()
        assert (idx[:, :, :2] == -1).all()
        batch = np.arange(2)[:, None] * 8 if with_batch else 0  # H * W * C = 8
        np.testing.assert_array_equal(idx[:, 0, 2, :] - batch, np.array([[2, 3], [2, 3]]))
