"""Implied volatility: round trips, bounds and reason codes, robustness."""

from __future__ import annotations

import numpy as np
import pytest

from market.iv import implied_vol
from market.pricing import Contracts, american, bsm
from tests.market import oracle


def test_european_round_trip_1e10():
    S, K, days, r, q, vol, call = oracle.random_grid(3000, seed=21)
    T = days / 365
    g = bsm(Contracts(S, K, T, r, q, vol, call))
    res = implied_vol(g.price, S, K, T, r, q, call, style="european")
    # vol is only determined where the price depends on it: vega >= 1e-4 $ per vol point
    informative = g.vega >= 1e-4
    assert informative.sum() > 2000
    assert np.all(res.reason[informative] == "")
    assert np.max(np.abs(res.iv[informative] - vol[informative])) < 1e-10


def test_american_round_trip_1e6():
    S, K, days, r, q, vol, call = oracle.random_grid(600, seed=22, r_min=0.0)
    T = days / 365
    price = american(Contracts(S, K, T, r, q, vol, call))
    res = implied_vol(price, S, K, T, r, q, call, style="american")
    intrinsic = np.maximum(np.where(call, 1, -1) * (S - K), 0)
    vega = bsm(Contracts(S, K, T, r, q, vol, call)).vega
    informative = (price - intrinsic > 1e-3) & (vega > 1e-3)
    assert informative.sum() > 400
    assert np.all(res.reason[informative] == ""), res.reason[informative & (res.reason != "")]
    assert np.max(np.abs(res.iv[informative] - vol[informative])) < 1e-6


def test_american_iv_matches_quantlib_price():
    # prices from the oracle engine invert to the vol that produced them (to the oracle's accuracy)
    S, K, days, r, q, vol, call = oracle.random_grid(30, seed=23, r_min=0.0)
    prices = np.array(
        [oracle.american_qdfp(*a) for a in zip(S, K, days, r, q, vol, call, strict=True)]
    )
    res = implied_vol(prices, S, K, days / 365, r, q, call, style="american")
    vega = bsm(Contracts(S, K, days / 365, r, q, vol, call)).vega
    ok = (vega > 1e-2) & (res.reason == "")
    assert ok.sum() > 15
    assert np.allclose(res.iv[ok], vol[ok], atol=2e-4)


@pytest.mark.parametrize("style", ["european", "american"])
def test_out_of_bounds_get_reason_codes(style):
    S, T, r, q = 100.0, 0.5, 0.03, 0.0
    prices = np.array([np.nan, 0.0, -1.0, 150.0, 5.0, 5.0, 5.0])
    strikes = np.array([100, 100, 100, 100, 50, 100, 100.0])
    t = np.array([T, T, T, T, T, 0.0, T])
    call = np.array([True] * 7)
    res = implied_vol(prices, S, strikes, t, r, q, call, style=style)
    assert list(res.reason[:6]) == [
        "no_price",
        "no_price",
        "no_price",
        "above_upper_bound",
        "below_intrinsic",
        "no_time",
    ]
    assert np.all(np.isnan(res.iv[:6]))
    assert res.reason[6] == "" and 0.05 < res.iv[6] < 0.5


def test_garbage_never_raises():
    res = implied_vol(
        [1.0, np.inf, 2.0],
        [np.nan, 100, -5],
        [100, 100, 100],
        [1, np.nan, 1],
        0.05,
        0.0,
        [True, False, True],
    )
    assert np.all(np.isnan(res.iv))
    assert set(res.reason) <= {"no_time", "no_price"}


def test_deep_and_short_dated_contracts_converge():
    S = 100.0
    K = np.array([50, 70, 130, 200, 100, 100, 95, 105.0])
    T = np.array([1.0, 0.25, 0.25, 1.0, 1 / 365, 2 / 365 / 24, 3 / 365, 3 / 365])
    vol = np.array([0.6, 0.3, 0.3, 0.6, 0.2, 0.15, 0.25, 0.25])
    call = np.array([False, False, True, True, True, False, False, True])
    p = bsm(Contracts(S, K, T, 0.04, 0.01, vol, call)).price
    res = implied_vol(p, S, K, T, 0.04, 0.01, call, style="european")
    assert np.all(res.reason == "")
    assert np.allclose(res.iv, vol, atol=1e-8)
    pa = american(Contracts(S, K, T, 0.04, 0.01, vol, call))
    ra = implied_vol(pa, S, K, T, 0.04, 0.01, call, style="american")
    assert np.all(ra.reason == "")
    assert np.allclose(ra.iv, vol, atol=1e-6)


def test_shape_is_preserved_and_style_validated():
    res = implied_vol(np.full((2, 3), 5.0), 100, 100, 0.5, 0.03, 0, True, style="european")
    assert res.iv.shape == (2, 3) and res.reason.shape == (2, 3)
    with pytest.raises(ValueError):
        implied_vol(5.0, 100, 100, 0.5, 0.03, 0, True, style="asian")
