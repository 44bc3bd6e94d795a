"""Caches bounded in bytes, for the window tables and everything that holds them.

A window table has three int64 entries per output along an axis, so a long 1-D pool's
table is several times the size of its result; ``functools.lru_cache`` bounds entries by
count and kept hundreds of MB alive after the results were freed.  :func:`byte_cache`
keeps at most ``budget`` bytes of arrays per cache, least recently used first out, and
never keeps a result larger than an eighth of it (computing such a table again costs
little next to pooling the output it describes).
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict

import numpy as np

#: bytes each cache may keep alive
BUDGET = 32 * 2**20


def nbytes(value, _seen=None):
    """The bytes of the NumPy arrays ``value`` holds (in tuples, lists, dicts and the
    attributes of plain objects), each array counted once."""
    seen = set() if _seen is None else _seen
    if id(value) in seen:
        return 0
    seen.add(id(value))
    if isinstance(value, np.ndarray):
        base = value if value.base is None else value.base
        return nbytes(base, seen) if base is not value else value.nbytes
    if isinstance(value, (tuple, list)):
        return sum(nbytes(v, seen) for v in value)
    if isinstance(value, dict):
        return sum(nbytes(v, seen) for v in value.values())
    attributes = getattr(value, "__dict__", None)
    if attributes is not None and not isinstance(value, type):
        return sum(nbytes(v, seen) for v in attributes.values())
    return 0


class ByteCache:
    """A dict-like LRU cache that keeps at most ``budget`` bytes of arrays."""

    def __init__(self, budget=BUDGET, size=nbytes, limit=4096):
        self.budget = budget
        self.size = size
        self.limit = limit
        self.entries = OrderedDict()  # key -> (value, bytes)
        self.used = 0
        self.lock = threading.Lock()

    def get(self, key, default=None):
        with self.lock:
            hit = self.entries.get(key)
            if hit is None:
                return default
            self.entries.move_to_end(key)
            return hit[0]

    def put(self, key, value, cost=None):
        """Keep ``value`` unless it alone is over an eighth of the budget (``cost`` bytes, by
        default :attr:`size` of it); returns ``value``."""
        cost = self.size(value) if cost is None else cost
        if cost > self.budget // 8:
            return value
        with self.lock:
            old = self.entries.pop(key, None)
            if old is not None:
                self.used -= old[1]
            self.entries[key] = (value, cost)
            self.used += cost
            while self.used > self.budget or len(self.entries) > self.limit:
                _, (_, dropped) = self.entries.popitem(last=False)
                self.used -= dropped
        return value

    def clear(self):
        with self.lock:
            self.entries.clear()
            self.used = 0

    def __len__(self):
        return len(self.entries)

    def __contains__(self, key):
        return key in self.entries


def byte_cache(function):
    """Memoise ``function`` (hashable arguments) in a :class:`ByteCache`; read-only arrays
    in its results stay shared between callers."""
    cache = ByteCache()
    missing = object()

    @functools.wraps(function)
    def wrapper(*args):
        value = cache.get(args, missing)
        if value is missing:
            value = cache.put(args, function(*args))
        return value

    wrapper.cache = cache
    wrapper.cache_clear = cache.clear
    return wrapper


def table_bytes(spec):
    """What the window tables of a pooling spec cost, about: three int64 rows per output
    along each axis, kept as tables, divisor factors and kernel geometry."""
    outs = getattr(spec, "out_spatial", ())
    return 4 * 3 * 8 * (sum(outs) + 3)
