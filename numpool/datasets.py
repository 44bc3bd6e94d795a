"""Handwritten digits for training numpool's models: scikit-learn's digits and MNIST's IDX files.

Both loaders return 32x32 single-channel images scaled to [0, 1], LeNet-5's input, as
``(x_train, y_train), (x_test, y_test)``:

- :func:`load_digits32`: the 1,797 8x8 digits that scikit-learn ships, upsampled 4x with
  :func:`numpool.interpolate` and split into a fixed, stratified held-out set;
- :func:`load_mnist`: the MNIST files, if you have them, padded from 28x28 to 32x32 as in
  LeCun et al. (1998).

:func:`shift_augment` adds randomly shifted copies of training images.

:func:`read_idx` and :func:`write_idx` read and write the IDX format of the MNIST files.
Importing this module needs only NumPy; :func:`load_digits32` imports scikit-learn.
"""

from __future__ import annotations

import gzip
import os
import zlib

import numpy as np

from . import _params
from ._errors import NumpoolError, ParameterError

__all__ = ["DatasetError", "IDX_DTYPES", "MNIST_FILES", "load_digits32", "load_mnist", "read_idx", "shift_augment",
           "write_idx"]

IDX_DTYPES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
              0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
"""IDX type code -> big-endian NumPy dtype (unsigned byte, signed byte, short, int, float, double)."""

MNIST_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
               "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
"""The four MNIST file names per split, as distributed (each may also end in ``.gz``)."""

_GZIP_MAGIC = b"\x1f\x8b"


class DatasetError(NumpoolError, ValueError):
    """A data file that is missing, malformed or inconsistent; the message names the file."""


# ---------------------------------------------------------------------------------------
# the IDX format


def read_idx(path):
    """Read an IDX file (the format of the MNIST files) into a NumPy array.

    An IDX file is a 4-byte magic number ``0x00 0x00 <type code> <ndim>``, then ``ndim``
    big-endian 32-bit dimensions, then the values in C order, big-endian, of the type in
    :data:`IDX_DTYPES`.  A gzip-compressed file (recognised by its first two bytes, whatever
    its name) is decompressed first.

    Parameters
    ----------
    path : str or path-like
        The file.

    Returns
    -------
    ndarray
        Of the header's shape, in the type code's dtype with native byte order (``uint8``
        for the MNIST files); a new, writable array.

    Raises
    ------
    DatasetError
        The file is not gzip-decompressible, has a wrong magic number or type code, or holds
        fewer or more bytes than its header announces.
    OSError
        The file cannot be read (``FileNotFoundError`` when it does not exist).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "labels-idx1-ubyte.gz")
    ...     write_idx(path, np.array([5, 0, 4], dtype=np.uint8))
    ...     read_idx(path)
    array([5, 0, 4], dtype=uint8)
    """
    path = os.fspath(path)
    with open(path, "rb") as file:
        data = file.read()
    if data[:2] == _GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise DatasetError(f"{path}: not a valid gzip file ({exc}).") from None
    if len(data) < 4 or data[:2] != b"\0\0" or data[2] not in IDX_DTYPES:
        codes = ", ".join(f"0x{code:02X}" for code in IDX_DTYPES)
        raise DatasetError(
            f"{path}: not an IDX file; its magic number {data[:4].hex(' ') or '(empty)'} is not "
            f"00 00 <type code: one of {codes}> <number of dimensions>."
        )
    dtype, ndim = IDX_DTYPES[data[2]], data[3]
    start = 4 + 4 * ndim
    if len(data) < start:
        raise DatasetError(f"{path}: truncated IDX header; {ndim} dimensions need {start} bytes, the file has "
                           f"{len(data)}.")
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) - start != expected:
        problem = "truncated" if len(data) - start < expected else "longer than its header says"
        raise DatasetError(f"{path}: IDX data {problem}; shape {shape} of {dtype.newbyteorder('=')} needs "
                           f"{expected:,} bytes after the header, the file has {len(data) - start:,}.")
    return np.frombuffer(data, dtype=dtype, offset=start).reshape(shape).astype(dtype.newbyteorder("="))


def write_idx(path, array):
    """Write ``array`` as an IDX file, gzip-compressed when ``path`` ends in ``.gz``.

    Parameters
    ----------
    path : str or path-like
        The file to create (or overwrite).
    array : array_like
        Of dtype uint8, int8, int16, int32, float32 or float64 (any byte order), with at
        most 255 dimensions, each below 2**31.

    Raises
    ------
    ParameterError
        The array's dtype has no IDX type code, or it has too many or too large dimensions.
    """
    array = np.asarray(array)
    codes = {dtype.newbyteorder("="): code for code, dtype in IDX_DTYPES.items()}
    code = codes.get(array.dtype.newbyteorder("="))
    if code is None:
        raise ParameterError(f"write_idx: IDX has no type code for dtype {array.dtype}; use one of "
                             f"{', '.join(str(d) for d in codes)}.")
    if array.ndim > 255 or any(d >= 2**31 for d in array.shape):
        raise ParameterError(f"write_idx: an IDX file holds at most 255 dimensions below 2**31; got shape "
                             f"{array.shape}.")
    data = (bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
            + np.ascontiguousarray(array, dtype=IDX_DTYPES[code]).tobytes())
    path = os.fspath(path)
    with open(path, "wb") as file:
        file.write(gzip.compress(data) if path.endswith(".gz") else data)


# ---------------------------------------------------------------------------------------
# data sets


def _images(images, scale, dtype, layout, op):
    """``(N, H, W)`` values -> ``images / scale`` in ``dtype``, with a channel axis for ``layout``."""
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise ParameterError(f"`dtype` must be a float dtype; got dtype={dtype} for {op}.")
    axis = -1 if _params.normalize_layout(layout, op) == "channels_last" else 1
    return np.expand_dims(images.astype(dtype) / dtype.type(scale), axis)


def load_digits32(seed=0, test_fraction=0.2, dtype="float32", layout="channels_last"):
    """scikit-learn's 8x8 handwritten digits, upsampled to 32x32, with a fixed held-out split.

    The 1,797 images of :func:`sklearn.datasets.load_digits` (pixel values 0 to 16) are
    upsampled 4x with :func:`numpool.interpolate` in ``"bilinear"`` mode
    (``align_corners=False``, PyTorch's default: the outer two pixels of each side repeat
    the border) and divided by 16.  Bilinear weights are convex, so the values stay in [0, 1].

    The split is stratified: within each class, a permutation drawn from
    ``numpy.random.default_rng(seed)`` sends ``round(test_fraction * count)`` images to the
    held-out set, so every class keeps its share.  The same seed gives the same split on
    every machine; each set is in the data set's original order.

    Parameters
    ----------
    seed : int
        Seed of the split.
    test_fraction : float
        Share of each class held out, in (0, 1); 0.2 holds out 359 images and trains on 1,438.
    dtype : str or dtype
        Float dtype of the images.
    layout : {"channels_last", "channels_first"}
        ``(N, 32, 32, 1)`` or ``(N, 1, 32, 32)`` images.

    Returns
    -------
    (x_train, y_train), (x_test, y_test) : tuples of ndarrays
        Images, and integer labels 0 to 9 (int64).

    Raises
    ------
    ImportError
        scikit-learn is not installed.
    """
    from sklearn.datasets import load_digits

    from .resample import interpolate

    op = "load_digits32"
    if not 0 < test_fraction < 1:
        raise ParameterError(f"`test_fraction` must lie in (0, 1); got test_fraction={test_fraction!r} for {op}.")
    digits = load_digits()  # (N, 8, 8) float64 images, values 0 to 16
    images = interpolate(digits.images[:, np.newaxis], size=(32, 32), mode="bilinear")[:, 0]
    labels = digits.target.astype(np.int64)
    rng = np.random.default_rng(seed)
    held_out = np.zeros(len(labels), dtype=bool)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        held_out[rng.permutation(members)[:round(test_fraction * len(members))]] = True
    x = _images(images, 16, dtype, layout, op)
    return (x[~held_out], labels[~held_out]), (x[held_out], labels[held_out])


def _mnist_file(directory, name):
    for candidate in (name, name + ".gz"):
        path = os.path.join(directory, candidate)
        if os.path.isfile(path):
            return path
    raise DatasetError(f"no MNIST file {name} (or {name}.gz) in {directory}.")


def load_mnist(directory, dtype="float32", layout="channels_last"):
    """MNIST from its four IDX files, padded to 32x32 and scaled to [0, 1].

    Parameters
    ----------
    directory : str or path-like
        Holds the files of :data:`MNIST_FILES` (``train-images-idx3-ubyte`` and so on), each
        plain or gzip-compressed (``.gz``).
    dtype : str or dtype
        Float dtype of the images.
    layout : {"channels_last", "channels_first"}
        ``(N, 32, 32, 1)`` or ``(N, 1, 32, 32)`` images.

    Returns
    -------
    (x_train, y_train), (x_test, y_test) : tuples of ndarrays
        The 28x28 ubyte images divided by 255 and zero-padded by 2 pixels on each side (as
        in LeCun et al., 1998), and the labels 0 to 9 (int64).

    Raises
    ------
    DatasetError
        A file is missing or malformed (see :func:`read_idx`), is not ubyte images of 28x28
        or ubyte labels 0 to 9, or a split has different numbers of images and labels.
    """
    directory = os.fspath(directory)
    splits = []
    for images_name, labels_name in MNIST_FILES.values():
        images_path, labels_path = _mnist_file(directory, images_name), _mnist_file(directory, labels_name)
        images, labels = read_idx(images_path), read_idx(labels_path)
        if images.dtype != np.uint8 or images.shape[1:] != (28, 28):
            raise DatasetError(f"{images_path}: expected ubyte images of shape (N, 28, 28); got {images.dtype} of "
                               f"shape {images.shape}.")
        if labels.dtype != np.uint8 or labels.ndim != 1 or np.any(labels > 9):
            raise DatasetError(f"{labels_path}: expected a 1-D array of ubyte labels 0 to 9; got {labels.dtype} "
                               f"of shape {labels.shape}" + (f", max {labels.max()}." if labels.size else "."))
        if len(images) != len(labels):
            raise DatasetError(f"{images_path} holds {len(images):,} images but {labels_path} {len(labels):,} "
                               "labels.")
        padded = np.pad(images, ((0, 0), (2, 2), (2, 2)))
        splits.append((_images(padded, 255, dtype, layout, "load_mnist"), labels.astype(np.int64)))
    return tuple(splits)


def shift_augment(x, y, copies=4, max_shift=2, seed=0, layout="channels_last"):
    """The images followed by ``copies`` randomly shifted copies of each, and their labels.

    Each copy moves its image by a whole number of pixels drawn uniformly from
    ``[-max_shift, max_shift]`` along each spatial axis (both axes independently, every
    image and copy its own draw); the pixels shifted in are zeros.

    Parameters
    ----------
    x : (N, H, W, C) or (N, C, H, W) ndarray
        The images, as ``layout`` says.
    y : (N,) ndarray
        Their labels.
    copies : int
        Shifted copies of each image; 0 returns ``x`` and ``y`` unchanged.
    max_shift : int
        Largest shift, in pixels, along each axis.
    seed : int
        Seed of the shifts (``numpy.random.default_rng``).
    layout : {"channels_last", "channels_first"}

    Returns
    -------
    x_augmented : ndarray
        ``(copies + 1) * N`` images: ``x``, then the first copy of every image, and so on.
    y_augmented : ndarray
        The labels in the same order.

    Examples
    --------
    >>> x = np.zeros((1, 5, 5, 1)); x[0, 2, 2, 0] = 1
    >>> xa, ya = shift_augment(x, np.array([7]), copies=3, max_shift=1)
    >>> xa.shape, ya.tolist(), xa.sum(axis=(1, 2, 3)).tolist()
    ((4, 5, 5, 1), [7, 7, 7, 7], [1.0, 1.0, 1.0, 1.0])
    """
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim != 4 or len(y) != len(x) or copies < 0 or max_shift < 0:
        raise ParameterError(f"shift_augment needs a 4-D batch of images, one label each, and copies, max_shift "
                             f">= 0; got x of shape {x.shape}, {len(y)} labels, copies={copies}, "
                             f"max_shift={max_shift}.")
    if _params.normalize_layout(layout, "shift_augment") == "channels_first":
        x_last, y_all = shift_augment(np.moveaxis(x, 1, -1), y, copies, max_shift, seed)
        return np.ascontiguousarray(np.moveaxis(x_last, -1, 1)), y_all
    n, h, w = x.shape[:3]
    p = int(max_shift)
    padded = np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))
    offsets = np.random.default_rng(seed).integers(0, 2 * p + 1, size=(copies, 2, n, 1, 1))
    items = np.arange(n)[:, None, None]
    shifted = [padded[items, dy + np.arange(h)[:, None], dx + np.arange(w)] for dy, dx in offsets]
    return np.concatenate([x] + shifted), np.tile(y, copies + 1)
