"""Numba kernels: loops over the canonical 5-D views, nothing else.

No validation and no allocation beyond per-thread scratch happen here; the callers in
``numpool.functional`` check every argument first.  Kernels compile on first use and are
cached on disk, so ``import numpool`` compiles nothing.

Numba keys a cached kernel on its own source file's timestamp only, so a kernel that calls
a helper from another module here (``avgpool.avg_cl`` inlines ``_rows.sum_row_cl``) would go
on running the old helper after only that module changed (a ``git pull`` in an editable
install).  So the cache in this package's ``__pycache__`` is stamped with a digest of every
module here and dropped whole when the digest changes: reading the sources costs well under
a millisecond at import and compiles nothing.
"""

import hashlib
import os
from glob import glob


def _drop_stale_cache(folder=os.path.dirname(os.path.abspath(__file__))):
    digest = hashlib.sha256()
    for path in sorted(glob(os.path.join(folder, "*.py"))):
        with open(path, "rb") as f:
            digest.update(os.path.basename(path).encode() + b"\0" + f.read())
    cache = os.path.join(folder, "__pycache__")
    stamp = os.path.join(cache, "numpool-kernels.sha256")
    try:
        with open(stamp) as f:
            if f.read() == digest.hexdigest():
                return
    except OSError:
        pass
    try:
        for path in glob(os.path.join(cache, "*.nbi")) + glob(os.path.join(cache, "*.nbc")):
            os.remove(path)
        os.makedirs(cache, exist_ok=True)
        with open(stamp, "w") as f:
            f.write(digest.hexdigest())
    except OSError:  # a read-only install: Numba then caches elsewhere, keyed the same way
        pass


_drop_stale_cache()
