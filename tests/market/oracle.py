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


def american_qdfp(spot, strike, days, r, q, vol, call, scheme: str = "accurate") -> float:
    """QuantLib QdFpAmericanEngine with its accurate scheme (or ``scheme="high"``: its
    high-precision scheme, ~40x slower)."""
    opt = ql.VanillaOption(_payoff(strike, call), ql.AmericanExercise(TODAY, TODAY + int(days)))
    iteration = (
        ql.QdFpAmericanEngine.highPrecisionScheme()
        if scheme == "high"
        else ql.QdFpAmericanEngine.accurateScheme()
    )
    opt.setPricingEngine(ql.QdFpAmericanEngine(_process(spot, r, q, vol), iteration))
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


def american_qdfp_at(spot, strike, t, r, q, vol, call, scheme: str = "accurate") -> float:
    """``american_qdfp`` at a fractional time to expiry ``t`` (years).

    QuantLib counts whole days, but a Black–Scholes price depends on time only through
    ``r t``, ``q t`` and ``vol^2 t``: the option is priced over one year with the rates and
    variance scaled by ``t``.
    """
    return american_qdfp(spot, strike, 365, r * t, q * t, vol * np.sqrt(t), call, scheme)


def american_qdfp_greeks(
    spot, strike, t, r, q, vol, call, scheme: str = "accurate", rate_step: float = 1e-4
) -> dict[str, float]:
    """Greeks of ``QdFpAmericanEngine(accurateScheme)`` by central differences, in our units.

    Steps scale with each variable so that truncation and the engine's own noise both stay
    below 1e-6 relative: spot ±1e-2 sigma sqrt(t) S with Richardson extrapolation (and half
    that step), maturity ±1e-3 t, vol ±1e-3 vol, rate ±min(rate_step, r/2). ``scheme="high"``
    differentiates the high-precision scheme instead; its price is smooth enough in r for a
    ``rate_step`` of 1e-5, which a spot near the exercise boundary needs (the rate bump moves
    the boundary across the spot and ±1e-4 then adds up to 3e-4 of curvature to rho).
    """

    def p(s=spot, tt=t, rr=r, v=vol):
        return american_qdfp_at(s, strike, tt, rr, q, v, call, scheme)

    mid = p()
    h = 1e-2 * vol * np.sqrt(t) * spot
    up, dn, up2, dn2 = p(s=spot + h), p(s=spot - h), p(s=spot + h / 2), p(s=spot - h / 2)
    delta = (4 * (up2 - dn2) / h - (up - dn) / (2 * h)) / 3
    gamma = (4 * (up2 - 2 * mid + dn2) / (h / 2) ** 2 - (up - 2 * mid + dn) / h**2) / 3
    dt, dv, dr = 1e-3 * t, 1e-3 * vol, min(rate_step, r / 2)
    return {
        "price": mid,
        "delta": delta,
        "gamma": gamma,
        "theta": -(p(tt=t + dt) - p(tt=t - dt)) / (2 * dt) / 365.0,
        "vega": (p(v=vol + dv) - p(v=vol - dv)) / (2 * dv) / 100.0,
        "rho": (p(rr=r + dr) - p(rr=r - dr)) / (2 * dr) / 100.0,
    }


def greek_scales(spot, strike, t, r, q, vol) -> dict[str, np.ndarray]:
    """The natural size of each Greek for a contract (its at-the-money order of magnitude),
    used to put an absolute floor under relative comparisons of Greeks near zero."""
    spot, strike, t, r, q, vol = (np.asarray(x, dtype=float) for x in (spot, strike, t, r, q, vol))
    sd = vol * np.sqrt(t)
    return {
        "price": strike,
        "delta": np.ones_like(sd),
        "gamma": 1.0 / (spot * sd),
        "theta": (spot * vol / np.sqrt(t) + r * strike + q * spot) / 365.0,
        "vega": spot * np.sqrt(t) / 100.0,
        "rho": (strike + spot) * t / 100.0,
    }
