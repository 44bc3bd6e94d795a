"""Every bad argument gets numpool's own exception, naming the argument and its value,
before any compiled kernel runs.

The Numba kernels are replaced by stubs for this whole module: a call that passes every
check reaches a stub, which raises :class:`KernelReached` (after checking that Numba could
type its arguments).  So an error test that reaches a kernel fails, no kernel compiles here,
and the random-garbage test can tell "accepted" from "leaked an exception".
"""

import re
import sys

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import numpool
from numpool import DTypeError, NumpoolError, ParameterError
from numpool import _params

# ---------------------------------------------------------------------------------------
# kernel stubs


class KernelReached(Exception):
    """A call passed every check and would now run a compiled kernel."""


_NUMBA_DTYPES = {np.dtype(t) for t in (np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32,
                                       np.uint64, np.float32, np.float64)}


def _kernel_stub(name):
    def stub(*args):
        for i, a in enumerate(args):  # what Numba's dispatcher would refuse to type
            if isinstance(a, tuple) and hasattr(a, "_fields"):  # a named tuple of geometry (numpool._plan)
                stub(*a)
            elif isinstance(a, np.ndarray):
                assert a.dtype in _NUMBA_DTYPES, f"{name} argument {i} has dtype {a.dtype}"
            elif isinstance(a, (bool, np.bool_, float, np.floating, np.integer)):
                pass
            elif isinstance(a, int):
                assert -2**63 <= a < 2**63, f"{name} argument {i} = {a} does not fit in int64"
            else:
                raise AssertionError(f"{name} argument {i} has type {type(a).__name__}")
        raise KernelReached(name)

    return stub


@pytest.fixture(scope="module", autouse=True)
def no_kernels():
    with pytest.MonkeyPatch.context() as mp:
        for modname, module in list(sys.modules.items()):
            if modname.startswith("numpool.") and module is not None:
                for attr, value in vars(module).copy().items():
                    if isinstance(value, numba.core.dispatcher.Dispatcher):
                        mp.setattr(module, attr, _kernel_stub(f"{modname}.{attr}"))
        yield


def _raises(exc, *fragments):
    """``pytest.raises`` whose message must contain every fragment (literal text)."""
    return pytest.raises(exc, match="(?s)" + "".join(f"(?=.*{re.escape(f)})" for f in fragments))


# ---------------------------------------------------------------------------------------
# a good call for every function, to spoil one argument at a time

POOLS = [f"{kind}_pool{nd}d{sfx}" for kind in ("max", "avg", "min") for nd in (1, 2, 3) for sfx in ("", "_backward")]
FORWARDS = [name for name in POOLS if not name.endswith("_backward")]
BACKWARDS = [name for name in POOLS if name.endswith("_backward")]
ALL_POOLS = POOLS + ["max_pool_with_argmax"]


def _nd(name):
    return 2 if name == "max_pool_with_argmax" else int(name.split("_pool")[1][0])


def good_x(name, dtype=np.float64, layout="channels_first"):
    """A batched 5-per-side input with 2 channels."""
    nd = _nd(name)
    if name == "max_pool_with_argmax" or layout == "channels_last":
        return np.zeros((1,) + (5,) * nd + (2,), dtype)
    return np.zeros((1, 2) + (5,) * nd, dtype)


def good_grad(name, layout="channels_first", dtype=np.float64):
    """The output gradient of ``good_x`` with kernel_size=2 (5 -> 2 per side)."""
    nd = _nd(name)
    if layout == "channels_last":
        return np.zeros((1,) + (2,) * nd + (2,), dtype)
    return np.zeros((1, 2) + (2,) * nd, dtype)


_GOOD = object()


def call(name, x=_GOOD, kernel_size=2, grad=None, **kwargs):
    """``name`` on a good input (or ``x``) with kernel_size=2 and a fitting output gradient."""
    fn = getattr(numpool, name)
    x = good_x(name, layout=kwargs.get("layout", "channels_first")) if x is _GOOD else x
    if name.endswith("_backward"):
        grad = good_grad(name, kwargs.get("layout", "channels_first")) if grad is None else grad
        return fn(grad, x, kernel_size, **kwargs)
    return fn(x, kernel_size, **kwargs)


@pytest.mark.parametrize("name", ALL_POOLS)
def test_good_call_reaches_the_kernel(name):
    """The baseline every test below spoils: with the defaults, the stubs are reached."""
    with pytest.raises(KernelReached):
        call(name)


# ---------------------------------------------------------------------------------------
# the input array


@pytest.mark.parametrize("name", ALL_POOLS)
@pytest.mark.parametrize("extra", [-2, +1])
def test_wrong_rank(name, extra):
    nd = _nd(name)
    shape = (2,) * (nd + 2 + extra) if extra > 0 else (5,) * (nd + 2 + extra)
    with _raises(ParameterError, f"{nd + 2}-D batched input", f"{nd + 1}-D unbatched", f"shape {shape}"):
        call(name, np.zeros(shape))


@pytest.mark.parametrize("name", ["max_pool2d", "avg_pool1d", "max_pool3d_backward"])
def test_scalar_input(name):
    with _raises(ParameterError, "got an array of shape ()"):
        call(name, np.float64(3.0))


@pytest.mark.parametrize("name", ALL_POOLS)
def test_zero_size_spatial_dim(name):
    x = good_x(name)
    shape = list(x.shape)
    shape[-2] = 0  # a spatial axis in both layouts (for 1-D channels-first it is C: use -1)
    if _nd(name) == 1:
        shape[-1], shape[-2] = 0, 2
    x = np.zeros(shape)
    with _raises(ParameterError, "spatial dimension >= 1", f"shape {tuple(shape)}"):
        call(name, x)


BAD_DTYPES = [np.complex64, np.complex128, object, "U3", "S3", "datetime64[s]", "timedelta64[ms]",
              [("a", np.float32), ("b", np.int8)]]
if np.dtype(np.longdouble).itemsize not in (2, 4, 8):
    BAD_DTYPES.append(np.longdouble)


@pytest.mark.parametrize("dtype", BAD_DTYPES, ids=lambda d: str(np.dtype(d)))
@pytest.mark.parametrize("name", ALL_POOLS + ["relu", "relu_backward"])
def test_unsupported_dtypes(name, dtype):
    dtype = np.dtype(dtype)
    if name.startswith("relu"):
        x = np.zeros((2, 3), dtype)
        fn = getattr(numpool, name)
        with _raises(DTypeError, f"dtype {dtype}", "`x`"):
            fn(np.zeros((2, 3)), x) if name == "relu_backward" else fn(x)
        return
    with _raises(DTypeError, f"dtype {dtype}", "`x`", name.replace("_backward", "")):
        call(name, good_x(name, dtype))


@pytest.mark.parametrize("dtype", [np.bool_, np.int8, np.uint8, np.int32, np.int64, np.uint64])
@pytest.mark.parametrize("name", [n for n in POOLS if n.startswith("avg")])
def test_avg_pool_rejects_integers_and_bool(name, dtype):
    with _raises(DTypeError, f"dtype {np.dtype(dtype)}", "`x`", "float"):
        call(name, good_x(name, dtype))


@pytest.mark.parametrize("name", ["max_pool1d_backward", "max_pool2d_backward", "max_pool3d_backward"])
def test_max_backward_rejects_bool(name):
    with _raises(DTypeError, "dtype bool", "`x`"):
        call(name, good_x(name, np.bool_))


@pytest.mark.parametrize("x", [None, "abc", [[1.0, 2.0], [3.0]], {"a": 1}], ids=["None", "str", "ragged", "dict"])
@pytest.mark.parametrize("name", ["max_pool2d", "avg_pool2d_backward", "max_pool_with_argmax", "relu"])
def test_non_arrays(name, x):
    with pytest.raises(DTypeError, match="`x`"):
        numpool.relu(x) if name == "relu" else call(name, x)


@pytest.mark.parametrize("name", ["max_pool2d", "relu"])
def test_float16_bool_and_ints_are_accepted(name):
    for dtype in (np.float16, np.bool_, np.uint8, np.int64):
        if name == "relu":
            assert numpool.relu(np.zeros(3, dtype)).dtype == dtype
        else:
            with pytest.raises(KernelReached):
                call(name, good_x(name, dtype))


# ---------------------------------------------------------------------------------------
# kernel_size, stride, dilation


BAD_WINDOW = [0, -1, (2, 0), (0,), 2.5, np.float64(2.0), "2", True, np.True_, (2, True), [2, None], (2.0, 2),
              None, [], object()]


@pytest.mark.parametrize("value", BAD_WINDOW, ids=repr)
@pytest.mark.parametrize("arg", ["kernel_size", "stride", "dilation"])
@pytest.mark.parametrize("name", ALL_POOLS)
def test_bad_window_values(name, arg, value):
    if name == "max_pool_with_argmax" and arg == "dilation":
        pytest.skip("max_pool_with_argmax has no dilation")
    if arg == "stride" and (value is None or (isinstance(value, list) and not value)):
        pytest.skip("stride=None (and PyTorch's other spelling, stride=[]) means stride=kernel_size")
    if name == "max_pool_with_argmax" and not isinstance(value, (int, np.integer, str, tuple, list, type(None))):
        pytest.skip("see test_argmax_scalar_window_of_wrong_type")
    kwargs = {"kernel_size": value} if arg == "kernel_size" else {arg: value}
    shown = repr(value)  # the value exactly as the caller passed it
    with _raises(ParameterError, f"`{arg}`", f"{arg}={shown}"):
        call(name, **kwargs)


@pytest.mark.parametrize("name", ALL_POOLS)
def test_empty_stride_is_the_default(name):
    """PyTorch's ATen signatures default ``stride`` to ``[]``: ``()`` and ``[]`` mean ``kernel_size``."""
    if name == "max_pool_with_argmax":
        pytest.skip("TensorFlow's strides have no empty default")
    for empty in ((), []):
        with pytest.raises(KernelReached):
            call(name, stride=empty)


@pytest.mark.parametrize("name", ALL_POOLS)
def test_wrong_length_tuples(name):
    nd = _nd(name)
    for arg in ("kernel_size", "stride", "dilation", "padding"):
        if name == "max_pool_with_argmax" and arg in ("dilation",):
            continue
        for length in {0, nd + 1, 2 if nd != 2 else 3} - {1, nd, 4 if name == "max_pool_with_argmax" else -1}:
            if arg == "stride" and length == 0 and name != "max_pool_with_argmax":
                continue  # PyTorch's spelling of the default (test_empty_stride_is_the_default)
            value = (1,) * length
            kwargs = {"kernel_size": value} if arg == "kernel_size" else {arg: value}
            what = "entries" if arg == "padding" else "values"
            with _raises(ParameterError, f"`{arg}` must have 1 or {nd} {what}", f"{arg}={value!r}"):
                call(name, **kwargs)


@pytest.mark.parametrize("name", ["max_pool2d", "avg_pool3d_backward", "max_pool_with_argmax"])
@pytest.mark.parametrize("arg, value", [("stride", 2**64), ("kernel_size", (1, 2**63)), ("padding", 2**64)])
def test_out_of_int64_values(name, arg, value):
    """Values that Python accepts but int64 tables cannot hold must not leak OverflowError."""
    kwargs = {"kernel_size": 1} if arg == "padding" else {}
    kwargs[arg] = value
    with _raises(ParameterError, f"{arg}="):
        call(name, **kwargs)


def test_huge_dilation_with_unit_kernel():
    with _raises(ParameterError, "`dilation`", f"dilation={2**64}"):
        call("max_pool1d", kernel_size=1, dilation=2**64)


# ---------------------------------------------------------------------------------------
# padding and layout


BAD_PADDING = [-1, (1, -1), ((0, -1), (0, 0)), "full", "", "same_upper", "causal", 1.5, None, (1.0, 1),
               ((0, 1, 2), (0, 0)), (("a", 1), (0, 0)), {"lo": 1}]


@pytest.mark.parametrize("value", BAD_PADDING, ids=repr)
@pytest.mark.parametrize("name", ALL_POOLS)
def test_bad_padding(name, value):
    with _raises(ParameterError, "`padding`", f"padding={value!r}"):
        call(name, padding=value)


@pytest.mark.parametrize("value", ["nchwc", "", "channels", "CF", 1, None, ("channels_first",)], ids=repr)
@pytest.mark.parametrize("name", POOLS)
def test_bad_layout(name, value):
    with _raises(ParameterError, "`layout`", f"layout={value!r}"):
        call(name, layout=value)


def test_max_pool_with_argmax_has_no_layout_argument():
    with pytest.raises(TypeError):
        numpool.max_pool_with_argmax(good_x("max_pool_with_argmax"), 2, layout="channels_first")


# ---------------------------------------------------------------------------------------
# output size


@pytest.mark.parametrize("name", ALL_POOLS)
def test_output_size_below_one(name):
    with _raises(ParameterError, "output size would be", "(< 1)", "kernel_size=(6", "shape (1,"):
        call(name, kernel_size=6)
    if name != "max_pool_with_argmax":
        with _raises(ParameterError, "output size would be", "dilation=(3"):
            call(name, kernel_size=3, dilation=3)


# ---------------------------------------------------------------------------------------
# flags


BAD_FLAGS = [1, 0, "True", "false", None, 1.0, np.int64(1), [True]]


@pytest.mark.parametrize("value", BAD_FLAGS, ids=repr)
@pytest.mark.parametrize("name, flag", [(n, "ceil_mode") for n in POOLS]
                         + [(n, "return_indices") for n in POOLS if n.startswith("max")]
                         + [(n, "count_include_pad") for n in POOLS if n.startswith("avg")]
                         + [("max_pool_with_argmax", "include_batch_in_index")])
def test_bad_flag_types(name, flag, value):
    with _raises(ParameterError, f"`{flag}` must be True or False", f"{flag}={value!r}"):
        call(name, **{flag: value})


@pytest.mark.parametrize("name", ["max_pool2d", "avg_pool1d_backward"])
def test_numpy_bools_are_flags(name):
    flag = "return_indices" if name.startswith("max") else "count_include_pad"
    with pytest.raises(KernelReached):
        call(name, ceil_mode=np.False_, **{flag: np.True_})


@pytest.mark.parametrize("value", [0, -1, 2.0, True, False, "2", np.float32(2), [2], np.int64(0)], ids=repr)
@pytest.mark.parametrize("name", [n for n in POOLS if n.startswith("avg")])
def test_bad_divisor_override(name, value):
    with _raises(ParameterError, "`divisor_override` must be None or an int >= 1",
                 f"divisor_override={value!r}"):
        call(name, divisor_override=value)


@pytest.mark.parametrize("name", ["avg_pool2d", "avg_pool3d_backward"])
def test_divisor_override_beyond_int64(name):
    """Numba cannot type a Python int this large: numpool must refuse it first."""
    with _raises(ParameterError, "`divisor_override`", f"divisor_override={2**70}"):
        call(name, divisor_override=2**70)


@pytest.mark.parametrize("name", ["avg_pool2d", "avg_pool1d_backward"])
def test_good_divisor_overrides(name):
    for value in (1, 7, np.int32(3), np.uint8(9)):
        with pytest.raises(KernelReached):
            call(name, divisor_override=value)


# ---------------------------------------------------------------------------------------
# grad_output and indices


@pytest.mark.parametrize("layout", ["channels_first", "channels_last"])
@pytest.mark.parametrize("name", BACKWARDS)
def test_grad_output_wrong_shape(name, layout):
    good = good_grad(name, layout)
    for shape in (good.shape[:-1] + (3,), good.shape[1:], good.shape + (1,), (0,)):
        with _raises(ParameterError, "`grad_output` must have shape", f"{good.shape}", f"got {shape}"):
            call(name, grad=np.zeros(shape), layout=layout)


@pytest.mark.parametrize("dtype", [np.complex128, object, np.bool_, "U1"], ids=str)
@pytest.mark.parametrize("name", BACKWARDS + ["relu_backward"])
def test_grad_output_wrong_dtype(name, dtype):
    if name == "relu_backward":
        with _raises(DTypeError, "`grad_output`", f"dtype {np.dtype(dtype)}"):
            numpool.relu_backward(np.zeros((2, 3), dtype), np.zeros((2, 3)))
        return
    with _raises(DTypeError, "`grad_output`", f"dtype {np.dtype(dtype)}"):
        call(name, grad=good_grad(name).astype(dtype))


def test_relu_backward_shape_mismatch():
    with _raises(ParameterError, "`grad_output` must have shape (2, 3)", "got (3, 2)"):
        numpool.relu_backward(np.zeros((3, 2)), np.zeros((2, 3)))
    with _raises(ParameterError, "`grad_output` must have shape (2, 3)", "got (2, 3, 1)"):
        numpool.relu_backward(np.zeros((2, 3, 1)), np.zeros((2, 3)))


MAX_BACKWARDS = [n for n in BACKWARDS if n.startswith("max")]


@pytest.mark.parametrize("layout", ["channels_first", "channels_last"])
@pytest.mark.parametrize("name", MAX_BACKWARDS)
def test_indices_checks(name, layout):
    good = good_grad(name, layout)
    cells = 5 ** _nd(name)

    def run(indices):
        return call(name, layout=layout, indices=indices)

    with pytest.raises(KernelReached):  # the baseline: in range, -1 allowed
        run(np.full(good.shape, -1, dtype=np.int32))
    with pytest.raises(KernelReached):
        run(np.full(good.shape, cells - 1, dtype=np.uint16))
    with _raises(ParameterError, "`indices` must have shape", f"{good.shape}", f"got {good.shape[1:]}"):
        run(np.zeros(good.shape[1:], dtype=np.int64))
    for dtype in (np.float64, np.float32, np.bool_, np.complex64, object):
        with _raises(DTypeError, "`indices` must be an integer array", f"dtype {np.dtype(dtype)}"):
            run(np.zeros(good.shape, dtype=dtype))
    for bad in (cells, -2, 2**40):
        idx = np.zeros(good.shape, dtype=np.int64)
        idx.flat[-1] = bad
        with _raises(ParameterError, "`indices` must lie in", f"[0, {cells})", f"to {max(bad, 0)}"
                     if bad > 0 else f"from {bad}"):
            run(idx)
    big = np.zeros(good.shape, dtype=np.uint64)
    big.flat[0] = 2**63 + 5
    with _raises(ParameterError, "`indices` must lie in", str(2**63 + 5)):
        run(big)


@pytest.mark.parametrize("indices", [[[[[0, 1], [2]]]], "abc", None], ids=["ragged", "str", "None"])
def test_indices_not_an_integer_array(indices):
    if indices is None:
        with pytest.raises(KernelReached):  # None means: recompute the argmax
            call("max_pool2d_backward", indices=None)
        return
    with pytest.raises((ParameterError, DTypeError), match="`indices`"):
        call("max_pool2d_backward", indices=indices)


# ---------------------------------------------------------------------------------------
# max_pool_with_argmax's TF-style windows


@pytest.mark.parametrize("arg", ["kernel_size", "stride"])
@pytest.mark.parametrize("value", [(2, 2, 2, 1), (1, 2, 2, 2), (0, 2, 2, 1), (1, 2, 2, 0), [3, 1, 1, 1]], ids=repr)
def test_argmax_four_element_window_must_not_pool_batch_or_channels(arg, value):
    with _raises(ParameterError, f"4-element `{arg}` must be (1, h, w, 1)", f"{arg}={value!r}"):
        call("max_pool_with_argmax", **{arg: value})


@pytest.mark.parametrize("arg", ["kernel_size", "stride"])
@pytest.mark.parametrize("value", [(1, 0, 2, 1), (1, 2, 2.0, 1), (1, -1, 1, 1)], ids=repr)
def test_argmax_four_element_window_inner_values(arg, value):
    with _raises(ParameterError, f"`{arg}`", f"{arg}={value[1:3]!r}"):
        call("max_pool_with_argmax", **{arg: value})


@pytest.mark.parametrize("arg", ["kernel_size", "stride"])
@pytest.mark.parametrize("value", [2.5, np.float32(2), 1j], ids=repr)
def test_argmax_scalar_window_of_wrong_type(arg, value):
    """A non-int scalar must get ParameterError naming it, not a bare 'not iterable' TypeError."""
    with _raises(ParameterError, f"`{arg}`", f"{arg}={value!r}"):
        call("max_pool_with_argmax", **{arg: value})


def test_argmax_good_window_spellings():
    for ksize in (2, (2, 2), [1, 2, 2, 1], np.array([1, 2, 2, 1])):
        with pytest.raises(KernelReached):
            call("max_pool_with_argmax", kernel_size=ksize, stride=(1, 1, 1, 1))


# ---------------------------------------------------------------------------------------
# the spec cache must not turn an invalid value into a cached valid one


@pytest.mark.parametrize("arg, good, bad", [("kernel_size", 1, True), ("kernel_size", 2, 2.0),
                                            ("dilation", 1, True), ("padding", 0, False), ("stride", 2, 2.0)])
def test_cache_conflation_reaches_the_public_api(arg, good, bad):
    x = good_x("max_pool2d")
    kwargs = {"kernel_size": 2}
    with pytest.raises(KernelReached):
        numpool.max_pool2d(x, **{**kwargs, arg: good})
    with _raises(ParameterError, f"`{arg}`", f"{arg}={bad!r}"):
        numpool.max_pool2d(x, **{**kwargs, arg: bad})


# ---------------------------------------------------------------------------------------
# random garbage: only numpool's exceptions (or a reached kernel) may come out


def _ints(lo=-2, hi=6):
    return st.integers(lo, hi)


_huge = st.sampled_from([2**63 - 1, 2**63, 2**64 + 1, -(2**63) - 1])
_scalar_garbage = st.one_of(
    _ints(), st.booleans(), st.none(), st.floats(-3, 7) | st.just(float("nan")), st.text(max_size=3), _huge,
    st.just(np.int64(2)), st.just(np.float32(1.5)), st.just(object()), st.just(1j),
)
_window_garbage = st.one_of(
    _scalar_garbage,
    st.lists(st.one_of(_ints(), st.booleans(), st.floats(0, 4), st.none(), st.text(max_size=1)), max_size=5)
    .map(tuple),
    st.lists(_ints(0, 4), max_size=4).map(lambda v: np.array(v, dtype=np.int64)),
)
_padding_garbage = st.one_of(
    _window_garbage,
    st.sampled_from(["full", "Same", "", "same_upper"]),
    st.lists(st.tuples(_ints(-1, 3), _ints(-1, 3)), max_size=4).map(tuple),
    st.lists(st.lists(st.one_of(_ints(-1, 3), st.floats(0, 2)), max_size=3), max_size=3),
)
_flag_garbage = st.one_of(_ints(0, 1), st.none(), st.text(max_size=2), st.just(np.int64(1)))
_bad_dtypes = st.sampled_from([np.complex64, object, "U1", "M8[s]", "m8[s]", np.bool_, np.int16])
_bad_shapes = st.lists(_ints(0, 4), max_size=6).map(tuple)


def _forward_shape(name, x, kwargs):
    """The forward output's shape for a call that passes the checks, else None."""
    try:
        cl = _params.normalize_layout(kwargs.get("layout", "channels_first"), name) == "channels_last"
        nd = _nd(name)
        first = x.ndim - nd - (1 if cl else 0)
        spec = _params.pool_spec(name, x.shape[first:first + nd], kwargs["kernel_size"], kwargs.get("stride"),
                                 kwargs.get("padding", 0), kwargs.get("dilation", 1), kwargs.get("ceil_mode", False))
    except Exception:
        return None
    return x.shape[:first] + spec.out_spatial + x.shape[first + nd:]


@st.composite
def garbage_calls(draw):
    """A call whose every argument is usually good and sometimes garbage."""
    def pick(good, bad):
        return draw(bad if draw(st.booleans()) and draw(st.booleans()) else good)

    name = draw(st.sampled_from(ALL_POOLS + ["relu", "relu_backward"]))
    nd = 2 if name.startswith("relu") else _nd(name)
    good_dtypes = [np.float32, np.float64]
    if name.startswith("max"):
        good_dtypes += [np.uint8, np.int64] + ([] if name.endswith("_backward") else [np.bool_])
    shape = pick(st.integers(nd + 1, nd + 2).flatmap(lambda r: st.tuples(*[st.integers(1, 5)] * r)), _bad_shapes)
    x = np.zeros(shape, dtype=pick(st.sampled_from(good_dtypes), _bad_dtypes))
    if name.startswith("relu"):
        grad = np.zeros(pick(st.just(shape), _bad_shapes), dtype=pick(st.just(np.float64), _bad_dtypes))
        return name, (x,) if name == "relu" else (grad, x), {}
    window = st.integers(1, 3) | st.tuples(*[st.integers(1, 3)] * nd)
    args = {
        "kernel_size": pick(window, _window_garbage),
        "stride": pick(st.none() | window, _window_garbage),
        "padding": pick(st.sampled_from([0, 1, "valid", "same", "SAME_LOWER", ((0, 1),) * nd]), _padding_garbage),
        "dilation": pick(window, _window_garbage),
        "ceil_mode": pick(st.booleans(), _flag_garbage),
        "layout": pick(st.sampled_from(["channels_first", "channels_last", "NHWC"]),
                       st.sampled_from(["bad", 3, None])),
        "return_indices": pick(st.booleans(), _flag_garbage),
        "count_include_pad": pick(st.booleans(), _flag_garbage),
        "divisor_override": pick(st.none() | st.integers(1, 5), _scalar_garbage),
        "include_batch_in_index": pick(st.booleans(), _flag_garbage),
    }
    if name == "max_pool_with_argmax":
        names = ("kernel_size", "stride", "padding", "include_batch_in_index")
    else:
        names = ("kernel_size", "stride", "padding", "dilation", "ceil_mode", "layout") + (
            ("return_indices",) if name.startswith(("max", "min")) else ("count_include_pad", "divisor_override"))
    kwargs = {k: args[k] for k in names if k == "kernel_size" or draw(st.booleans())}
    if not name.endswith("_backward"):
        return name, (x,), kwargs
    # the output gradient: usually the forward output's shape
    grad_shape = _forward_shape(name, x, kwargs)
    grad = np.zeros(pick(st.just(grad_shape) if grad_shape else _bad_shapes, _bad_shapes),
                    dtype=pick(st.sampled_from([np.float32, np.float64]), _bad_dtypes))
    if name.startswith(("max", "min")) and draw(st.booleans()):
        kwargs["indices"] = pick(st.just(np.zeros(grad.shape, dtype=np.int64)),
                                 st.lists(_ints(-3, 30), max_size=8).map(lambda v: np.array(v, dtype=np.int64))
                                 .flatmap(lambda a: st.sampled_from([a, a.astype(np.float64), a.astype(np.uint8)])))
    return name, (grad, x), kwargs


@settings(max_examples=max(300, settings.default.max_examples))  # ~2 ms an example: no kernel runs
@given(garbage_calls())
def test_garbage_gets_only_numpool_errors(case):
    name, args, kwargs = case
    try:
        getattr(numpool, name)(*args, **kwargs)
    except (ParameterError, DTypeError, KernelReached):
        pass  # anything else (IndexError, OverflowError, a Numba error, ...) fails the test


@pytest.mark.parametrize("exc", [ParameterError, DTypeError])
def test_exception_hierarchy(exc):
    assert issubclass(exc, NumpoolError)
    assert issubclass(ParameterError, ValueError) and issubclass(DTypeError, TypeError)
    assert numpool.ParameterError is ParameterError and numpool.DTypeError is DTypeError


def test_integer_backward_refuses_a_float_gradient_it_would_truncate():
    x = np.arange(16, dtype=np.int32).reshape(1, 1, 4, 4)
    with _raises(DTypeError, "`grad_output`", "float64", "int32", "max_pool2d_backward"):
        numpool.max_pool2d_backward(np.full((1, 1, 2, 2), 0.5), x, 2)


def test_backward_errors_name_the_backward_function():
    with _raises(ParameterError, "`kernel_size`", "max_pool2d_backward"):
        numpool.max_pool2d_backward(np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 4, 4)), 0)
    with _raises(ParameterError, "`kernel_size`", "avg_pool1d_backward"):
        numpool.avg_pool1d_backward(np.zeros((1, 1, 2)), np.zeros((1, 1, 4)), 0)
