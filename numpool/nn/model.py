"""``Sequential``: a stack of layers trained with backpropagation, in the shape of Keras's API.

The model relies only on the layer protocol of :mod:`numpool.layers`: ``build(input_shape)``,
``forward(x, training=False)``, ``backward(grad_output)`` (which fills ``layer.grads``),
``layer.params`` (updated in place by the optimisers), ``compute_output_shape``,
``count_params`` and ``layer.name``. Any object with those methods can be stacked.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time

import numpy as np

from .._errors import ParameterError
from .losses import get_loss
from .optimizers import get_optimizer


class History(dict):
    """Per-epoch metrics of :meth:`Sequential.fit`: ``history["loss"][epoch]`` and so on.

    A dict of lists (``loss``, ``accuracy``, ``images_per_second`` and, with validation
    data, ``val_loss`` and ``val_accuracy``); ``history.history`` is the dict itself, as in Keras.
    """

    @property
    def history(self):
        return self


class _PlainProgress:
    """A one-line progress bar on stderr, used when tqdm is not installed.

    On a terminal it is redrawn in place at most ten times a second; elsewhere (a log file,
    a pipe, a captured stream) only the final state is written, one line per epoch.
    """

    width = 24
    interval = 0.1

    def __init__(self, total, desc, file=None):
        self.total, self.desc, self.count, self.postfix = total, desc, 0, ""
        self.file = sys.stderr if file is None else file
        isatty = getattr(self.file, "isatty", None)
        self.live = bool(isatty and isatty())
        self._drawn_at, self._drawn_length = -1.0, 0
        self._draw()

    def update(self, count=1):
        self.count += count
        self._draw()

    def set_postfix_str(self, text):
        self.postfix = text

    def _draw(self, final=False):
        now = time.perf_counter()
        if not final and (not self.live or now - self._drawn_at < self.interval):
            return
        self._drawn_at = now
        done = min(self.width, self.width * self.count // max(self.total, 1))
        bar = ("=" * done + ">")[:self.width].ljust(self.width)
        text = f"{self.desc} [{bar}] {self.count}/{self.total} {self.postfix}"
        # spaces over what a longer previous line left behind
        padding = " " * max(self._drawn_length - len(text), 0) if self.live else ""
        self.file.write(("\r" if self.live else "") + text + padding)
        self._drawn_length = len(text)
        self.file.flush()

    def close(self):
        self._draw(final=True)
        self.file.write("\n")
        self.file.flush()


def _progress_bar(total, desc):
    """tqdm's bar on a terminal when tqdm is importable (it is optional), else
    :class:`_PlainProgress`, which writes one line per epoch to a log or a pipe."""
    isatty = getattr(sys.stderr, "isatty", None)
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _PlainProgress(total, desc)
    if not (isatty and isatty()):
        return _PlainProgress(total, desc)
    return tqdm(total=total, desc=desc, unit="batch", file=sys.stderr, leave=True)


def _one_blas_thread():
    """One BLAS thread while a model trains, where threadpoolctl (scikit-learn's) is installed.

    Between matrix products OpenBLAS's threads spin, and took both cores of a 2-core
    machine from numpool's parallel pooling kernels: LeNet-5's default training
    (``numpool train lenet``) took 33 s with them and 7 s without.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


def _format_shape(shape):
    return "(" + ", ".join("None" if dim is None else str(dim) for dim in shape) + ("," if len(shape) == 1 else "") + ")"


def _whole(value):
    """A finite whole number (an int, or a float such as 32.0), not a bool."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        return False
    return bool(np.isfinite(value)) and int(value) == value


class Sequential:
    """A linear stack of layers: forward in order, backward in reverse order.

    Parameters
    ----------
    layers : list of layers, optional
        The layers, first to last; more can be appended with :meth:`add`.
    name : str, optional
        The model's name in :meth:`summary` (default ``"sequential"``).

    Notes
    -----
    The model is built either explicitly with :meth:`build` or on its first forward pass,
    from the input's shape with the batch dimension left as ``None``. Training is
    :meth:`compile` then :meth:`fit`; gradients can also be driven by hand with
    :meth:`forward` and :meth:`backward` and an optimiser's ``step(model.layers)``.
    """

    def __init__(self, layers=None, name=None):
        self.name = "sequential" if name is None else str(name)
        self.layers = []
        self.input_shape = None
        self.optimizer = None
        self.loss = None
        for layer in layers or ():
            self.add(layer)

    # ---------------------------------------------------------------------------------
    # structure

    def add(self, layer):
        """Append a layer; a built model builds it at once from the current output shape."""
        if not callable(getattr(layer, "forward", None)) or not callable(getattr(layer, "backward", None)):
            raise ParameterError(
                f"Sequential.add needs a layer with forward and backward methods; got {layer!r}."
            )
        self.layers.append(layer)
        if self.input_shape is not None:
            shape = self.input_shape
            for previous in self.layers[:-1]:
                shape = previous.compute_output_shape(shape)
            self._build_layer(layer, shape)

    @staticmethod
    def _build_layer(layer, shape):
        # layers that track `built` (as Keras's do) are not built twice; others are built here
        if not getattr(layer, "built", False):
            layer.build(shape)

    @property
    def built(self):
        return self.input_shape is not None

    def build(self, input_shape):
        """Build every layer for inputs of ``input_shape`` (batch dimension included, may be None)."""
        input_shape = tuple(None if dim is None else int(dim) for dim in input_shape)
        shape = input_shape
        for layer in self.layers:
            self._build_layer(layer, shape)
            shape = layer.compute_output_shape(shape)
        self.input_shape = input_shape

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        for layer in self.layers:
            shape = layer.compute_output_shape(shape)
        return shape

    @property
    def output_shape(self):
        self._require_built("output_shape")
        return self.compute_output_shape(self.input_shape)

    def count_params(self):
        """The number of scalars in all the layers' parameters."""
        self._require_built("count_params")
        return int(sum(layer.count_params() for layer in self.layers))

    def _require_built(self, what):
        if not self.built:
            raise ParameterError(
                f"model {self.name!r} is not built; call build(input_shape) or run it on data before {what}."
            )

    # ---------------------------------------------------------------------------------
    # forward and backward

    def forward(self, x, training=False):
        """Run ``x`` through every layer in order; builds the model on first use."""
        x = np.asarray(x)
        if not self.built:
            self.build((None,) + x.shape[1:])
        for layer in self.layers:
            x = layer.forward(x, training=training)
        return x

    def __call__(self, x, training=False):
        return self.forward(x, training=training)

    def backward(self, grad_output):
        """Backpropagate d(loss)/d(output) through the layers in reverse order.

        Each layer's ``backward`` fills its ``grads``; the return value is d(loss)/d(input).
        It must follow the :meth:`forward` whose output ``grad_output`` differentiates.
        """
        grad = grad_output
        for layer in reversed(self.layers):
            grad = layer.backward(grad)
        return grad

    # ---------------------------------------------------------------------------------
    # summary

    def summary(self, print_fn=print):
        """The Keras-like table of layers, output shapes and parameter counts; printed and returned.

        Parameters
        ----------
        print_fn : callable or None
            Called with the whole table (default :func:`print`); ``None`` prints nothing.

        Returns
        -------
        str
            The table.
        """
        self._require_built("summary")
        columns = (33, 26, 12)
        width = sum(columns)

        def row(*cells):
            return "".join(str(cell).ljust(size) for cell, size in zip(cells, columns)).rstrip()

        lines = [f'Model: "{self.name}"', "_" * width, row(" Layer (type)", "Output Shape", "Param #"), "=" * width]
        shape = self.input_shape
        for index, layer in enumerate(self.layers):
            shape = layer.compute_output_shape(shape)
            if index:
                lines.append("")
            lines.append(row(f" {layer.name} ({type(layer).__name__})", _format_shape(shape),
                             f"{layer.count_params():,}"))
        total = self.count_params()
        lines += ["=" * width, f"Total params: {total:,}", f"Trainable params: {total:,}",
                  "Non-trainable params: 0", "_" * width]
        text = "\n".join(lines)
        if print_fn is not None:
            print_fn(text)
        return text

    # ---------------------------------------------------------------------------------
    # training

    def compile(self, optimizer="adam", loss="sparse_categorical_crossentropy"):
        """Choose the optimiser (an instance, or ``"sgd"``/``"adam"``) and the loss.

        ``loss`` is a name from :data:`numpool.nn.losses.LOSSES` or a callable
        ``(outputs, labels) -> (loss, grad)``. ``"sparse_categorical_crossentropy"`` is
        :func:`~numpool.nn.softmax_cross_entropy`: the model's outputs are logits (Keras's
        ``from_logits=True``) and the labels integer classes.
        """
        self.optimizer = get_optimizer(optimizer)
        self.loss = get_loss(loss)
        return self

    def _check_data(self, x, y, method):
        if x is None:
            raise ParameterError(f"`x` must be an array of samples for {method}; got None.")
        x = np.asarray(x)
        if x.ndim == 0 or x.dtype.kind not in "biuf":
            raise ParameterError(f"`x` must be an array of samples (a batch axis first) of numbers for {method}; "
                                 f"got {x.dtype} of shape {x.shape}.")
        if y is not None:
            y = np.asarray(y)
            if y.ndim != 1 or len(y) != len(x):
                raise ParameterError(
                    f"`y` must be a 1-D array of {len(x)} integer labels; got shape {y.shape} for {method}."
                )
        if len(x) == 0:
            raise ParameterError(f"{method} needs at least one sample; got x of shape {x.shape}.")
        return x, y

    @staticmethod
    def _check_batch_size(batch_size, method):
        if not _whole(batch_size) or batch_size < 1:
            raise ParameterError(f"`batch_size` must be an int >= 1; got batch_size={batch_size!r} for {method}.")
        return int(batch_size)

    def _require_compiled(self, method):
        if self.optimizer is None or self.loss is None:
            raise ParameterError(f"call compile(optimizer, loss) before {method}.")

    def train_on_batch(self, x, y):
        """One optimiser step on one batch; returns ``(loss, accuracy)`` of that batch before the step."""
        self._require_compiled("train_on_batch")
        outputs = self.forward(x, training=True)
        loss, grad = self.loss(outputs, y)
        self.backward(grad)
        self.optimizer.step(self.layers)
        return loss, float(np.mean(np.argmax(outputs, axis=1) == y))

    def fit(self, x, y, epochs=1, batch_size=32, validation_data=None, shuffle=True, seed=None, verbose=1):
        """Train for ``epochs`` passes over ``(x, y)`` in mini-batches.

        Parameters
        ----------
        x : ndarray
            Inputs, batch first.
        y : (N,) ndarray of ints
            Class labels.
        epochs : int
            Passes over the data.
        batch_size : int
            Samples per optimiser step (the last batch of an epoch may be smaller).
        validation_data : tuple (x_val, y_val), optional
            Evaluated after each epoch into ``val_loss`` and ``val_accuracy``.
        shuffle : bool
            Draw a new order of the samples every epoch.
        seed : int, optional
            Seed of the shuffling, for reproducible runs.
        verbose : 0, 1 or 2
            0: silent; 1: a progress bar per epoch on stderr (tqdm's if installed) with the
            running loss, accuracy and images/s; 2: one line per epoch.

        Returns
        -------
        History
            Per-epoch ``loss`` and ``accuracy`` (means over the epoch's batches, weighted by
            batch size, measured during training), ``images_per_second`` (training only),
            and ``val_loss``/``val_accuracy`` when ``validation_data`` is given.
        """
        self._require_compiled("fit")
        x, y = self._check_data(x, y, "fit")
        batch_size = self._check_batch_size(batch_size, "fit")
        if not _whole(epochs) or epochs < 0:
            raise ParameterError(f"`epochs` must be an int >= 0; got epochs={epochs!r} for fit.")
        if seed is not None and not (isinstance(seed, (int, np.integer)) and not isinstance(seed, (bool, np.bool_))
                                     and seed >= 0):
            raise ParameterError(f"`seed` must be None or an int >= 0; got seed={seed!r} for fit.")
        if validation_data is not None:
            if len(validation_data) != 2:
                raise ParameterError("`validation_data` must be a tuple (x_val, y_val).")
            x_val, y_val = self._check_data(*validation_data, "fit validation_data")
        rng = np.random.default_rng(seed)
        history = History(loss=[], accuracy=[], images_per_second=[])
        if validation_data is not None:
            history.update(val_loss=[], val_accuracy=[])
        count = len(x)
        steps = -(-count // batch_size)
        with _one_blas_thread():
            for epoch in range(int(epochs)):
                order = rng.permutation(count) if shuffle else np.arange(count)
                bar = _progress_bar(steps, f"Epoch {epoch + 1}/{epochs}") if verbose == 1 else None
                loss_sum = correct = seen = 0
                start = time.perf_counter()
                for step in range(steps):
                    batch = order[step * batch_size:(step + 1) * batch_size]
                    loss, accuracy = self.train_on_batch(x[batch], y[batch])
                    loss_sum += loss * len(batch)
                    correct += accuracy * len(batch)
                    seen += len(batch)
                    if bar is not None:
                        rate = seen / max(time.perf_counter() - start, 1e-9)
                        bar.set_postfix_str(f"loss={loss_sum / seen:.4f} accuracy={correct / seen:.4f} {rate:,.0f} images/s")
                        bar.update(1)
                elapsed = max(time.perf_counter() - start, 1e-9)
                history["loss"].append(loss_sum / count)
                history["accuracy"].append(correct / count)
                history["images_per_second"].append(count / elapsed)
                line = f"loss={history['loss'][-1]:.4f} accuracy={history['accuracy'][-1]:.4f}"
                if validation_data is not None:
                    val_loss, val_accuracy = self.evaluate(x_val, y_val, batch_size=batch_size)
                    history["val_loss"].append(val_loss)
                    history["val_accuracy"].append(val_accuracy)
                    line += f" val_loss={val_loss:.4f} val_accuracy={val_accuracy:.4f}"
                line += f" {history['images_per_second'][-1]:,.0f} images/s"
                if bar is not None:
                    bar.set_postfix_str(line)
                    bar.close()
                elif verbose:
                    print(f"Epoch {epoch + 1}/{epochs} {line}", file=sys.stderr)
        return history

    def predict(self, x, batch_size=32):
        """The model's outputs (logits for a classifier) on ``x``, computed in batches, inference mode."""
        x, _ = self._check_data(x, None, "predict")
        batch_size = self._check_batch_size(batch_size, "predict")
        return np.concatenate([self.forward(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])

    def evaluate(self, x, y, batch_size=32):
        """``(loss, accuracy)`` on ``(x, y)`` in inference mode: means over all samples."""
        if self.loss is None:
            raise ParameterError("call compile(optimizer, loss) before evaluate.")
        x, y = self._check_data(x, y, "evaluate")
        batch_size = self._check_batch_size(batch_size, "evaluate")
        loss_sum = correct = 0.0
        for i in range(0, len(x), batch_size):
            outputs = self.forward(x[i:i + batch_size])
            loss, _ = self.loss(outputs, y[i:i + batch_size])
            loss_sum += loss * len(outputs)
            correct += np.count_nonzero(np.argmax(outputs, axis=1) == y[i:i + batch_size])
        return loss_sum / len(x), correct / len(x)

    # ---------------------------------------------------------------------------------
    # weights

    def _weight_keys(self):
        for index, layer in enumerate(self.layers):
            for param_name, param in (getattr(layer, "params", None) or {}).items():
                yield f"{index}/{layer.name}/{param_name}", index, param_name, param

    def get_weights(self):
        """Copies of all parameters, layer by layer in order, each layer's in its ``params`` order."""
        return [param.copy() for _, _, _, param in self._weight_keys()]

    def save_weights(self, path):
        """Save every parameter to an ``.npz`` file, keyed ``"{layer index}/{layer name}/{param name}"``.

        As with :func:`numpy.savez`, ``.npz`` is appended to ``path`` when it has no such suffix.
        """
        self._require_built("save_weights")
        path = os.fspath(path)
        if not path.endswith(".npz"):
            path += ".npz"
        np.savez(path, **{key: param for key, _, _, param in self._weight_keys()})
        return path

    def load_weights(self, path):
        """Load parameters saved by :meth:`save_weights` into this (built) model, in place.

        Parameters are matched by layer index and parameter name, so a model built the same
        way loads them whatever its layers' automatic names are; every parameter must be
        present with the same shape, and the file must hold nothing else.
        """
        self._require_built("load_weights")
        path = os.fspath(path)
        if not os.path.exists(path) and os.path.exists(path + ".npz"):
            path += ".npz"
        with np.load(path, allow_pickle=False) as data:
            stored = {}
            for key in data.files:
                index, _, rest = key.partition("/")
                if not index.isdigit() or "/" not in rest:
                    raise ParameterError(
                        f"weights file {path!r} holds {key!r}, not a '{{layer index}}/{{layer name}}/{{param}}' "
                        "key of save_weights."
                    )
                stored[(int(index), rest.rpartition("/")[2])] = key
            expected = {(index, param_name): (key, param) for key, index, param_name, param in self._weight_keys()}
            missing = sorted(key for (key, _) in (expected[k] for k in expected.keys() - stored.keys()))
            extra = sorted(stored[k] for k in stored.keys() - expected.keys())
            if missing or extra:
                raise ParameterError(
                    f"weights file {path!r} does not fit model {self.name!r}: missing {missing}, unexpected {extra}."
                )
            values = {slot: data[stored[slot]] for slot in expected}
        for slot, (key, param) in expected.items():  # check every shape before changing anything
            if values[slot].shape != param.shape:
                raise ParameterError(
                    f"weights file {path!r}: {stored[slot]!r} has shape {values[slot].shape}, "
                    f"the model's {key!r} {param.shape}."
                )
        for slot, (_, param) in expected.items():
            param[...] = values[slot]

    def __repr__(self):
        return f"Sequential(name={self.name!r}, layers={[layer.name for layer in self.layers]})"
