"""Numba kernels: loops over the canonical 5-D views, nothing else.

No validation and no allocation beyond per-thread scratch happen here; the callers in
``numpool.functional`` check every argument first.  Kernels compile on first use and are
cached on disk, so ``import numpool`` compiles nothing.
"""
