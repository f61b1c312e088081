"""State kept per running asyncio event loop (one loop per server process under daphne)."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class PerLoop(Generic[T]):
    """One ``factory()`` result per running event loop, forgotten when its loop is collected.

    For objects bound to the loop that created them (redis.asyncio clients, background tasks'
    bookkeeping): a test's second loop, or a restarted server's, gets a fresh one.
    """

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, T] = (
            weakref.WeakKeyDictionary()
        )

    def get(self) -> T:
        """The running loop's instance (created on first use); only from inside a coroutine."""
        loop = asyncio.get_running_loop()
        value = self._by_loop.get(loop)
        if value is None:
            value = self._by_loop[loop] = self._factory()
        return value
