"""LeNet-5 (issue 4) as a :class:`~numpool.nn.Sequential` of :mod:`numpool.layers`."""

from __future__ import annotations

import numpy as np

from .._errors import ParameterError
from .model import Sequential

POOLS = {"max": "MaxPooling2D", "avg": "AveragePooling2D"}


def lenet5(pool="max", data_format="channels_last", seed=None, dtype="float32"):
    """LeNet-5 for 32x32 single-channel images and 10 classes, built and ready to compile.

    conv 6@5x5 -> ReLU -> pool 2 -> conv 16@5x5 -> ReLU -> pool 2 -> flatten -> dense 120
    -> ReLU -> dense 84 -> ReLU -> dense 10 (logits), 61,706 parameters.

    Parameters
    ----------
    pool : {"max", "avg"}
        2x2, stride-2 max or average pooling after each convolution.
    data_format : {"channels_last", "channels_first"}
        Input layout: ``(N, 32, 32, 1)`` or ``(N, 1, 32, 32)``.
    seed : int, optional
        Seed of the initial weights (Glorot-uniform kernels, zero biases, as Keras): each
        of the five layers with weights gets its own seed drawn from it. ``None``: fresh
        random weights.
    dtype : str or dtype
        Float dtype of the weights (``"float64"`` for finite-difference checks).

    Returns
    -------
    Sequential
        The model, built for inputs of shape ``(None, 32, 32, 1)`` (or ``(None, 1, 32, 32)``).
    """
    from .. import layers  # imported here: numpool.nn works without the layers module

    if pool not in POOLS:
        raise ParameterError(f"`pool` must be one of {sorted(POOLS)}; got pool={pool!r} for lenet5.")
    if data_format not in ("channels_last", "channels_first"):
        raise ParameterError(
            "`data_format` must be 'channels_last' or 'channels_first'; "
            f"got data_format={data_format!r} for lenet5."
        )
    Pool = getattr(layers, POOLS[pool])
    if seed is None:
        seeds = [None] * 5
    else:
        seeds = [int(s) for s in np.random.SeedSequence(seed).generate_state(5)]
    weights = {"dtype": dtype}
    model = Sequential([
        layers.Conv2D(6, 5, data_format=data_format, seed=seeds[0], **weights),
        layers.ReLU(),
        Pool(2, data_format=data_format),
        layers.Conv2D(16, 5, data_format=data_format, seed=seeds[1], **weights),
        layers.ReLU(),
        Pool(2, data_format=data_format),
        layers.Flatten(data_format=data_format),
        layers.Dense(120, seed=seeds[2], **weights),
        layers.ReLU(),
        layers.Dense(84, seed=seeds[3], **weights),
        layers.ReLU(),
        layers.Dense(10, seed=seeds[4], **weights),
    ], name=f"lenet5_{pool}")
    model.build((None, 32, 32, 1) if data_format == "channels_last" else (None, 1, 32, 32))
    return model
