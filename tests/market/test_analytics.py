"""Chain analytics against independent closed forms and constructed chains."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pytest

from market.analytics import analyze_chain, parity_residual, prob_itm, prob_touch, quote_mid_spread
from market.calendar import year_fraction
from market.data import OptionChain
from market.pricing import Contracts, bsm

AS_OF = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
EXPIRIES = [date(2026, 3, 20), date(2026, 6, 18)]


def _flat_chain(vol=0.25, rate=0.04, q=0.01, spot=100.0, half_spread=0.0) -> OptionChain:
    ks = np.arange(70.0, 131.0, 5.0)
    exp, strike, call = [], [], []
    for d in EXPIRIES:
        for c in (True, False):
            exp += [d] * len(ks)
            strike += list(ks)
            call += [c] * len(ks)
    exp_a = np.array(exp, dtype="datetime64[D]")
    strike_a = np.array(strike)
    call_a = np.array(call)
    t = year_fraction(AS_OF, exp_a)
    price = bsm(Contracts(spot, strike_a, t, rate, q, vol, call_a)).price
    return OptionChain.build(
        symbol="TEST",
        spot=spot,
        as_of=AS_OF,
        provider="test",
        dividend_yield=q,
        expiry=exp_a,
        strike=strike_a,
        is_call=call_a,
        bid=price - half_spread,
        ask=price + half_spread,
        last=price,
        volume=np.ones(len(strike)),
        open_interest=np.ones(len(strike)),
    )


def test_mid_spread_and_missing_sides():
    mid, spread, pct = quote_mid_spread(
        np.array([1.0, np.nan, 2.0, 0.0]), np.array([1.2, 1.0, 1.5, 0.1])
    )
    assert (
        mid[0] == pytest.approx(1.1)
        and spread[0] == pytest.approx(0.2)
        and pct[0] == pytest.approx(0.2 / 1.1)
    )
    assert np.isnan(mid[1]) and np.isnan(mid[2])  # missing bid; crossed market
    assert mid[3] == pytest.approx(0.05)


def test_flat_vol_chain_recovers_vol_atm_and_expected_move():
    chain = _flat_chain()
    a = analyze_chain(chain, 0.04, style="european")
    vega = bsm(Contracts(100.0, chain.strike, a.t, 0.04, 0.01, 0.25, chain.is_call)).vega
    informative = vega > 1e-4  # deep ITM short-dated quotes carry no time value to invert
    assert informative.sum() > 40
    assert np.all(a.iv_reason[informative] == "")
    assert np.allclose(a.iv[informative], 0.25, atol=1e-9)
    assert set(a.iv_reason[~informative]) <= {"", "below_intrinsic"}
    for s in a.expiries:
        assert s.atm_iv == pytest.approx(0.25, abs=1e-9)
        assert s.expected_move == pytest.approx(100.0 * 0.25 * np.sqrt(s.t), rel=1e-9)
        assert s.t == pytest.approx(year_fraction(AS_OF, s.expiry))
    assert np.allclose(a.parity_residual, 0.0, atol=1e-9)
    ref = bsm(Contracts(100.0, chain.strike, a.t, 0.04, 0.01, 0.25, chain.is_call))
    assert np.allclose(a.delta[informative], ref.delta[informative], atol=1e-8)
    assert a.model == "bsm"
    first = np.nonzero(chain.expiry == np.datetime64(EXPIRIES[0], "D"))[0]
    assert first.size == 26 and chain.is_call[first[6]] and a.iv[first[6]] == pytest.approx(0.25)


def test_american_chain_parity_is_a_bound_check():
    chain = _flat_chain(half_spread=0.01)
    a = analyze_chain(chain, 0.04, style="american")
    assert a.model == "american-qdfp"
    # European prices satisfy the American bounds, so the American residual is 0 everywhere
    assert np.allclose(a.parity_residual[np.isfinite(a.parity_residual)], 0.0)
    # a call priced far too high breaks the upper bound by the excess
    res = parity_residual(30.0, 1.0, 100.0, 80.0, 0.5, 0.04, 0.0, "american")
    assert res == pytest.approx(29.0 - (100 - 80 * np.exp(-0.02)))


def test_prob_itm_equals_digital_from_strike_derivative():
    K, T, r, q, vol = np.array([80.0, 100, 120]), 0.75, 0.03, 0.01, 0.3
    h = 1e-4
    for call in (True, False):
        dC = (
            bsm(Contracts(100, K + h, T, r, q, vol, call)).price
            - bsm(Contracts(100, K - h, T, r, q, vol, call)).price
        ) / (2 * h)
        digital = (-dC if call else dC) * np.exp(r * T)
        assert np.allclose(prob_itm(100, K, T, r, q, vol, call), digital, atol=1e-7)


def test_prob_touch_closed_form_and_monte_carlo():
    # zero drift (r - q = sigma^2 / 2): reflection principle gives 2 N(-b / (sigma sqrt T))
    from scipy.special import ndtr

    vol, T = 0.3, 0.5
    r, q = 0.05, 0.05 - 0.5 * vol**2
    for K in (110.0, 90.0):
        b = abs(np.log(K / 100.0))
        assert prob_touch(100, K, T, r, q, vol) == pytest.approx(
            2 * ndtr(-b / (vol * np.sqrt(T))), rel=1e-12
        )
    # with drift, against a Monte Carlo with a Brownian-bridge crossing correction
    rng = np.random.default_rng(5)
    n, steps, r, q = 20000, 200, 0.08, 0.0
    dt = T / steps
    mu = r - q - 0.5 * vol**2
    x = np.zeros(n)
    hit = np.zeros(n, bool)
    barrier = np.log(110.0 / 100.0)
    for _ in range(steps):
        x_new = x + mu * dt + vol * np.sqrt(dt) * rng.standard_normal(n)
        p_cross = np.exp(
            -2 * np.maximum(barrier - x, 0) * np.maximum(barrier - x_new, 0) / (vol**2 * dt)
        )
        hit |= (x_new >= barrier) | (rng.random(n) < p_cross)
        x = x_new
    assert prob_touch(100, 110.0, T, r, q, vol) == pytest.approx(hit.mean(), abs=0.012)


def test_unsolvable_quotes_have_reasons_not_exceptions():
    chain = _flat_chain()
    bid = chain.bid.copy()
    ask = chain.ask.copy()
    bid[0], ask[0] = np.nan, np.nan
    bid[1], ask[1] = 0.0, 0.0
    broken = OptionChain.build(
        symbol="TEST",
        spot=100.0,
        as_of=AS_OF,
        provider="test",
        dividend_yield=0.01,
        expiry=chain.expiry,
        strike=chain.strike,
        is_call=chain.is_call,
        bid=bid,
        ask=ask,
    )
    a = analyze_chain(broken, 0.04)
    assert a.iv_reason[0] == "no_price" and np.isnan(a.iv[0]) and np.isnan(a.delta[0])
