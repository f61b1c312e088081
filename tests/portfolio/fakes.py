"""A deterministic market for portfolio tests, priced independently with QuantLib.

The valuation instant is 16:00 New York on a trading day, so time to expiry is a whole number
of days / 365 and QuantLib's Actual/365 date arithmetic reproduces it exactly.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime

import numpy as np
import QuantLib as ql

from market.data import OptionChain, Quote, normalize_symbol
from market.errors import ProviderUnavailable, UnknownSymbol

AS_OF = datetime(2026, 4, 6, 20, 0, tzinfo=UTC)  # 16:00 EDT, Monday 6 April 2026
TODAY = date(2026, 4, 6)
SPOT = 200.0
PREV_CLOSE = 198.0
RATE = 0.04
# All in daylight-saving time, like AS_OF, so T is whole days / 365.
EXPIRIES = (
    date(2026, 4, 17),
    date(2026, 5, 15),
    date(2026, 6, 18),
    date(2026, 8, 21),
    date(2026, 10, 16),
)
STRIKES = tuple(float(k) for k in range(150, 255, 5))
SPOTS = {"GLD": SPOT, "SLV": 30.0}


def surface_vol(spot: float, strike: float, expiry: date) -> float:
    """A smile with skew and term structure (what the fake chain's prices embed)."""
    t = (expiry - TODAY).days / 365
    m = math.log(strike / spot)
    return 0.16 + 0.02 * math.sqrt(t) - 0.10 * m + 0.30 * m * m


def ql_option(
    spot: float,
    strike: float,
    expiry: date,
    vol: float,
    is_call: bool,
    *,
    today: date = TODAY,
    rate: float = RATE,
    div: float = 0.0,
    american: bool = True,
    fd: bool = False,
) -> ql.VanillaOption:
    ql.Settings.instance().evaluationDate = ql.Date(today.day, today.month, today.year)
    dc = ql.Actual365Fixed()
    ref = ql.Date(today.day, today.month, today.year)
    mat = ql.Date(expiry.day, expiry.month, expiry.year)
    process = ql.BlackScholesMertonProcess(
        ql.QuoteHandle(ql.SimpleQuote(spot)),
        ql.YieldTermStructureHandle(ql.FlatForward(ref, div, dc)),
        ql.YieldTermStructureHandle(ql.FlatForward(ref, rate, dc)),
        ql.BlackVolTermStructureHandle(ql.BlackConstantVol(ref, ql.NullCalendar(), vol, dc)),
    )
    payoff = ql.PlainVanillaPayoff(ql.Option.Call if is_call else ql.Option.Put, strike)
    if american:
        opt = ql.VanillaOption(payoff, ql.AmericanExercise(ref, mat))
        if fd:
            opt.setPricingEngine(ql.FdBlackScholesVanillaEngine(process, 800, 800))
        else:
            opt.setPricingEngine(
                ql.QdFpAmericanEngine(process, ql.QdFpAmericanEngine.accurateScheme())
            )
    else:
        opt = ql.VanillaOption(payoff, ql.EuropeanExercise(mat))
        opt.setPricingEngine(ql.AnalyticEuropeanEngine(process))
    return opt


def ql_price(
    spot: float, strike: float, expiry: date, vol: float, is_call: bool, **kw: object
) -> float:
    return float(ql_option(spot, strike, expiry, vol, is_call, **kw).NPV())  # type: ignore[arg-type]


class FakeMarket:
    """Implements ``quote``/``chain``/``health`` like ``market.service.MarketService``."""

    def __init__(self, stale: bool = False, down: bool = False) -> None:
        self.stale = stale
        self.down = down
        self.calls = {"quote": 0, "chain": 0}
        self._chains: dict[str, OptionChain] = {}

    def _check(self, symbol: str) -> str:
        s = normalize_symbol(symbol)
        if self.down:
            raise ProviderUnavailable("provider down")
        if s not in SPOTS:
            raise UnknownSymbol(f"unknown symbol {s}")
        return s

    def quote(self, symbol: str) -> Quote:
        s = self._check(symbol)
        self.calls["quote"] += 1
        spot = SPOTS[s]
        return Quote(
            symbol=s,
            spot=spot,
            prev_close=spot * PREV_CLOSE / SPOT,
            bid=spot - 0.01,
            ask=spot + 0.01,
            as_of=AS_OF,
            provider="fake",
            stale=self.stale,
            age_s=120.0 if self.stale else 0.0,
            dividend_yield=0.0,
        )

    def chain(self, symbol: str) -> OptionChain:
        s = self._check(symbol)
        self.calls["chain"] += 1
        if s not in self._chains:
            spot = SPOTS[s]
            rows = []
            strikes = STRIKES if s == "GLD" else tuple(k * spot / SPOT for k in STRIKES)
            for e in EXPIRIES:
                for k in strikes:
                    for call in (True, False):
                        p = ql_price(spot, k, e, surface_vol(spot, k, e), call)
                        rows.append((e, k, call, max(p - 0.05, 0.0), p + 0.05, p))
            cols = list(zip(*rows, strict=True))
            self._chains[s] = OptionChain.build(
                symbol=s,
                spot=spot,
                as_of=AS_OF,
                provider="fake",
                dividend_yield=0.0,
                expiry=np.array(cols[0], dtype="datetime64[D]"),
                strike=cols[1],
                is_call=cols[2],
                bid=cols[3],
                ask=cols[4],
                last=cols[5],
            )
        return self._chains[s].with_staleness(self.stale, 120.0 if self.stale else 0.0)

    def health(self) -> dict[str, object]:
        return {"ok": not self.down, "provider": "fake"}
