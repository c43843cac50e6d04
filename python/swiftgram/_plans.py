"""The core's plans, cached per signature, and the memory results are written into."""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import numpy as np

from . import _core
from ._arguments import parse_optimize


class LRUCache:
    """A bounded, thread-safe mapping from keys to values made on first use."""

    def __init__(self, size: int = 256):
        self._size = size
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key, make):
        """The value for key, made (and kept) on first use; a make() that returns None
        stores nothing."""
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
                return value
        value = make()
        if value is None:
            return None
        with self._lock:
            self._items[key] = value
            if len(self._items) > self._size:
                self._items.popitem(last=False)
        return value


_plans = LRUCache()


def get_plan(subscripts: str, shapes: list, optimize: Any):
    """The core's plan for these subscripts and shapes: repeated calls skip parsing and
    path search."""
    strategy, path, limit = parse_optimize(optimize, len(shapes))
    key = (subscripts, tuple(shapes), strategy, tuple(path), limit)

    def make():
        flat = [d for s in shapes for d in s]
        return _core.plan(subscripts, [len(s) for s in shapes], flat, strategy, path, limit)
    return _plans.get(key, make)


def aligned_empty(shape: tuple, dtype: np.dtype, order: Any = None) -> np.ndarray:
    """An uninitialised array whose data is 64-byte aligned (made by the shim, as the
    results of its fast path are); order: 'C', 'F', or its axes fastest first."""
    if order == "C":
        order = None
    elif order == "F":
        order = list(range(len(shape)))
    return _core.aligned_empty(shape, dtype, order)
