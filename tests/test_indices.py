"""Index formats: numpool's (PyTorch's) per-plane indices converted to ONNX's and TensorFlow's."""

import numpy as np
import onnx
import pytest
from onnx import helper
from onnx.reference import ReferenceEvaluator

import numpool
from numpool import ParameterError


def _onnx_maxpool(x, kernel, strides, pads, storage_order):
    node = helper.make_node("MaxPool", ["X"], ["Y", "I"], kernel_shape=kernel, strides=strides, pads=pads,
                            storage_order=storage_order)
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("X", onnx.TensorProto.FLOAT, x.shape)],
        [helper.make_tensor_value_info("Y", onnx.TensorProto.FLOAT, None),
         helper.make_tensor_value_info("I", onnx.TensorProto.INT64, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)])
    return ReferenceEvaluator(model).run(None, {"X": x})


@pytest.mark.parametrize("storage_order", [0, 1])
@pytest.mark.parametrize("shape, kernel, strides, pads", [
    ((2, 3, 6, 7), [2, 2], [2, 2], [0, 0, 0, 0]),
    ((1, 2, 5, 5), [3, 2], [1, 2], [1, 0, 1, 1]),
    ((2, 2, 4, 5, 3), [2, 2, 2], [1, 2, 1], [0, 0, 0, 1, 1, 1]),
])
def test_onnx_indices_match_the_onnx_reference(shape, kernel, strides, pads, storage_order):
    rng = np.random.default_rng(0)
    x = rng.permutation(np.arange(np.prod(shape))).reshape(shape).astype(np.float32)  # no ties
    nd = len(kernel)
    want_y, want_i = _onnx_maxpool(x, kernel, strides, pads, storage_order)
    padding = tuple((pads[a], pads[a + nd]) for a in range(nd))
    out, idx = getattr(numpool, f"max_pool{nd}d")(x, kernel, strides, padding, return_indices=True)
    np.testing.assert_array_equal(out, want_y)
    np.testing.assert_array_equal(numpool.convert_indices(idx, x.shape, "onnx", storage_order=storage_order), want_i)
    xl = np.ascontiguousarray(np.moveaxis(x, 1, -1))
    _, idx_l = getattr(numpool, f"max_pool{nd}d")(xl, kernel, strides, padding, return_indices=True,
                                                  layout="channels_last")
    got = numpool.convert_indices(idx_l, xl.shape, "onnx", layout="channels_last", storage_order=storage_order)
    np.testing.assert_array_equal(np.moveaxis(got, -1, 1), want_i)


@pytest.mark.parametrize("with_batch", [False, True])
def test_tensorflow_indices_match_max_pool_with_argmax(with_batch):
    x = np.random.default_rng(1).standard_normal((2, 7, 6, 3)).astype(np.float32)
    _, want = numpool.max_pool_with_argmax(x, 3, 2, "same", include_batch_in_index=with_batch)
    _, idx = numpool.max_pool2d(x, 3, 2, "same", return_indices=True, layout="channels_last")
    got = numpool.convert_indices(idx, x.shape, "tensorflow", layout="channels_last",
                                  include_batch_in_index=with_batch)
    np.testing.assert_array_equal(got, want)


def test_minus_one_stays_and_pytorch_is_a_copy():
    x = np.zeros((1, 1, 1, 3))
    _, idx = numpool.max_pool2d(x, 1, stride=2, padding=((0, 0), (3, 0)), return_indices=True)
    assert (idx[..., :2] == -1).all()
    for to in ("onnx", "tensorflow"):
        assert (numpool.convert_indices(idx, x.shape, to)[..., :2] == -1).all()
    same = numpool.convert_indices(idx, x.shape, "pytorch")
    np.testing.assert_array_equal(same, idx)
    assert not np.shares_memory(same, idx)


@pytest.mark.parametrize("kwargs, match", [
    (dict(to="caffe"), "`to`"),
    (dict(to="onnx", storage_order=2), "`storage_order`"),
    (dict(to="onnx", input_shape=(4, 4)), "`input_shape`"),
])
def test_errors(kwargs, match):
    idx = np.zeros((1, 1, 2, 2), np.int64)
    args = dict(input_shape=(1, 1, 4, 4))
    args.update(kwargs)
    with pytest.raises(ParameterError, match=match):
        numpool.convert_indices(idx, **args)
    with pytest.raises(ParameterError, match=r"\[-1, 16\)"):
        numpool.convert_indices(np.full((1, 1, 2, 2), 16), (1, 1, 4, 4), "onnx")
