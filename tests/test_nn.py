"""numpool.nn: the loss, the optimisers and Sequential, checked against PyTorch and by finite differences.

Until a test needs real convolutions it uses the two stand-in layers below, written to the
layer protocol that :class:`numpool.nn.Sequential` relies on (and nothing more).
"""

import io
import itertools
import re
import sys
import types

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import central_difference

from numpool import ParameterError
from numpool.nn import SGD, Adam, History, Sequential, lenet5, softmax_cross_entropy
from numpool.nn import model as model_module

# ---------------------------------------------------------------------------------------
# stand-in layers following the protocol


class StandInDense:
    """y = x @ kernel + bias, Glorot-uniform kernel from its own seed."""

    _count = itertools.count()

    def __init__(self, units, seed=0, dtype=np.float64, name=None):
        self.units, self.seed, self.dtype = units, seed, dtype
        self.name = name or f"stand_in_dense_{next(self._count)}"
        self.params, self.grads, self.built = {}, {}, False

    def build(self, input_shape):
        fan_in = input_shape[-1]
        limit = np.sqrt(6 / (fan_in + self.units))
        rng = np.random.default_rng(self.seed)
        self.params = {
            "kernel": rng.uniform(-limit, limit, (fan_in, self.units)).astype(self.dtype),
            "bias": np.zeros(self.units, self.dtype),
        }
        self.built = True

    def forward(self, x, training=False):
        if not self.built:
            self.build(x.shape)
        self._x = x
        return x @ self.params["kernel"] + self.params["bias"]

    __call__ = forward

    def backward(self, grad_output):
        self.grads = {"kernel": self._x.T @ grad_output, "bias": grad_output.sum(axis=0)}
        return grad_output @ self.params["kernel"].T

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def count_params(self):
        return sum(p.size for p in self.params.values())

    def get_config(self):
        return {"units": self.units, "seed": self.seed, "name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class StandInReLU:
    _count = itertools.count()

    def __init__(self, name=None):
        self.name = name or f"stand_in_relu_{next(self._count)}"
        self.params, self.grads = {}, {}

    def build(self, input_shape):
        pass

    def forward(self, x, training=False):
        self._mask = x > 0
        return np.where(self._mask, x, 0)

    __call__ = forward

    def backward(self, grad_output):
        return np.where(self._mask, grad_output, 0)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def count_params(self):
        return 0

    def get_config(self):
        return {"name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def mlp(seed=0, hidden=8, classes=3, dtype=np.float64):
    return Sequential([
        StandInDense(hidden, seed=seed, dtype=dtype, name="hidden"),
        StandInReLU(name="relu"),
        StandInDense(classes, seed=seed + 1, dtype=dtype, name="logits"),
    ], name="mlp")


def blobs(count=96, features=4, classes=3, seed=0):
    """Three well separated Gaussian blobs: an easy problem that a small MLP learns in a few epochs."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, (classes, features))
    y = rng.integers(0, classes, count)
    x = centres[y] + rng.normal(0, 1, (count, features))
    return x.astype(np.float64), y


# ---------------------------------------------------------------------------------------
# softmax cross-entropy


def test_softmax_cross_entropy_hand_case():
    loss, grad = softmax_cross_entropy(np.array([[0.0, 0.0]]), np.array([1]))
    assert loss == pytest.approx(np.log(2))
    np.testing.assert_array_equal(grad, [[0.5, -0.5]])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batch, classes, scale", [(1, 2, 1.0), (7, 10, 3.0), (32, 5, 100.0), (4, 3, 1e4)])
def test_softmax_cross_entropy_matches_torch(dtype, batch, classes, scale):
    rng = np.random.default_rng(batch * classes)
    logits = (rng.normal(size=(batch, classes)) * scale).astype(dtype)
    labels = rng.integers(0, classes, batch)
    loss, grad = softmax_cross_entropy(logits, labels)
    torch_logits = torch.tensor(logits, requires_grad=True)
    torch_loss = F.cross_entropy(torch_logits, torch.tensor(labels))
    torch_loss.backward()
    assert np.isfinite(loss) and np.all(np.isfinite(grad))
    assert grad.dtype == dtype and grad.shape == logits.shape
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    assert loss == pytest.approx(torch_loss.item(), rel=rtol, abs=rtol)
    np.testing.assert_allclose(grad, torch_logits.grad.numpy(), rtol=rtol, atol=rtol / batch)


def test_softmax_cross_entropy_rejects_bad_labels():
    with pytest.raises(ParameterError, match=r"\[0, 3\)"):
        softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ParameterError, match="shape"):
        softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 1, 2]))
    with pytest.raises(TypeError, match="integer"):
        softmax_cross_entropy(np.zeros((2, 3)), np.array([0.0, 1.0]))


# ---------------------------------------------------------------------------------------
# optimisers


class ParamHolder:
    """A layer-shaped holder of parameters for the optimiser tests."""

    def __init__(self, params):
        self.name, self.params, self.grads = "holder", params, {}


def gradient_sequence(steps, shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [{name: rng.normal(size=shape) for name, shape in shapes.items()} for _ in range(steps)]


def run_numpool(optimizer, initial, gradients):
    holder = ParamHolder({name: value.copy() for name, value in initial.items()})
    arrays = dict(holder.params)
    for grads in gradients:
        holder.grads = grads
        optimizer.step([holder])
    for name, value in holder.params.items():
        assert value is arrays[name], "parameters must be updated in place"
    return holder.params


def run_torch(make_optimizer, initial, gradients):
    tensors = {name: torch.tensor(value, requires_grad=True) for name, value in initial.items()}
    optimizer = make_optimizer(list(tensors.values()))
    for grads in gradients:
        for name, tensor in tensors.items():
            tensor.grad = torch.tensor(grads[name])
        optimizer.step()
    return {name: tensor.detach().numpy() for name, tensor in tensors.items()}


SHAPES = {"kernel": (3, 4), "bias": (4,)}


@pytest.mark.parametrize("momentum, nesterov", [(0.0, False), (0.9, False), (0.5, True), (0.9, True)])
def test_sgd_matches_torch(momentum, nesterov):
    initial = {name: value for name, value in gradient_sequence(1, SHAPES, seed=1)[0].items()}
    gradients = gradient_sequence(6, SHAPES)
    ours = run_numpool(SGD(learning_rate=0.05, momentum=momentum, nesterov=nesterov), initial, gradients)
    theirs = run_torch(lambda p: torch.optim.SGD(p, lr=0.05, momentum=momentum, nesterov=nesterov),
                       initial, gradients)
    for name in SHAPES:
        np.testing.assert_allclose(ours[name], theirs[name], rtol=1e-12, atol=1e-12)


def test_sgd_defaults_and_plain_step():
    optimizer = SGD()
    assert (optimizer.learning_rate, optimizer.momentum, optimizer.nesterov) == (0.01, 0.0, False)
    holder = ParamHolder({"w": np.array([1.0, 2.0], np.float32)})
    holder.grads = {"w": np.array([10.0, -10.0], np.float32)}
    optimizer.step([holder])
    assert holder.params["w"].dtype == np.float32
    np.testing.assert_allclose(holder.params["w"], [0.9, 2.1], rtol=1e-6)


def test_adam_with_zero_epsilon_matches_torch():
    """With epsilon = 0 Keras's and PyTorch's Adam are the same formula."""
    initial = gradient_sequence(1, SHAPES, seed=1)[0]
    gradients = gradient_sequence(8, SHAPES)
    ours = run_numpool(Adam(learning_rate=0.01, beta_1=0.8, beta_2=0.99, epsilon=0.0), initial, gradients)
    theirs = run_torch(lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.8, 0.99), eps=0.0), initial, gradients)
    for name in SHAPES:
        np.testing.assert_allclose(ours[name], theirs[name], rtol=1e-12, atol=1e-12)


def keras_adam_reference(initial, gradients, lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    """Keras 3's Adam.update_step written out: epsilon added to sqrt(v) before bias correction."""
    params = {name: value.copy() for name, value in initial.items()}
    m = {name: np.zeros_like(value) for name, value in initial.items()}
    v = {name: np.zeros_like(value) for name, value in initial.items()}
    for t, grads in enumerate(gradients, start=1):
        alpha = lr * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
        for name, g in grads.items():
            m[name] += (g - m[name]) * (1 - beta_1)
            v[name] += (np.square(g) - v[name]) * (1 - beta_2)
            params[name] -= alpha * m[name] / (np.sqrt(v[name]) + epsilon)
    return params


def test_adam_matches_keras_formula_and_epsilon_placement():
    optimizer = Adam()
    assert (optimizer.learning_rate, optimizer.beta_1, optimizer.beta_2, optimizer.epsilon) == (0.001, 0.9, 0.999, 1e-7)
    initial = gradient_sequence(1, SHAPES, seed=1)[0]
    # tiny gradients make epsilon matter, so its placement is visible
    gradients = [{name: g * 1e-7 for name, g in grads.items()} for grads in gradient_sequence(5, SHAPES)]
    ours = run_numpool(Adam(epsilon=1e-7), initial, gradients)
    reference = keras_adam_reference(initial, gradients)
    torch_epsilon_placement = run_torch(lambda p: torch.optim.Adam(p, lr=0.001, eps=1e-7), initial, gradients)
    for name in SHAPES:
        np.testing.assert_allclose(ours[name], reference[name], rtol=1e-13, atol=1e-15)
        assert not np.allclose(ours[name] - initial[name], torch_epsilon_placement[name] - initial[name],
                               rtol=1e-3, atol=0)


def test_optimizer_rejects_missing_gradient_and_bad_arguments():
    holder = ParamHolder({"w": np.zeros(2)})
    with pytest.raises(ParameterError, match="no gradient"):
        SGD().step([holder])
    with pytest.raises(ParameterError, match="learning_rate"):
        Adam(learning_rate=0)
    with pytest.raises(ParameterError, match="momentum"):
        SGD(momentum=1.5)


# ---------------------------------------------------------------------------------------
# Sequential


def test_forward_and_backward_chain_the_layers():
    model = mlp()
    x = np.random.default_rng(0).normal(size=(5, 4))
    out = model(x)
    hidden, relu, logits = model.layers
    np.testing.assert_array_equal(out, logits.forward(relu.forward(hidden.forward(x))))
    assert model.input_shape == (None, 4) and model.output_shape == (None, 3)
    grad = model.backward(np.ones_like(out))
    assert grad.shape == x.shape
    assert set(hidden.grads) == {"kernel", "bias"}


def numeric_gradient(function, array, eps=1e-6):
    grad = np.zeros_like(array)
    for index in np.ndindex(array.shape):
        grad[index] = central_difference(function, array, index, eps)
    return grad


def test_backward_passes_finite_difference_check_in_float64():
    model = mlp(seed=3, hidden=6)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4, 4))
    labels = rng.integers(0, 3, 4)

    def loss():
        return softmax_cross_entropy(model.forward(x), labels)[0]

    value, grad = softmax_cross_entropy(model.forward(x, training=True), labels)
    input_grad = model.backward(grad)
    np.testing.assert_allclose(input_grad, numeric_gradient(loss, x), rtol=1e-6, atol=1e-9)
    for layer in model.layers:
        for name, param in layer.params.items():
            analytic = layer.grads[name].copy()
            np.testing.assert_allclose(analytic, numeric_gradient(loss, param), rtol=1e-6, atol=1e-9,
                                       err_msg=f"{layer.name}.{name}")


def test_summary_table():
    model = mlp()
    model.build((None, 4))
    printed = []
    text = model.summary(print_fn=printed.append)
    assert printed == [text]
    assert text == "\n".join([
        'Model: "mlp"',
        "_" * 71,
        " Layer (type)                    Output Shape              Param #",
        "=" * 71,
        " hidden (StandInDense)           (None, 8)                 40",
        "",
        " relu (StandInReLU)              (None, 8)                 0",
        "",
        " logits (StandInDense)           (None, 3)                 27",
        "=" * 71,
        "Total params: 67",
        "Trainable params: 67",
        "Non-trainable params: 0",
        "_" * 71,
    ])
    assert model.count_params() == 67


def test_summary_prints_and_needs_a_built_model(capsys):
    model = mlp()
    with pytest.raises(ParameterError, match="not built"):
        model.summary()
    model.predict(np.zeros((2, 4)))
    text = model.summary()
    assert capsys.readouterr().out == text + "\n"


def test_fit_decreases_loss_deterministically_with_a_seed():
    x, y = blobs()
    x_val, y_val = blobs(count=30, seed=0)

    def train():
        model = mlp(seed=5).compile(SGD(learning_rate=0.02, momentum=0.9), "sparse_categorical_crossentropy")
        return model, model.fit(x, y, epochs=6, batch_size=16, validation_data=(x_val, y_val), seed=7, verbose=0)

    model, history = train()
    _, again = train()
    assert isinstance(history, History) and history.history is history
    assert set(history) == {"loss", "accuracy", "val_loss", "val_accuracy", "images_per_second"}
    assert all(len(values) == 6 for values in history.values())
    losses = history["loss"]
    assert all(later < earlier for earlier, later in zip(losses, losses[1:])), losses
    assert history["accuracy"][-1] > 0.9 and history["val_accuracy"][-1] > 0.9
    assert all(rate > 0 for rate in history["images_per_second"])
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert history[key] == again[key]
    assert model.evaluate(x_val, y_val, batch_size=7) == pytest.approx((history["val_loss"][-1], history["val_accuracy"][-1]))


@pytest.mark.parametrize("call, words", [
    (lambda m, x, y: m.fit(x, y, batch_size=float("nan"), verbose=0), "`batch_size` must be an int >= 1"),
    (lambda m, x, y: m.fit(x, y, epochs=float("inf"), verbose=0), "`epochs` must be an int >= 0"),
    (lambda m, x, y: m.fit(x, y, seed=-1, verbose=0), "`seed` must be None or an int >= 0"),
    (lambda m, x, y: m.fit(x, y, seed=1.5, verbose=0), "`seed` must be None or an int >= 0"),
    (lambda m, x, y: m.predict(None), "`x` must be an array of samples"),
    (lambda m, x, y: m.predict(np.array(1.0)), "`x` must be an array of samples"),
    (lambda m, x, y: m.evaluate(np.array("text"), y), "`x` must be an array of samples"),
])
def test_bad_fit_and_predict_arguments(call, words):
    x, y = blobs()
    model = mlp(seed=5).compile("sgd", "sparse_categorical_crossentropy")
    with pytest.raises(ParameterError, match=re.escape(words)):
        call(model, x, y)


def test_fit_with_adam_and_the_progress_bar(capsys):
    x, y = blobs(count=40)
    model = mlp(seed=2).compile(Adam(learning_rate=0.01))
    history = model.fit(x, y, epochs=2, batch_size=8, seed=0, verbose=1)
    err = capsys.readouterr().err
    assert "Epoch 1/2" in err and "Epoch 2/2" in err and "5/5" in err
    assert "loss=" in err and "accuracy=" in err and "images/s" in err
    assert history["loss"][1] < history["loss"][0]


def test_fit_uses_tqdm_when_it_is_installed(monkeypatch, capsys):
    bars = []

    class FakeTqdm:
        def __init__(self, total, desc, **kwargs):
            self.total, self.desc, self.updates, self.postfix = total, desc, 0, None
            bars.append(self)

        def update(self, count=1):
            self.updates += count

        def set_postfix_str(self, text):
            self.postfix = text

        def close(self):
            self.closed = True

    fake = types.ModuleType("tqdm.auto")
    fake.tqdm = FakeTqdm
    monkeypatch.setitem(sys.modules, "tqdm", types.ModuleType("tqdm"))
    monkeypatch.setitem(sys.modules, "tqdm.auto", fake)
    x, y = blobs(count=20)
    # a pipe or a log gets the plain bar, one line per epoch, even with tqdm installed
    mlp().compile("sgd").fit(x, y, epochs=2, batch_size=8, verbose=1)
    assert bars == [] and capsys.readouterr().err.count("\n") == 2
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)  # a terminal: tqdm
    mlp().compile("sgd").fit(x, y, epochs=2, batch_size=8, verbose=1)
    assert [(bar.total, bar.desc, bar.updates) for bar in bars] == [(3, "Epoch 1/2", 3), (3, "Epoch 2/2", 3)]
    assert all(bar.closed and "images/s" in bar.postfix for bar in bars)
    assert capsys.readouterr().err == ""


def test_plain_progress_bar_writes_one_line_per_epoch_to_a_log():
    stream = io.StringIO()
    bar = model_module._PlainProgress(4, "Epoch 1/1", file=stream)
    for _ in range(4):
        bar.update(1)
    bar.set_postfix_str("loss=0.5")
    bar.close()
    assert stream.getvalue() == "Epoch 1/1 [" + "=" * 24 + "] 4/4 loss=0.5\n"


def test_plain_progress_bar_redraws_in_place_on_a_terminal(monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr(model_module._PlainProgress, "interval", 0.0)
    stream = Terminal()
    bar = model_module._PlainProgress(2, "Epoch 1/1", file=stream)
    bar.set_postfix_str("loss=0.123456")
    bar.update(1)
    bar.set_postfix_str("loss=0.5")
    bar.update(1)
    bar.close()
    frames = stream.getvalue().split("\r")[1:]
    assert frames[0] == "Epoch 1/1 [>" + " " * 23 + "] 0/2 "
    assert frames[1] == "Epoch 1/1 [" + "=" * 12 + ">" + " " * 11 + "] 1/2 loss=0.123456"
    assert frames[2] == "Epoch 1/1 [" + "=" * 24 + "] 2/2 loss=0.5" + " " * 5  # clears the longer frame
    assert frames[3] == "Epoch 1/1 [" + "=" * 24 + "] 2/2 loss=0.5\n"


def test_predict_and_evaluate_work_in_batches():
    x, y = blobs(count=23)
    model = mlp().compile("adam")
    logits = model.predict(x, batch_size=5)
    np.testing.assert_allclose(logits, model.forward(x), rtol=1e-12)
    loss, accuracy = model.evaluate(x, y, batch_size=5)
    expected_loss, _ = softmax_cross_entropy(logits, y)
    assert loss == pytest.approx(expected_loss)
    assert accuracy == pytest.approx(np.mean(logits.argmax(axis=1) == y))


def test_training_needs_compile_and_valid_data():
    model = mlp()
    x, y = blobs(count=8)
    with pytest.raises(ParameterError, match="compile"):
        model.fit(x, y)
    model.compile("sgd")
    with pytest.raises(ParameterError, match="batch_size"):
        model.fit(x, y, batch_size=0)
    with pytest.raises(ParameterError, match="labels"):
        model.fit(x, y[:-1])
    with pytest.raises(ParameterError, match="optimizer"):
        model.compile("rmsprop")


def test_save_and_load_weights_round_trip(tmp_path):
    x, y = blobs(count=32)
    trained = mlp(seed=0).compile("adam")
    trained.fit(x, y, epochs=1, batch_size=8, verbose=0)
    path = trained.save_weights(tmp_path / "weights")
    assert path.endswith("weights.npz")
    with np.load(path) as data:
        assert sorted(data.files) == ["0/hidden/bias", "0/hidden/kernel", "2/logits/bias", "2/logits/kernel"]

    fresh = mlp(seed=10)
    fresh.build((None, 4))
    kernel = fresh.layers[0].params["kernel"]
    assert not np.array_equal(fresh.predict(x), trained.predict(x))
    fresh.load_weights(tmp_path / "weights")
    assert fresh.layers[0].params["kernel"] is kernel, "weights must be loaded in place"
    np.testing.assert_array_equal(fresh.predict(x), trained.predict(x))
    for ours, theirs in zip(fresh.get_weights(), trained.get_weights()):
        np.testing.assert_array_equal(ours, theirs)

    wider = mlp(hidden=5)
    wider.build((None, 4))
    before = wider.get_weights()
    with pytest.raises(ParameterError, match="shape"):
        wider.load_weights(path)
    for ours, theirs in zip(wider.get_weights(), before):
        np.testing.assert_array_equal(ours, theirs)
    deeper = Sequential(mlp().layers + [StandInDense(2)])
    deeper.build((None, 4))
    with pytest.raises(ParameterError, match="missing"):
        deeper.load_weights(path)
    np.savez(tmp_path / "foreign.npz", kernel=np.zeros((4, 8)))
    with pytest.raises(ParameterError, match="not a"):
        fresh.load_weights(tmp_path / "foreign.npz")


def test_add_to_a_built_model_builds_the_new_layer():
    model = Sequential([StandInDense(5, name="first")])
    model.build((None, 3))
    model.add(StandInReLU())
    model.add(StandInDense(2, name="second"))
    assert model.layers[2].params["kernel"].shape == (5, 2)
    assert model.output_shape == (None, 2) and model.count_params() == 20 + 12
    with pytest.raises(ParameterError, match="forward and backward"):
        model.add("dense")


def test_fit_verbose_2_prints_one_line_per_epoch(capsys):
    x, y = blobs(count=16)
    history = mlp().compile("sgd").fit(x, y, epochs=2, batch_size=8, validation_data=(x, y), verbose=2)
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(" loss=")[0] for line in lines] == ["Epoch 1/2", "Epoch 2/2"]
    assert f"val_loss={history['val_loss'][1]:.4f}" in lines[1] and lines[1].endswith("images/s")


# ---------------------------------------------------------------------------------------
# LeNet-5 on numpool.layers


def torch_lenet5(model, pool):
    """The same network in PyTorch (NCHW), with ``model``'s weights in PyTorch's layouts."""
    conv1, conv2, dense1, dense2, dense3 = [layer for layer in model.layers if layer.params]
    Pool = torch.nn.MaxPool2d if pool == "max" else torch.nn.AvgPool2d
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 6, 5), torch.nn.ReLU(), Pool(2),
        torch.nn.Conv2d(6, 16, 5), torch.nn.ReLU(), Pool(2),
        torch.nn.Flatten(),
        torch.nn.Linear(400, 120), torch.nn.ReLU(), torch.nn.Linear(120, 84), torch.nn.ReLU(), torch.nn.Linear(84, 10),
    )
    convs, linears = [net[0], net[3]], [net[7], net[9], net[11]]
    with torch.no_grad():
        for ours, theirs in zip((conv1, conv2), convs):
            theirs.weight.copy_(torch.from_numpy(to_torch_conv(ours.params["kernel"])))
            theirs.bias.copy_(torch.from_numpy(ours.params["bias"]))
        for ours, theirs in zip((dense1, dense2, dense3), linears):
            kernel = ours.params["kernel"]
            if ours is dense1:  # numpool's Flatten is channels-last (Keras's order), PyTorch's channels-first
                kernel = flatten_hwc_to_chw(kernel)
            theirs.weight.copy_(torch.from_numpy(kernel.T.copy()))
            theirs.bias.copy_(torch.from_numpy(ours.params["bias"]))
    return net, convs, linears


def to_torch_conv(kernel):
    """(kh, kw, in, out) -> (out, in, kh, kw)."""
    return np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))


def flatten_hwc_to_chw(kernel):
    """Rows of the first dense kernel from (h, w, c) order to PyTorch's (c, h, w) order."""
    return kernel.reshape(5, 5, 16, -1).transpose(2, 0, 1, 3).reshape(400, -1)


@pytest.mark.parametrize("pool", ["max", "avg"])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_lenet5_outputs_and_gradients_equal_pytorch(pool, data_format):
    model = lenet5(pool=pool, data_format=data_format, seed=1)
    rng = np.random.default_rng(2)
    images = rng.normal(size=(8, 1, 32, 32)).astype(np.float32)  # NCHW
    labels = rng.integers(0, 10, 8)
    x = images if data_format == "channels_first" else np.ascontiguousarray(images.transpose(0, 2, 3, 1))

    logits = model.forward(x, training=True)
    loss, grad = softmax_cross_entropy(logits, labels)
    input_grad = model.backward(grad)

    net, convs, linears = torch_lenet5(model, pool)
    torch_x = torch.tensor(images, requires_grad=True)
    torch_logits = net(torch_x)
    torch_loss = F.cross_entropy(torch_logits, torch.tensor(labels))
    torch_loss.backward()

    assert logits.dtype == np.float32 and input_grad.dtype == np.float32
    np.testing.assert_allclose(logits, torch_logits.detach().numpy(), rtol=1e-5, atol=1e-5)
    assert loss == pytest.approx(torch_loss.item(), rel=1e-5)
    torch_input_grad = torch_x.grad.numpy()
    if data_format == "channels_last":
        torch_input_grad = torch_input_grad.transpose(0, 2, 3, 1)
    np.testing.assert_allclose(input_grad, torch_input_grad, rtol=1e-4, atol=1e-7)
    conv1, conv2, dense1, dense2, dense3 = [layer for layer in model.layers if layer.params]
    expected = [
        (conv1.grads["kernel"], to_torch_conv, convs[0].weight), (conv1.grads["bias"], None, convs[0].bias),
        (conv2.grads["kernel"], to_torch_conv, convs[1].weight), (conv2.grads["bias"], None, convs[1].bias),
        (dense1.grads["kernel"], lambda k: flatten_hwc_to_chw(k).T, linears[0].weight),
        (dense1.grads["bias"], None, linears[0].bias),
        (dense2.grads["kernel"], np.transpose, linears[1].weight), (dense2.grads["bias"], None, linears[1].bias),
        (dense3.grads["kernel"], np.transpose, linears[2].weight), (dense3.grads["bias"], None, linears[2].bias),
    ]
    for ours, to_torch, theirs in expected:
        ours = to_torch(ours) if to_torch else ours
        theirs = theirs.grad.numpy()
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5 * np.abs(theirs).max())


@pytest.mark.parametrize("pool", ["max", "avg"])
def test_lenet5_passes_finite_difference_check_in_float64(pool):
    model = lenet5(pool=pool, data_format="channels_first", seed=3, dtype="float64")
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2, 1, 32, 32))
    labels = np.array([3, 7])

    def loss():
        return softmax_cross_entropy(model.forward(x), labels)[0]

    _, grad = softmax_cross_entropy(model.forward(x, training=True), labels)
    input_grad = model.backward(grad)
    # a sample of entries of the input and of every parameter: 61,706 would take minutes
    checks = [("input", x, input_grad)] + [
        (f"{layer.name}.{name}", param, layer.grads[name].copy())
        for layer in model.layers for name, param in layer.params.items()
    ]
    for what, array, analytic in checks:
        flat = array.reshape(-1)
        for index in rng.choice(flat.size, size=min(6, flat.size), replace=False):
            saved = flat[index]
            flat[index] = saved + 1e-6
            plus = loss()
            flat[index] = saved - 1e-6
            minus = loss()
            flat[index] = saved
            numeric = (plus - minus) / 2e-6
            assert analytic.reshape(-1)[index] == pytest.approx(numeric, rel=1e-5, abs=1e-8), (what, index)


def test_lenet5_summary_trains_and_round_trips_its_weights(tmp_path):
    model = lenet5(seed=0)
    text = model.summary(print_fn=None)
    assert model.input_shape == (None, 32, 32, 1) and model.output_shape == (None, 10)
    assert "Total params: 61,706" in text and " conv2d" in text and "(None, 5, 5, 16)" in text
    # two classes: a bright square top-left or bottom-right
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 64)
    x = rng.normal(0, 0.1, (64, 32, 32, 1)).astype(np.float32)
    for image, label in zip(x, labels):
        image[4 + 16 * label:12 + 16 * label, 4 + 16 * label:12 + 16 * label] += 1
    history = model.compile(Adam(learning_rate=0.003)).fit(x, labels, epochs=3, batch_size=16, seed=0, verbose=0)
    assert history["loss"][-1] < history["loss"][0]
    assert history["accuracy"][-1] == 1.0
    path = model.save_weights(tmp_path / "lenet.npz")
    other = lenet5(seed=1)
    other.load_weights(path)
    np.testing.assert_array_equal(other.predict(x), model.predict(x))
    with pytest.raises(ParameterError, match="pool"):
        lenet5(pool="lp")
