"""Hedge metrics on hand-worked cases, and probabilities against closed-form / quadrature values."""

from __future__ import annotations

import math

import pytest
from scipy import integrate
from scipy.stats import norm

from tests.strategies.legs import (
    T,
    call,
    ctx,
    evaluate,
    put,
    stock,
)


def test_protective_put_floor_breakeven_max_loss() -> None:
    # 100 shares at 100, one 95 put bought at 2.00: worst value 100 × (95 − 2) = 9,300.
    row = evaluate(stock(), put(95, 2.0))
    assert row["floor_price"] == 95
    assert row["floor_value"] == pytest.approx(9300)
    assert row["floor_pct"] == pytest.approx(93.0)
    assert row["breakevens"] == [pytest.approx(102.0)]
    assert row["max_loss"] == pytest.approx(700)
    assert row["max_gain"] is None and row["cap_price"] is None
    assert row["net_debit"] == pytest.approx(200)
    assert row["net_debit_pct"] == pytest.approx(2.0)
    assert row["annual_cost_pct"] == pytest.approx(2.0 / T)


def test_collar_cap_and_floor() -> None:
    # + short 110 call at 1.50: net debit 0.50/share, cap 100 × 110 − 50, floor 100 × 95 − 50.
    row = evaluate(stock(), put(95, 2.0), call(110, 1.5))
    assert row["net_debit"] == pytest.approx(50)
    assert row["cap_price"] == 110
    assert row["cap_value"] == pytest.approx(10950)
    assert row["cap_pct"] == pytest.approx(109.5)
    assert row["max_gain"] == pytest.approx(950)
    assert row["floor_value"] == pytest.approx(9450)
    assert row["max_loss"] == pytest.approx(550)
    assert row["breakevens"] == [pytest.approx(100.5)]


def test_put_spread_max_gain_and_loss() -> None:
    # Long 100 put at 4, short 90 put at 1 (no stock): debit 300, max gain (10 − 3) × 100.
    row = evaluate(put(100, 4.0), put(90, 1.0, qty=-1))
    assert row["net_debit"] == pytest.approx(300)
    assert row["max_gain"] == pytest.approx(700)
    assert row["max_loss"] == pytest.approx(300)
    assert row["breakevens"] == [pytest.approx(97.0)]
    # A put spread held with stock has no floor: losses resume below the short strike.
    held = evaluate(stock(), put(100, 4.0), put(90, 1.0, qty=-1))
    assert held["floor_price"] is None
    assert held["max_loss"] == pytest.approx(10000 + 300 - 1000)


def test_covered_call_and_naked_short_call() -> None:
    row = evaluate(stock(), call(105, 2.0))
    assert row["cap_value"] == pytest.approx(10500 + 200)
    assert row["max_loss"] == pytest.approx(10000 - 200)
    assert row["floor_price"] is None
    naked = evaluate(call(105, 2.0))
    assert naked["max_loss"] is None  # unlimited
    assert naked["max_gain"] == pytest.approx(200)


def _lognormal(spot: float, r: float, q: float, vol: float, t: float):
    mu = math.log(spot) + (r - q - 0.5 * vol**2) * t
    return norm(loc=mu, scale=vol * math.sqrt(t))


def test_probabilities_against_closed_form() -> None:
    spot, r, vol = 100.0, 0.04, 0.2
    row = evaluate(stock(), put(95, 2.0), vol=vol)
    d2 = (math.log(spot / 95) + (r - 0.5 * vol**2) * T) / (vol * math.sqrt(T))
    assert row["prob_floor"] == pytest.approx(norm.cdf(-d2), abs=1e-9)
    d2_be = (math.log(spot / 102) + (r - 0.5 * vol**2) * T) / (vol * math.sqrt(T))
    assert row["prob_profit"] == pytest.approx(norm.cdf(d2_be), abs=1e-9)
    # Expected P&L by quadrature of the payoff against the lognormal density.
    dist = _lognormal(spot, r, 0.0, vol, T)

    def pnl(s: float) -> float:
        return 100 * s + 100 * max(95 - s, 0) - 10200

    ev, _ = integrate.quad(
        lambda x: pnl(math.exp(x)) * dist.pdf(x),
        dist.ppf(1e-12),
        dist.ppf(1 - 1e-12),
        points=[math.log(95)],
        limit=200,
    )
    assert row["expected_pnl"] == pytest.approx(ev, abs=0.02)


def test_probability_of_profit_two_breakevens() -> None:
    # Long straddle: profit outside [K - c, K + c].
    r, vol = 0.04, 0.3
    row = evaluate(put(100, 5.0, qty=1), call(100, 5.0, qty=1), vol=vol)
    assert row["breakevens"] == [pytest.approx(90.0), pytest.approx(110.0)]
    dist = _lognormal(100.0, r, 0.0, vol, T)
    expected = dist.cdf(math.log(90)) + 1 - dist.cdf(math.log(110))
    assert row["prob_profit"] == pytest.approx(expected, abs=1e-9)


def test_net_greeks_include_stock_delta() -> None:
    row = evaluate(stock(), put(100, 4.0, iv=0.2))
    leg_delta = row["legs"][1]["delta"]
    assert -0.6 < leg_delta < -0.35
    assert row["greeks"]["delta"] == pytest.approx(100 + 100 * leg_delta, abs=1e-6)
    assert row["greeks"]["vega"] > 0


def test_assignment_risk_of_deep_itm_short_put() -> None:
    deep = put(130, 30.0, qty=-1, iv=0.15)
    row = evaluate(stock(), deep, c=ctx(rate=0.05))
    assert row["legs"][1]["assignment_risk"]["level"] == "high"
    otm = evaluate(stock(), call(120, 0.3))
    assert otm["assignment_risk"] == "low"
