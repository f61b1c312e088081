"""One lock per key, created on demand and dropped when nobody holds or waits for it.

Used so that concurrent misses on the same key do the work once: the first thread computes or
fetches, the others wait and then find the result (``MarketService`` fetches, the snapshot
memos in ``core.memo``).
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Iterator
from contextlib import contextmanager


class KeyedLock:
    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[Hashable, tuple[threading.Lock, int]] = {}

    @contextmanager
    def hold(self, key: Hashable) -> Iterator[None]:
        """Hold the lock for ``key`` (blocking while another thread holds it)."""
        with self._guard:
            lock, users = self._locks.get(key, (None, 0))
            if lock is None:
                lock = threading.Lock()
            self._locks[key] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                _, users = self._locks[key]
                if users == 1:
                    del self._locks[key]
                else:
                    self._locks[key] = (lock, users - 1)

    def waiting(self, key: Hashable) -> int:
        """Threads holding or waiting for ``key``."""
        with self._guard:
            return self._locks.get(key, (None, 0))[1]

    def __len__(self) -> int:
        """Keys currently held or waited for."""
        with self._guard:
            return len(self._locks)
