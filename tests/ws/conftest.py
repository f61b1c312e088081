"""Fixtures for the WebSocket tests: in-memory layer, a fresh registry, a fake compute."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from asgiref.sync import SyncToAsync
from django.db import connections

from portfolio import consumers, publisher

INTERVAL_S = 0.5
IN_MEMORY = {"default": {"BACKEND": "portfolio.layers.FanoutInMemoryChannelLayer"}}


@pytest.fixture(autouse=True)
def close_consumer_connections() -> Any:
    """After each test, close the database connections of asgiref's shared sync thread.

    Async tests run the consumers' database calls in that one long-lived thread; its connection
    outlived the tests and kept PostgreSQL from dropping the test database at the end.
    """
    yield
    SyncToAsync.single_thread_executor.submit(connections.close_all).result(timeout=10)


class FakeCompute:
    """Stands in for ``live_snapshot``: distinct, checkable numbers on every call."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self._n = itertools.count(1)

    def __call__(self, symbol: str, portfolio_id: int | None = None) -> dict[str, Any]:
        self.calls.append(publisher.topic_key(symbol, portfolio_id))
        n = next(self._n)
        return {
            "symbol": symbol,
            "spot": 200.0 + n,
            "value": 1000.0 * n,
            "pnl": 10.0 * n,
            "day_change": -1.5,
            "greeks": {"delta": 0.5, "gamma": float("nan")},
            "hedge": {"floor": 180.0, "cost": 12.5},
            "stale": False,
            "ts": f"2026-01-01T00:00:{n % 60:02d}+00:00",
        }


@pytest.fixture
def ws_settings(settings):
    settings.CHANNEL_LAYERS = IN_MEMORY  # resets channels' layer cache (setting_changed)
    settings.WEBSOCKET_PUBLISHER = "external"  # tests start their own publisher
    settings.WEBSOCKET_INTERVAL_SECONDS = INTERVAL_S
    settings.LOGIN_REQUIRED = False
    settings.ALLOWED_HOSTS = ["localhost", "testserver"]
    return settings


@pytest.fixture
def registry(monkeypatch) -> publisher.MemoryRegistry:
    fresh = publisher.MemoryRegistry()
    monkeypatch.setattr(publisher, "_memory_registry", fresh)
    monkeypatch.setattr(consumers, "_known_symbols", {})
    return fresh


@pytest.fixture
def known_symbols(monkeypatch) -> Callable[[set[str]], None]:
    """Make the provider check accept exactly these symbols (market data is tested elsewhere)."""

    def install(symbols: set[str]) -> None:
        def check(symbol: str) -> None:
            if symbol not in symbols:
                raise consumers.SymbolError("unknown_symbol", f"{symbol} is unknown")

        monkeypatch.setattr(consumers, "_check_with_provider", check)

    install({"GLD", "SLV", "IAU"})
    return install
