"""Views between the user's array and the kernels' canonical 5-D view.

Kernels see either ``(N, C, D, H, W)`` ("cf": each (n, c) plane contiguous) or
``(N, D, H, W, C)`` ("cl": channels innermost).  1-D and 2-D inputs are lifted by inserting
size-1 spatial axes in front, and an unbatched input gets a size-1 batch axis; all of this
is done with views, never copies.

The kernel is chosen by how the array lies in memory, not by the ``layout`` argument: a
``channels_first`` array whose memory is channels-last (``np.transpose`` of an NHWC array,
or PyTorch's ``channels_last`` memory format seen through NumPy) runs the channels-last
kernel on a contiguous view, and its result keeps that memory order, as PyTorch does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from ._errors import ParameterError


@dataclass(frozen=True)
class View:
    """How a user's array maps onto a kernel's 5-D view, and back."""

    layout: str  # logical layout of the user's array
    nd: int  # spatial rank of the operation
    batched: bool
    memory: str  # "cf" or "cl": which kernel runs

    def spatial_shape(self, shape):
        """The spatial dims of a user-shaped array."""
        return tuple(shape[-self.nd - 1:-1]) if self.layout == "channels_last" else tuple(shape[-self.nd:])

    def with_spatial(self, shape, spatial):
        """A user-shaped array shape with its spatial dims replaced by ``spatial``."""
        shape = list(shape)
        if self.layout == "channels_last":
            shape[-self.nd - 1:-1] = spatial
        else:
            shape[-self.nd:] = spatial
        return tuple(shape)

    def to_kernel(self, array):
        """User-shaped array -> kernel view (5-D, in the kernel's memory order)."""
        a = array if self.batched else array[np.newaxis]
        if self.layout == "channels_last":  # (N, *S, C)
            a = a.reshape(a.shape[:1] + (1,) * (3 - self.nd) + a.shape[1:]) if self.nd < 3 else a
            return a if self.memory == "cl" else np.moveaxis(a, -1, 1)
        a = a.reshape(a.shape[:2] + (1,) * (3 - self.nd) + a.shape[2:]) if self.nd < 3 else a
        return a if self.memory == "cf" else np.moveaxis(a, 1, -1)

    def from_kernel(self, array):
        """Kernel view -> user-shaped array (undoes :meth:`to_kernel`, no copy)."""
        a = array
        if self.layout == "channels_last":
            if self.memory == "cf":
                a = np.moveaxis(a, 1, -1)
            a = a.reshape(a.shape[:1] + a.shape[4 - self.nd:])
        else:
            if self.memory == "cl":
                a = np.moveaxis(a, -1, 1)
            a = a.reshape(a.shape[:2] + a.shape[5 - self.nd:])
        return a if self.batched else a[0]

    def canonical(self, array):
        """User-shaped array -> ``(N, C, *S)`` ("cf") or ``(N, *S, C)`` ("cl") in the kernel's
        memory order, with its own number of spatial dims (no lift; no copy)."""
        a = array if self.batched else array[np.newaxis]
        if self.layout == "channels_last":
            return a if self.memory == "cl" else np.moveaxis(a, -1, 1)
        return a if self.memory == "cf" else np.moveaxis(a, 1, -1)

    def from_canonical(self, array):
        """Undoes :meth:`canonical` (no copy)."""
        a = array
        if self.layout == "channels_last":
            a = a if self.memory == "cl" else np.moveaxis(a, 1, -1)
        else:
            a = a if self.memory == "cf" else np.moveaxis(a, -1, 1)
        return a if self.batched else a[0]

    def kernel_shape(self, user_shape):
        """The 5-D kernel-view shape for a user-shaped array shape."""
        shape = tuple(user_shape) if self.batched else (1,) + tuple(user_shape)
        lift = (1,) * (3 - self.nd)
        if self.layout == "channels_last":
            n, spatial, c = shape[0], shape[1:-1], shape[-1]
        else:
            n, c, spatial = shape[0], shape[1], shape[2:]
        spatial = lift + tuple(spatial)
        return (n, c) + spatial if self.memory == "cf" else (n,) + spatial + (c,)

    def empty(self, user_shape, dtype):
        """A new user-shaped array whose memory follows the kernel's order; returns (user, kernel) views."""
        kernel = np.empty(self.kernel_shape(user_shape), dtype=dtype)
        return self.from_kernel(kernel), kernel

    def zeros(self, user_shape, dtype):
        kernel = np.zeros(self.kernel_shape(user_shape), dtype=dtype)
        return self.from_kernel(kernel), kernel


def _contiguous_as(array, layout, batched, nd, memory):
    probe = View(layout, nd, batched, memory)
    return probe.to_kernel(array).flags.c_contiguous


def plan_view(x, nd, layout, op):
    """Check ``x``'s rank for an ``nd``-dimensional operation and pick the kernel memory order."""
    if x.ndim not in (nd + 1, nd + 2):
        raise ParameterError(
            f"{op} expects a {nd + 2}-D batched input or a {nd + 1}-D unbatched input "
            f"({_layout_words(nd, layout)}); got an array of shape {x.shape}."
        )
    batched = x.ndim == nd + 2
    preferred = "cl" if layout == "channels_last" else "cf"
    other = "cf" if preferred == "cl" else "cl"
    memory = preferred
    if not _contiguous_as(x, layout, batched, nd, preferred) and _contiguous_as(x, layout, batched, nd, other):
        memory = other
    return View(layout, nd, batched, memory)


def _layout_words(nd, layout):
    spatial = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}.get(nd) or tuple(f"S{i}" for i in range(1, nd + 1))
    if layout == "channels_last":
        return f"(N, {', '.join(spatial)}, C) or ({', '.join(spatial)}, C) for layout='channels_last'"
    return f"(N, C, {', '.join(spatial)}) or (C, {', '.join(spatial)}) for layout='channels_first'"


def channel_block(n, c):
    """Channels per task of a channels-last scatter, parallel over (n, channel block) pairs:
    enough tasks for every thread (about four each) while no two tasks share a channel."""
    want = 4 * numba.get_num_threads()
    blocks = max(1, min(c, -(-want // max(n, 1))))  # at least one block, also for c == 0
    return max(1, -(-c // blocks))
