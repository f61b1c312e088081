"""Put a market service of the test's own in place of the process-wide one, and the cache it
keeps its quotes and chains in."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from market.providers.synthetic import SyntheticProvider
from market.service import MarketService
from marketdata import service as marketdata


class DictCache:
    """Django-cache-like get/set in a dict. With a ``clock`` an entry expires ``timeout``
    seconds after it was set, on that clock (None = forever); without one nothing expires."""

    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        self.clock = clock
        self.data: dict[str, tuple[object, float | None]] = {}

    def get(self, key: str, default: object = None) -> object:
        value, expires = self.data.get(key, (default, None))
        if self.clock is not None and expires is not None and self.clock() >= expires:
            return default
        return value

    def set(self, key: str, value: object, timeout: float | None = None) -> None:
        self.data[key] = (
            value,
            None if self.clock is None or timeout is None else self.clock() + timeout,
        )


class Clock:
    """A test's hand-moved time in seconds: call it to read, add to ``t`` to move it."""

    def __init__(self) -> None:
        self.t = 1_800_000_000.0

    def __call__(self) -> float:
        return self.t


def clocked_service(providers: Any, clock: Clock, **options: Any) -> MarketService:
    """A service whose cache, wall clock and monotonic clock all read ``clock``."""
    return MarketService(providers, DictCache(clock), wall_clock=clock, monotonic=clock, **options)


def synthetic_service(at: datetime, seed: int = 7, **provider: Any) -> MarketService:
    """The synthetic market (4 % rate) stopped at ``at``, with the app's cache lifetimes."""
    return MarketService(
        SyntheticProvider(seed=seed, rate=0.04, clock=lambda: at, **provider),
        DictCache(),
        chain_ttl=300,
        quote_ttl=5,
        wall_clock=lambda: at.timestamp(),
    )


@contextmanager
def use_market_service(service: Any) -> Iterator[Any]:
    """Every caller of the process-wide service gets ``service`` until the block ends.

    The memos of computed results are cleared on the way in and out, so no result computed
    from another market leaks into or out of the block.
    """
    from portfolio.services import clear_memos as clear_portfolio
    from strategies import ranked
    from strategies import services as strategies

    def clear_memos() -> None:
        clear_portfolio()
        for memo in (strategies._solved, strategies._bodies, ranked._evaluated, ranked._bodies):
            memo.clear()

    saved = marketdata._service
    marketdata._service = service
    clear_memos()
    try:
        yield service
    finally:
        marketdata._service = saved
        clear_memos()


@contextmanager
def breaker_service(providers: Any, clock: Callable[[], float]) -> Iterator[MarketService]:
    """``providers`` behind the service the views use, in Django's cache but never served from
    it (no TTL), its breaker opening after 3 failures for 30 s of ``clock``; the demo seeded."""
    from django.core.cache import cache
    from django.core.management import call_command

    service = MarketService(
        providers,
        cache,
        chain_ttl=0,
        quote_ttl=0,
        failure_threshold=3,
        reset_timeout=30,
        monotonic=clock,
    )
    cache.clear()
    with use_market_service(service):
        call_command("seed_demo", verbosity=0)
        yield service
