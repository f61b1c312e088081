"""A small thread-safe LRU memo for per-process caches of computed results."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

from market.keyedlock import KeyedLock

T = TypeVar("T")


class LRU:
    """Keeps the ``size`` most recently used entries; ``get`` returns None for a miss."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._data: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
        return None

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def values(self) -> list[Any]:
        with self._lock:
            return list(self._data.values())

    def __len__(self) -> int:
        return len(self._data)


class SnapshotMemo:
    """Results derived from one market-data snapshot, kept only while that snapshot is current.

    Entries live under a *scope* (a symbol) and the *snapshot* they were computed from (the
    chain's or quote's identity). Storing under a different snapshot drops the scope's older
    entries: they can never be asked for again once the market service hands out the newer
    data, and keeping them (as a plain LRU would until it filled) makes memory grow with every
    refresh for hours. Memory is bounded by ``scopes × per_snapshot`` entries.

    :meth:`get_or_compute` computes a missing entry once however many threads ask at the same
    time: under ASGI each request runs in its own thread, and when a snapshot turns over every
    in-flight request used to recompute the same result side by side (50 clients × 20 ms of
    valuation on one GIL made a one-second stall; the chain's IV solve, fifty times over).
    """

    def __init__(self, per_snapshot: int, scopes: int = 32) -> None:
        self.per_snapshot = per_snapshot
        self._scopes: LRU = LRU(scopes)
        self._lock = threading.Lock()
        self._flights = KeyedLock()

    def get_or_compute(self, scope: Any, snapshot: Any, key: Any, compute: Callable[[], T]) -> T:
        """The entry, computing it with ``compute()`` on a miss; concurrent misses wait for the
        first caller's result. If ``compute`` raises, the exception reaches its caller and the
        next waiter tries for itself."""
        hit = self.get(scope, snapshot, key)
        if hit is not None:
            return hit
        with self._flights.hold((scope, snapshot, key)):
            hit = self.get(scope, snapshot, key)
            if hit is None:
                hit = compute()
                self.put(scope, snapshot, key, hit)
            return hit

    def get(self, scope: Any, snapshot: Any, key: Any = None) -> Any:
        current = self._scopes.get(scope)
        if current is None or current[0] != snapshot:
            return None
        return current[1].get(key)

    def put(self, scope: Any, snapshot: Any, key: Any, value: Any) -> None:
        with self._lock:
            current = self._scopes.get(scope)
            if current is None or current[0] != snapshot:
                current = (snapshot, LRU(self.per_snapshot))
                self._scopes.put(scope, current)
        current[1].put(key, value)

    def clear(self) -> None:
        self._scopes.clear()

    def __len__(self) -> int:
        return sum(len(entries) for _, entries in self._scopes.values())
