"""Optimisers of :mod:`numpool.nn`, with Keras's update formulas and defaults.

An optimiser's :meth:`~Optimizer.step` walks a list of layers and updates every array in
``layer.params`` in place from the same key in ``layer.grads`` (filled by the layer's
``backward``). In-place updates keep each parameter the same array object, so a layer that
holds a reference to it (or a view of it) sees the new values. The per-parameter state
(momentum, moment estimates) is keyed by the parameter array itself and has its dtype.
"""

from __future__ import annotations

import numpy as np

from .._errors import ParameterError


class Optimizer:
    """Base class: per-parameter state and the walk over ``layers``; subclasses define :meth:`update`."""

    def __init__(self, learning_rate):
        learning_rate = float(learning_rate)
        if not learning_rate > 0:
            raise ParameterError(
                f"`learning_rate` must be > 0; got learning_rate={learning_rate} for {type(self).__name__}."
            )
        self.learning_rate = learning_rate
        self.iterations = 0
        # id(param) -> (param, state dict); the param is kept so its id cannot be reused
        self._slots = {}

    def state(self, param):
        """The state dict of one parameter array (empty until its first update)."""
        return self._slots.setdefault(id(param), (param, {}))[1]

    def step(self, layers):
        """Update every parameter of ``layers`` in place from its gradient; one iteration.

        Parameters
        ----------
        layers : iterable of layers
            Each with ``params`` and ``grads`` dicts (same keys) after ``backward``.
        """
        self.iterations += 1
        for layer in layers:
            params = getattr(layer, "params", None) or {}
            grads = getattr(layer, "grads", None) or {}
            for name, param in params.items():
                if name not in grads:
                    raise ParameterError(
                        f"layer {getattr(layer, 'name', layer)!r} has no gradient for parameter {name!r}; "
                        "call backward before the optimiser's step."
                    )
                grad = np.asarray(grads[name])
                if grad.shape != param.shape:
                    raise ParameterError(
                        f"gradient of {getattr(layer, 'name', layer)!r}.{name} has shape {grad.shape}, "
                        f"the parameter {param.shape}."
                    )
                self.update(param, grad.astype(param.dtype, copy=False), self.state(param))

    def update(self, param, grad, state):  # pragma: no cover - abstract
        raise NotImplementedError

    def get_config(self):
        return {"learning_rate": self.learning_rate}

    def __repr__(self):
        args = ", ".join(f"{key}={value!r}" for key, value in self.get_config().items())
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    r"""Stochastic gradient descent with optional (Nesterov) momentum, as ``keras.optimizers.SGD``.

    With learning rate :math:`\eta`, momentum :math:`\mu`, gradient :math:`g` and a velocity
    :math:`v` that starts at zero, one step is

    .. math::

        v \leftarrow \mu v - \eta g, \qquad
        \theta \leftarrow \begin{cases}
            \theta + v & \text{(classical)} \\
            \theta + \mu v - \eta g & \text{(Nesterov)}
        \end{cases}

    and with ``momentum=0`` simply :math:`\theta \leftarrow \theta - \eta g`.

    Notes
    -----
    With a constant learning rate this is ``torch.optim.SGD(lr, momentum, nesterov)``
    (dampening 0, no weight decay) up to float rounding: PyTorch keeps
    :math:`b = \mu b + g` and steps :math:`-\eta b`, and :math:`v = -\eta b` at every step.
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False):
        super().__init__(learning_rate)
        momentum = float(momentum)
        if not 0 <= momentum <= 1:
            raise ParameterError(f"`momentum` must lie in [0, 1]; got momentum={momentum} for SGD.")
        self.momentum = momentum
        self.nesterov = bool(nesterov)

    def update(self, param, grad, state):
        if self.momentum == 0:
            param -= param.dtype.type(self.learning_rate) * grad
            return
        lr, mu = param.dtype.type(self.learning_rate), param.dtype.type(self.momentum)
        velocity = state.get("velocity")
        if velocity is None:
            velocity = state["velocity"] = np.zeros_like(param)
        velocity *= mu
        velocity -= lr * grad
        if self.nesterov:
            param += mu * velocity - lr * grad
        else:
            param += velocity

    def get_config(self):
        return {"learning_rate": self.learning_rate, "momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    r"""Adam, as ``keras.optimizers.Adam`` (its defaults, and its placement of ``epsilon``).

    With gradient :math:`g`, moments :math:`m, v` starting at zero and step :math:`t = 1, 2, \dots`:

    .. math::

        m \leftarrow m + (1 - \beta_1)(g - m), \qquad
        v \leftarrow v + (1 - \beta_2)(g^2 - v), \\
        \alpha_t = \eta \, \frac{\sqrt{1 - \beta_2^t}}{1 - \beta_1^t}, \qquad
        \theta \leftarrow \theta - \alpha_t \, \frac{m}{\sqrt{v} + \epsilon}.

    Notes
    -----
    ``torch.optim.Adam`` adds its epsilon to the bias-corrected root,
    :math:`\theta \leftarrow \theta - \frac{\eta}{1-\beta_1^t} \frac{m}{\sqrt{v}/\sqrt{1-\beta_2^t} + \epsilon}`;
    Keras (and this class) adds it to :math:`\sqrt{v}` before the correction, which is
    PyTorch's formula with :math:`\epsilon_{torch} = \epsilon / \sqrt{1 - \beta_2^t}`. The two
    agree exactly (up to rounding) when ``epsilon=0``. Keras's default ``epsilon=1e-7``
    (PyTorch's is ``1e-8``) is kept.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
        super().__init__(learning_rate)
        for name, value in (("beta_1", beta_1), ("beta_2", beta_2)):
            if not 0 <= float(value) < 1:
                raise ParameterError(f"`{name}` must lie in [0, 1); got {name}={value} for Adam.")
        if not float(epsilon) >= 0:
            raise ParameterError(f"`epsilon` must be >= 0; got epsilon={epsilon} for Adam.")
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)

    def update(self, param, grad, state):
        if not state:
            state["m"], state["v"], state["t"] = np.zeros_like(param), np.zeros_like(param), 0
        state["t"] += 1
        t, dtype = state["t"], param.dtype.type
        m, v = state["m"], state["v"]
        m += (grad - m) * dtype(1 - self.beta_1)
        v += (grad * grad - v) * dtype(1 - self.beta_2)
        alpha = self.learning_rate * np.sqrt(1 - self.beta_2**t) / (1 - self.beta_1**t)
        param -= dtype(alpha) * m / (np.sqrt(v) + dtype(self.epsilon))

    def get_config(self):
        return {"learning_rate": self.learning_rate, "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}


OPTIMIZERS = {"sgd": SGD, "adam": Adam}


def get_optimizer(optimizer):
    """An optimiser instance, or a name from :data:`OPTIMIZERS` (built with its defaults)."""
    if isinstance(optimizer, Optimizer):
        return optimizer
    if isinstance(optimizer, str) and optimizer.lower() in OPTIMIZERS:
        return OPTIMIZERS[optimizer.lower()]()
    raise ParameterError(
        f"`optimizer` must be an Optimizer or one of {sorted(OPTIMIZERS)}; got optimizer={optimizer!r}."
    )
