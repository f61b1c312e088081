"""A small deterministic chain (model prices around a smile) served by a fake market service."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from market.calendar import year_fraction
from market.data import OptionChain, Quote
from market.errors import UnknownSymbol
from market.pricing import Contracts, american

AS_OF = datetime(2025, 6, 2, 15, 0, tzinfo=UTC)
SPOT = 250.0
EXPIRIES = (
    date(2025, 6, 6),
    date(2025, 6, 20),
    date(2025, 7, 18),
    date(2025, 9, 19),
    date(2025, 12, 19),
)
# Every family of hedge the candidates of a share holding must include.
SHARE_HEDGE_FAMILIES = {
    "baseline",
    "protective_put",
    "collar",
    "zero_cost_collar",
    "put_spread",
    "put_spread_collar",
    "covered_call",
}


def make_chain(spot: float = SPOT, as_of: datetime = AS_OF, rate: float = 0.04) -> OptionChain:
    strikes = np.arange(190.0, 311.0, 2.5)
    exp, k, call = np.meshgrid(
        np.array(EXPIRIES, dtype="datetime64[D]"), strikes, np.array([True, False]), indexing="ij"
    )
    exp, k, call = exp.ravel(), k.ravel(), call.ravel()
    t = np.asarray(year_fraction(as_of, exp), dtype=float)
    m = np.log(k / spot)
    vol = 0.16 + 0.02 / np.sqrt(np.maximum(t, 1 / 365) * 12) - 0.25 * m + 0.6 * m**2
    mid = american(Contracts(spot, k, t, rate, 0.0, vol, call))
    half = np.maximum(0.01, 0.015 * mid)
    bid = np.round(np.maximum(mid - half, 0.0), 2)
    ask = np.round(mid + half, 2) + 0.01
    oi = (2000 * np.exp(-((m / 0.08) ** 2))).astype(int) + 5
    return OptionChain.build(
        symbol="GLD",
        spot=spot,
        as_of=as_of,
        provider="test",
        dividend_yield=0.0,
        expiry=exp,
        strike=k,
        is_call=call,
        bid=bid,
        ask=ask,
        last=np.round(mid, 2),
        volume=oi // 10,
        open_interest=oi,
    )


class FakeMarket:
    def __init__(self) -> None:
        self._chain = make_chain()

    def quote(self, symbol: str) -> Quote:
        self._check(symbol)
        return Quote(symbol, SPOT, SPOT - 1, SPOT - 0.01, SPOT + 0.01, AS_OF, "test")

    def chain(self, symbol: str) -> OptionChain:
        self._check(symbol)
        return self._chain

    def health(self) -> dict:
        return {"ok": True}

    def _check(self, symbol: str) -> None:
        if symbol != "GLD":
            raise UnknownSymbol(f"no data for {symbol}")


@pytest.fixture
def fake_market(monkeypatch) -> FakeMarket:
    fm = FakeMarket()
    monkeypatch.setattr("marketdata.service.get_market_service", lambda: fm)
    return fm


@pytest.fixture
def today_is_as_of(monkeypatch) -> None:
    """Pin the market calendar's date so adopted positions open on the quote's day."""
    from market import calendar

    monkeypatch.setattr(calendar, "_utcnow", lambda: AS_OF)


__all__ = ["AS_OF", "EXPIRIES", "SPOT", "timedelta"]
