"""QuantLib reference prices (the test oracle) on flat curves with ACT/365 and integer days."""

from __future__ import annotations

import numpy as np
import QuantLib as ql

TODAY = ql.Date(15, 6, 2025)
DC = ql.Actual365Fixed()


def _process(spot: float, r: float, q: float, vol: float) -> ql.BlackScholesMertonProcess:
    ql.Settings.instance().evaluationDate = TODAY
    return ql.BlackScholesMertonProcess(
        ql.QuoteHandle(ql.SimpleQuote(spot)),
        ql.YieldTermStructureHandle(ql.FlatForward(TODAY, q, DC)),
        ql.YieldTermStructureHandle(ql.FlatForward(TODAY, r, DC)),
        ql.BlackVolTermStructureHandle(ql.BlackConstantVol(TODAY, ql.NullCalendar(), vol, DC)),
    )


def _payoff(strike: float, call: bool) -> ql.PlainVanillaPayoff:
    return ql.PlainVanillaPayoff(ql.Option.Call if call else ql.Option.Put, strike)


def european(spot, strike, days, r, q, vol, call) -> dict[str, float]:
    """QuantLib AnalyticEuropeanEngine: price and Greeks converted to our units."""
    opt = ql.VanillaOption(_payoff(strike, call), ql.EuropeanExercise(TODAY + int(days)))
    opt.setPricingEngine(ql.AnalyticEuropeanEngine(_process(spot, r, q, vol)))
    return {
        "price": opt.NPV(),
        "delta": opt.delta(),
        "gamma": opt.gamma(),
        "theta": opt.thetaPerDay(),
        "vega": opt.vega() / 100.0,
        "rho": opt.rho() / 100.0,
    }


def american_qdfp(spot, strike, days, r, q, vol, call) -> float:
    """QuantLib QdFpAmericanEngine with its accurate scheme."""
    opt = ql.VanillaOption(_payoff(strike, call), ql.AmericanExercise(TODAY, TODAY + int(days)))
    opt.setPricingEngine(
        ql.QdFpAmericanEngine(_process(spot, r, q, vol), ql.QdFpAmericanEngine.accurateScheme())
    )
    return opt.NPV()


def random_grid(n: int, seed: int, r_min: float = -0.01, r_max: float = 0.10):
    """Moneyness S/K 0.5-2, T 1 day-3 years, vol 5-150 %, rates r_min-10 %, dividend 0-8 %."""
    rng = np.random.default_rng(seed)
    spot = np.full(n, 100.0)
    strike = spot / np.exp(rng.uniform(np.log(0.5), np.log(2.0), n))
    days = rng.integers(1, 3 * 365 + 1, n)
    vol = rng.uniform(0.05, 1.5, n)
    r = rng.uniform(r_min, r_max, n)
    q = rng.uniform(0.0, 0.08, n)
    call = rng.random(n) < 0.5
    return spot, strike, days, r, q, vol, call
