"""Losses of :mod:`numpool.nn`: each returns the mean loss and its gradient in one pass.

A loss here is a function ``loss(logits, labels) -> (loss, grad)``: ``loss`` is a Python
float (the mean over the batch) and ``grad`` is d(loss)/d(logits), an array shaped and typed
like ``logits``, ready for :meth:`numpool.nn.Sequential.backward`.
"""

from __future__ import annotations

import numpy as np

from .._errors import DTypeError, ParameterError


def softmax_cross_entropy(logits, labels):
    r"""Mean softmax cross-entropy of integer class labels, and its gradient.

    For a batch of ``N`` rows of logits :math:`z_{n,k}` and labels :math:`y_n`:

    .. math::

        \mathrm{loss} = \frac{1}{N} \sum_n \Big( \log \sum_k e^{z_{n,k}} - z_{n, y_n} \Big),
        \qquad
        \frac{\partial\, \mathrm{loss}}{\partial z_{n,k}}
            = \frac{\mathrm{softmax}(z_n)_k - [k = y_n]}{N}.

    This is ``torch.nn.functional.cross_entropy(logits, labels)`` (reduction ``"mean"``)
    and Keras's ``sparse_categorical_crossentropy(labels, logits, from_logits=True)``.

    Parameters
    ----------
    logits : (N, K) ndarray of floats
        Unnormalised class scores (a network's last layer, no softmax applied).
    labels : (N,) ndarray of ints
        The class of each row, in ``[0, K)``.

    Returns
    -------
    loss : float
        The mean loss over the batch.
    grad : (N, K) ndarray
        Its gradient with respect to ``logits``, in the dtype of ``logits``.

    Notes
    -----
    Numerically stable: the row maximum is subtracted before exponentiating, and the log of
    the normaliser is taken directly (log-sum-exp), so huge logits neither overflow nor
    turn into ``inf - inf``. Integer logits are computed in float64.

    Examples
    --------
    >>> import numpy as np
    >>> loss, grad = softmax_cross_entropy(np.array([[0.0, 0.0], [1e4, 0.0]]), np.array([0, 0]))
    >>> round(loss, 6)
    0.346574
    >>> grad
    array([[-0.25,  0.25],
           [ 0.  ,  0.  ]])
    """
    logits = np.asarray(logits)
    labels = np.asarray(labels)
    if logits.ndim != 2:
        raise ParameterError(
            f"`logits` must be 2-D (batch, classes); got shape {logits.shape} for softmax_cross_entropy."
        )
    if labels.shape != logits.shape[:1]:
        raise ParameterError(
            f"`labels` must have shape ({logits.shape[0]},) for logits of shape {logits.shape}; "
            f"got shape {labels.shape} for softmax_cross_entropy."
        )
    if labels.dtype.kind not in "iu":
        raise DTypeError(
            f"`labels` must be integer class indices; got dtype {labels.dtype} for softmax_cross_entropy."
        )
    batch, classes = logits.shape
    if batch == 0:
        raise ParameterError("softmax_cross_entropy needs a non-empty batch; got logits of shape "
                             f"{logits.shape}.")
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        raise ParameterError(
            f"`labels` must lie in [0, {classes}); got values in [{labels.min()}, {labels.max()}] "
            "for softmax_cross_entropy."
        )
    if logits.dtype.kind != "f":
        logits = logits.astype(np.float64)
    rows = np.arange(batch)
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    normaliser = exp.sum(axis=1, keepdims=True)
    log_normaliser = np.log(normaliser)
    loss = float(np.mean(log_normaliser[:, 0] - shifted[rows, labels], dtype=np.float64))
    grad = exp / normaliser
    grad[rows, labels] -= 1
    grad /= batch
    return loss, grad.astype(logits.dtype, copy=False)


LOSSES = {
    "sparse_categorical_crossentropy": softmax_cross_entropy,
    "softmax_cross_entropy": softmax_cross_entropy,
}


def get_loss(loss):
    """A loss name from :data:`LOSSES`, or a callable ``(logits, labels) -> (loss, grad)``, as a callable."""
    if callable(loss):
        return loss
    try:
        return LOSSES[loss]
    except (KeyError, TypeError):
        raise ParameterError(
            f"`loss` must be one of {sorted(LOSSES)} or a callable (logits, labels) -> (loss, grad); "
            f"got loss={loss!r}."
        ) from None
