"""Pricing against independent references: QuantLib, textbook values, parity, finite differences."""

from __future__ import annotations

import numpy as np
import pytest

from market import pricing
from market.pricing import (
    Contracts,
    american,
    american_greeks,
    american_lattice,
    bsm,
    price_options,
)
from tests.market import oracle

FIELDS = ("price", "delta", "gamma", "theta", "vega", "rho")


def _close(ours, ref, rel, abs_):
    ours, ref = np.asarray(ours), np.asarray(ref)
    return (np.abs(ours - ref) <= abs_) | (np.abs(ours - ref) <= rel * np.abs(ref))


def test_european_matches_quantlib_on_random_grid():
    S, K, days, r, q, vol, call = oracle.random_grid(400, seed=11)
    ours = bsm(Contracts(S, K, days / 365.0, r, q, vol, call))
    refs = [oracle.european(*a) for a in zip(S, K, days, r, q, vol, call, strict=True)]
    for f in FIELDS:
        ref = np.array([x[f] for x in refs])
        ok = _close(getattr(ours, f), ref, 1e-10, 1e-12)
        assert ok.all(), (f, np.nonzero(~ok)[0][:5], getattr(ours, f)[~ok][:3], ref[~ok][:3])


def test_american_matches_quantlib_qdfp_accurate_on_random_grid():
    S, K, days, r, q, vol, call = oracle.random_grid(1500, seed=12, r_min=0.0)
    ours = american(Contracts(S, K, days / 365.0, r, q, vol, call))
    ref = np.array(
        [oracle.american_qdfp(*a) for a in zip(S, K, days, r, q, vol, call, strict=True)]
    )
    ok = _close(ours, ref, 1e-4, 1e-3)
    assert ok.all(), list(zip(ours[~ok], ref[~ok], strict=True))[:5]


@pytest.mark.parametrize(
    ("name", "args", "expected", "tol"),
    [
        # Hull, Options Futures and Other Derivatives, Example 15.6: c = 4.76, p = 0.81
        ("hull-15.6-call", (42, 40, 0.5, 0.10, 0.0, 0.20, True), 4.7594, 5e-5),
        ("hull-15.6-put", (42, 40, 0.5, 0.10, 0.0, 0.20, False), 0.8086, 5e-5),
        # Haug, The Complete Guide to Option Pricing Formulas, generalized BSM put: 4.0870
        ("haug-gbs-put", (75, 70, 0.5, 0.10, 0.05, 0.35, False), 4.0870, 5e-5),
    ],
)
def test_textbook_european_values(name, args, expected, tol):
    assert bsm(Contracts(*args)).price == pytest.approx(expected, abs=tol), name


def test_textbook_american_put_hull():
    # Hull Example 21.1 (S=K=50, r=10 %, sigma=40 %, 5 months): tree values converge to ~4.28
    price = american(Contracts(50.0, 50.0, 5 / 12, 0.10, 0.0, 0.40, False))
    assert price == pytest.approx(4.28, abs=0.01)
    assert price > bsm(Contracts(50.0, 50.0, 5 / 12, 0.10, 0.0, 0.40, False)).price + 0.2


def test_put_call_parity_european():
    S, K, days, r, q, vol, _ = oracle.random_grid(300, seed=13)
    T = days / 365
    c = bsm(Contracts(S, K, T, r, q, vol, True)).price
    p = bsm(Contracts(S, K, T, r, q, vol, False)).price
    fwd_value = S * np.exp(-q * T) - K * np.exp(-r * T)
    assert np.allclose(c - p, fwd_value, rtol=1e-12, atol=1e-11)


def test_american_parity_bounds_and_dominance():
    S, K, days, r, q, vol, call = oracle.random_grid(300, seed=14, r_min=0.0)
    T = days / 365
    ca = american(Contracts(S, K, T, r, q, vol, True))
    pa = american(Contracts(S, K, T, r, q, vol, False))
    lo = S * np.exp(-q * T) - K
    hi = S - K * np.exp(-r * T)
    assert np.all(ca - pa >= lo - 1e-6) and np.all(ca - pa <= hi + 1e-6)
    w = np.where(call, 1.0, -1.0)
    a = american(Contracts(S, K, T, r, q, vol, call))
    assert np.all(a >= np.maximum(w * (S - K), 0.0) - 1e-12)
    assert np.all(a >= bsm(Contracts(S, K, T, r, q, vol, call)).price - 1e-9)


def test_bsm_greeks_match_finite_differences():
    S, K, days, r, q, vol, call = oracle.random_grid(200, seed=15)
    T = days / 365
    g = bsm(Contracts(S, K, T, r, q, vol, call))

    def p(**kw):
        args = {
            "spot": S,
            "strike": K,
            "t": T,
            "rate": r,
            "div_yield": q,
            "vol": vol,
            "is_call": call,
        }
        args.update(kw)
        return bsm(Contracts(**args)).price

    h = 1e-4 * S
    delta = (p(spot=S + h) - p(spot=S - h)) / (2 * h)
    gamma = (p(spot=S + h) - 2 * g.price + p(spot=S - h)) / h**2
    vega = (p(vol=vol + 1e-5) - p(vol=vol - 1e-5)) / 2e-5 / 100
    rho = (p(rate=r + 1e-6) - p(rate=r - 1e-6)) / 2e-6 / 100
    dt = 1e-5
    theta = -(p(t=T + dt) - p(t=T - dt)) / (2 * dt) / 365
    assert np.allclose(g.delta, delta, rtol=1e-6, atol=1e-8)
    assert np.allclose(g.gamma, gamma, rtol=1e-3, atol=1e-6)
    assert np.allclose(g.vega, vega, rtol=1e-6, atol=1e-8)
    assert np.allclose(g.rho, rho, rtol=1e-6, atol=1e-8)
    assert np.allclose(g.theta, theta, rtol=1e-5, atol=1e-8)


def test_american_greeks_against_quantlib_bumps():
    S, K, days, r, q, vol, call = oracle.random_grid(40, seed=16, r_min=0.0)
    days = np.maximum(days, 10)
    T = days / 365
    g = american_greeks(Contracts(S, K, T, r, q, vol, call))
    ql = oracle.american_qdfp
    for i in range(len(S)):
        a = (S[i], K[i], days[i], r[i], q[i], vol[i], call[i])
        h = 2e-3 * S[i]
        up = ql(S[i] + h, *a[1:])
        mid = ql(*a)
        dn = ql(S[i] - h, *a[1:])
        delta = (up - dn) / (2 * h)
        gamma = (up - 2 * mid + dn) / h**2
        vega = (
            (ql(*a[:5], vol[i] + 1e-4, call[i]) - ql(*a[:5], vol[i] - 1e-4, call[i])) / 2e-4 / 100
        )
        rho = ql(*a[:3], r[i] + 1e-4, *a[4:]) - ql(*a[:3], max(r[i] - 1e-4, 0.0), *a[4:])
        rho /= (r[i] + 1e-4 - max(r[i] - 1e-4, 0.0)) * 100
        theta = ql(S[i], K[i], days[i] - 1, r[i], q[i], vol[i], call[i]) - mid
        assert g.delta[i] == pytest.approx(delta, rel=2e-3, abs=2e-4), i
        assert g.gamma[i] == pytest.approx(gamma, rel=2e-2, abs=2e-4), i
        assert g.vega[i] == pytest.approx(vega, rel=5e-3, abs=2e-4), i
        assert g.rho[i] == pytest.approx(rho, rel=5e-3, abs=2e-4), i
        # one calendar day of decay vs the instantaneous per-day theta
        assert g.theta[i] == pytest.approx(theta, rel=0.1, abs=3e-3), i


def test_american_call_without_dividends_is_european():
    S, K, days, r, _, vol, _ = oracle.random_grid(100, seed=17, r_min=0.0)
    T = days / 365
    assert np.allclose(
        american(Contracts(S, K, T, r, 0.0, vol, True)),
        bsm(Contracts(S, K, T, r, 0.0, vol, True)).price,
        rtol=1e-13,
        atol=1e-13,
    )


def test_lattice_agrees_with_qdfp():
    S, K, days, r, q, vol, call = oracle.random_grid(60, seed=18, r_min=0.0)
    T = days / 365
    a = american(Contracts(S, K, T, r, q, vol, call))
    b = american_lattice(Contracts(S, K, T, r, q, vol, call), steps=600)
    assert np.all(_close(a, b, 2e-3, 3e-3)), np.max(np.abs(a - b))


@pytest.mark.parametrize("style", ["american", "european"])
def test_edge_cases_never_nan_or_raise(style):
    cases = np.array(
        [
            # S, K, T, r, q, vol
            (100, 100, 1e-6, 0.05, 0.0, 0.2),  # ~30 seconds
            (100, 100, 1 / 365 / 24, 0.05, 0.03, 0.2),  # one hour
            (100, 1, 1.0, 0.05, 0.0, 0.2),  # deep ITM call / deep OTM put
            (1, 100, 1.0, 0.05, 0.0, 0.2),
            (100, 100, 3.0, 0.01, 0.08, 0.2),  # r < q
            (100, 100, 3.0, 0.10, 0.0, 1.5),
            (100, 100, 3.0, 0.0, 0.0, 0.05),
            (100, 100, 2.0, -0.01, 0.02, 0.3),  # negative rate, q > r
            (100, 100, 2.0, -0.01, -0.02, 0.3),  # q < r < 0 (put double boundary -> lattice)
            (100, 120, 1.0, 0.05, 0.02, 0.0),  # zero vol
            (100, 80, 0.0, 0.05, 0.02, 0.2),  # expiry
        ]
    )
    for call in (True, False):
        S, K, T, r, q, vol = cases.T
        out = price_options(Contracts(S, K, T, r, q, vol, call), style=style)
        for f in FIELDS:
            assert np.all(np.isfinite(getattr(out, f))), (f, call, getattr(out, f))
        intrinsic = np.maximum((1 if call else -1) * (S - K), 0)
        if style == "american":
            assert np.all(out.price >= intrinsic - 1e-12)
    expired = price_options(Contracts(100, 80, 0.0, 0.05, 0.0, 0.2, True), style=style)
    assert expired.price == pytest.approx(20.0)


def test_invalid_inputs_give_nan_not_exceptions():
    bad = price_options(
        Contracts([np.nan, -1, 100, 100], [100, 100, 0, 100], [1, 1, 1, -1], 0.05, 0.0, 0.2, False)
    )
    assert np.all(np.isnan(bad.price))
    assert np.all(
        np.isnan(bsm(Contracts([np.nan, -1, 100], 100, 1, 0.05, 0, [0.2, 0.2, -0.1], True)).price)
    )


def test_model_is_reported_and_style_validated():
    assert (
        price_options(Contracts(100, 100, 1, 0.05, 0, 0.2, True), style="american").model
        == pricing.MODEL_QDFP
    )
    assert (
        price_options(Contracts(100, 100, 1, 0.05, 0, 0.2, True), style="european").model
        == pricing.MODEL_BSM
    )
    with pytest.raises(ValueError):
        price_options(Contracts(100, 100, 1, 0.05, 0, 0.2, True), style="bermudan")


def test_broadcasting_shapes():
    out = bsm(
        Contracts(100.0, np.array([[90.0], [110.0]]), np.array([0.5, 1.0]), 0.05, 0.0, 0.2, True)
    )
    assert out.price.shape == (2, 2)
    assert american(
        Contracts(100.0, np.array([[90.0], [110.0]]), np.array([0.5, 1.0]), 0.05, 0.01, 0.2, False)
    ).shape == (2, 2)


def test_contracts_flatten_in_broadcast_order_and_take_rows():
    contracts = Contracts(
        100.0, np.array([[90.0], [110.0]]), np.array([0.5, 1.0]), 0.05, 0.01, 0.2, [True, False]
    )
    assert contracts.shape == (2, 2)
    flat = contracts.flat()
    assert [a.shape for a in flat] == [(4,)] * 7
    assert flat.strike.tolist() == [90.0, 90.0, 110.0, 110.0]
    assert flat.t.tolist() == [0.5, 1.0, 0.5, 1.0]
    assert flat.is_call.dtype == bool and flat.is_call.tolist() == [True, False, True, False]
    rows = flat.take([3, 0])
    assert rows.strike.tolist() == [110.0, 90.0] and rows.is_call.tolist() == [False, True]
    # a contract's price does not depend on the batch it is priced in
    np.testing.assert_allclose(american(rows), american(contracts).ravel()[[3, 0]], rtol=1e-13)


def test_scalar_inputs_give_zero_dim_outputs():
    g = bsm(Contracts(100.0, 100.0, 1.0, 0.05, 0.0, 0.2, True))
    assert g.price.shape == () and g.gamma.shape == () and float(g.price) > 0
    assert american(Contracts(100.0, 100.0, 1.0, 0.05, 0.01, 0.2, False)).shape == ()
    assert price_options(Contracts(100.0, 100.0, 1.0, 0.05, 0.01, 0.2, False)).vega.shape == ()
    mixed = bsm(Contracts(100.0, 100.0, 1.0, 0.05, 0.0, 0.2, [True, False]))
    assert mixed.gamma.shape == (2,) and mixed.gamma[0] == mixed.gamma[1]
    mixed.delta[0] = 0.0  # outputs are writable arrays


def test_american_greeks_of_never_exercised_contracts_are_exact_bsm():
    S, K, days, r, _, vol, _ = oracle.random_grid(50, seed=19, r_min=0.0)
    T = days / 365
    am = price_options(Contracts(S, K, T, r, 0.0, vol, True), style="american")
    eu = bsm(Contracts(S, K, T, r, 0.0, vol, True))
    for f in FIELDS:
        assert np.array_equal(getattr(am, f), getattr(eu, f)), f
