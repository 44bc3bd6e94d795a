"""Numba kernels: loops over the canonical 5-D views, nothing else.

No validation and no allocation beyond per-thread scratch happen here; the callers in
``numpool.functional`` check every argument first.  Kernels compile on first use and are
cached on disk, so ``import numpool`` compiles nothing.

Numba keys a cached kernel on its own source file's timestamp only, so a kernel that calls
a helper from another module here (``avgpool.avg_cl`` inlines ``_rows.sum_row_cl``) would go
on running the old helper after only that module changed (a ``git pull`` in an editable
install).  So each directory Numba may cache these kernels in (this package's
``__pycache__``, ``NUMBA_CACHE_DIR``, or Numba's user-wide cache for a read-only install) is
stamped with a digest of every module here, and its entries for this package are dropped
whole when the digest changes.  Reading the sources costs well under a millisecond at
import and compiles nothing.
"""

import hashlib
import os
from glob import glob

_FOLDER = os.path.dirname(os.path.abspath(__file__))


def _cache_dirs(folder):
    """``(directory, create)`` for each place Numba may keep this package's kernel caches
    (see ``numba.core.caching``): the in-tree ``__pycache__`` and ``NUMBA_CACHE_DIR``, which
    are created and stamped at once, and the user-wide cache of read-only installs, guarded
    only once it exists."""
    dirs = [(os.path.join(folder, "__pycache__"), True)]
    try:  # Numba's own naming of a source folder inside an external cache directory
        from numba.core import caching, config
        sub = caching._CacheLocator.get_suitable_cache_subpath(os.path.join(folder, "_rows.py"))
        if config.CACHE_DIR:
            dirs.append((os.path.join(config.CACHE_DIR, sub), True))
        dirs.append((os.path.join(caching.AppDirs(appname="numba", appauthor=False).user_cache_dir, sub), False))
    except Exception:  # another Numba layout: the in-tree cache is still guarded
        pass
    return dirs


def _drop_stale_cache(folder=_FOLDER, cache_dirs=None):
    digest = hashlib.sha256()
    for path in sorted(glob(os.path.join(folder, "*.py"))):
        with open(path, "rb") as f:
            digest.update(os.path.basename(path).encode() + b"\0" + f.read())
    digest = digest.hexdigest()
    for cache, create in _cache_dirs(folder) if cache_dirs is None else cache_dirs:
        stamp = os.path.join(cache, "numpool-kernels.sha256")
        try:
            with open(stamp) as f:
                if f.read() == digest:
                    continue
        except OSError:
            pass
        if not (create or os.path.isdir(cache)):
            continue
        try:
            for path in glob(os.path.join(cache, "*.nbi")) + glob(os.path.join(cache, "*.nbc")):
                os.remove(path)
            os.makedirs(cache, exist_ok=True)
            with open(stamp, "w") as f:
                f.write(digest)
        except OSError:  # not writable: Numba cannot have cached there either
            pass


_drop_stale_cache()
