"""The market provider failing, raising timeouts or returning garbage behind the served APIs.

The real service (cache, stale fallback, circuit breaker) wraps the synthetic provider; a
switch makes the provider misbehave. The APIs keep answering 200 with ``stale: true`` from the
last good data, the breaker stops calling the provider and lets it back in after its pause.
"""

from __future__ import annotations

import dataclasses
import math

import pytest

from market.errors import ProviderUnavailable
from market.providers import make_provider
from portfolio import services as portfolio_services
from tests.support.market import breaker_service

pytestmark = pytest.mark.django_db

PATHS = ("/api/portfolio?symbol=GLD", "/api/options?symbol=GLD", "/api/strategies?symbol=GLD")


class FlakyProvider:
    """The synthetic provider behind a switch: ok, fail, timeout or garbage."""

    name = "flaky"

    def __init__(self) -> None:
        self.inner = make_provider("synthetic", seed=7, rate=0.04)
        self.mode = "ok"
        self.calls = 0

    def _misbehave(self, value):
        self.calls += 1
        if self.mode == "fail":
            raise ProviderUnavailable("upstream said 502")
        if self.mode == "timeout":
            raise TimeoutError("read timed out after 10 s")
        if self.mode == "garbage":
            return dataclasses.replace(value, spot=math.nan)
        return value

    def quote(self, symbol):
        return self._misbehave(self.inner.quote(symbol))

    def chain(self, symbol):
        return self._misbehave(self.inner.chain(symbol))

    def history(self, symbol, days=30):
        return self.inner.history(symbol, days)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def flaky():
    provider = FlakyProvider()
    clock = Clock()
    with breaker_service(provider, clock) as service:
        yield provider, service, clock


def _stale_flags(client) -> list[tuple[str, int, object]]:
    out = []
    for path in PATHS:
        response = client.get(path)
        body = response.json() if response.status_code == 200 else {}
        stale = body.get("market", body.get("inputs", {})).get("stale") if body else None
        out.append((path, response.status_code, stale))
    return out


@pytest.mark.parametrize("mode", ["fail", "timeout", "garbage"])
def test_stale_data_breaker_and_recovery(client, flaky, mode) -> None:
    provider, service, clock = flaky
    healthy = _stale_flags(client)
    assert all(code == 200 for _, code, _ in healthy), healthy
    portfolio = client.get(PATHS[0]).json()
    assert portfolio["market"]["stale"] is False

    provider.mode = mode
    portfolio_services.clear_memos()
    during = [_stale_flags(client) for _ in range(3)]
    codes = [code for sweep in during for _, code, _ in sweep]
    assert all(code < 500 for code in codes), during
    assert all(code == 200 for code in codes), during
    stale_portfolio = client.get(PATHS[0]).json()
    assert stale_portfolio["market"]["stale"] is True
    assert stale_portfolio["market"]["spot"] == portfolio["market"]["spot"]  # last good value

    # Open: the provider is no longer called.
    assert service.breaker.state == "open"
    calls = provider.calls
    client.get(PATHS[0])
    assert provider.calls == calls
    health = client.get("/health").json()
    assert health["status"] == "degraded"
    assert health["checks"]["market_data"]["ok"] is False

    # The provider recovers; after the pause one trial call closes the breaker again.
    provider.mode = "ok"
    clock.now += 31
    portfolio_services.clear_memos()
    recovered = client.get(PATHS[0]).json()
    assert recovered["market"]["stale"] is False
    assert service.breaker.state == "closed"
