"""American Greeks against QuantLib's QdFp engine (accurate scheme), short expiries to LEAPS.

The reference is `oracle.american_qdfp_greeks`: central differences of QuantLib's price with
steps scaled to each variable, at fractional times to expiry. Errors are relative, with an
absolute floor of 1e-5 of each Greek's natural size (`oracle.greek_scales`) for Greeks near 0.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from market.pricing import Contracts, american, american_greeks, bsm
from market.qdfp import FINE, PRICE
from tests.market import oracle

FIELDS = ("delta", "gamma", "theta", "vega", "rho")
FLOOR = 1e-5


def _grid(n: int, seed: int):
    """Moneyness S/K 0.3-3, T 1 day-3 years (log-uniform, so short expiries are well
    represented), vol 5-150 %, r 0.5-10 %, q 0-8 %, calls and puts."""
    rng = np.random.default_rng(seed)
    spot = np.full(n, 100.0)
    strike = spot / np.exp(rng.uniform(np.log(0.3), np.log(3.0), n))
    t = np.exp(rng.uniform(np.log(1 / 365), np.log(3.0), n))
    vol = rng.uniform(0.05, 1.5, n)
    r = rng.uniform(0.005, 0.10, n)
    q = rng.uniform(0.0, 0.08, n)
    call = rng.random(n) < 0.5
    return spot, strike, t, r, q, vol, call


def _rel(ours, ref, floor):
    return np.abs(ours - ref) / np.maximum(np.abs(ref), floor)


def _greeks(args, accuracy):
    S, K, t, r, q, vol, call = args
    return american_greeks(Contracts(S, K, t, r, q, vol, call), accuracy)


def _errors(args, refs, accuracy=None):
    ours = _greeks(args, accuracy)
    scale = oracle.greek_scales(*args[:6])
    out = {}
    for f in FIELDS:
        ref = np.array([x[f] for x in refs])
        out[f] = _rel(getattr(ours, f), ref, FLOOR * scale[f])
    return out


def _best_of_both_schemes(args, refs, away):
    """Errors against QuantLib's accurate scheme or, for a contract where that is off by more
    than 1e-4, the nearer of it and the high-precision scheme (rate step 1e-5).

    The accurate scheme's own Greeks are not good to 1e-4 everywhere: on 2,000 random contracts
    it differs from the high-precision scheme by up to 7.9e-4 on rho, 2.2e-4 on theta and 4e-3
    on gamma (a 7-day put at 12 % vol), where ours agrees with the high-precision scheme
    (docs/benchmarks.md). The fallback is also returned, to check it is not the rule: for each
    contract consulted, per Greek, ours against the accurate scheme, ours against the
    high-precision one, and the accurate scheme against the high-precision one."""
    err = _errors(args, refs, FINE)
    worst = np.max([err[f] for f in FIELDS], axis=0)
    redo = np.nonzero(away & (worst >= 1e-4))[0]
    ours = _greeks(args, FINE)
    scale = oracle.greek_scales(*args[:6])
    gaps = {f: np.zeros((redo.size, 3)) for f in FIELDS}
    for j, i in enumerate(redo):
        S, K, t, r, q, vol, call = (x[i] for x in args)
        high = oracle.american_qdfp_greeks(S, K, t, r, q, vol, call, "high", 1e-5)
        for f in FIELDS:
            floor = FLOOR * float(scale[f][i])
            vs_high = _rel(float(getattr(ours, f)[i]), high[f], floor)
            gaps[f][j] = (err[f][i], vs_high, _rel(refs[i][f], high[f], floor))
            err[f][i] = min(err[f][i], vs_high)
    return err, redo, gaps


def _check_fallback(gaps):
    """Where the high-precision scheme was consulted, it did not hide an error of ours: the
    accurate scheme is itself more than 1e-4 off the high-precision one on some Greek, or ours
    is a near miss of the accurate scheme (under 2e-4 on every Greek: the two schemes differ
    by up to 2.2e-4 on theta and 7.9e-4 on rho off the band)."""
    for j in range(gaps["delta"].shape[0]):
        acc_off = max(gaps[f][j, 2] for f in FIELDS)
        ours_off = max(gaps[f][j, 0] for f in FIELDS)
        assert acc_off > 1e-4 or ours_off < 2e-4, {f: gaps[f][j] for f in FIELDS}


def _grid_with_refs(n, seed):
    args = _grid(n, seed=seed)
    refs = [oracle.american_qdfp_greeks(*a) for a in zip(*args, strict=True)]
    S, K = args[0], args[1]
    intrinsic = np.maximum(np.where(args[6], S - K, K - S), 0.0)
    time_value = np.array([x["price"] for x in refs]) - intrinsic
    # Within a sliver of the exercise boundary gamma jumps from 0 to ~2rK/(sigma S)^2 and no
    # approximation of the boundary agrees on which side a spot lies (QuantLib's accurate and
    # high-precision schemes disagree there on gamma by up to 27 %); that band is checked by
    # its own tests below.
    away = (intrinsic == 0) | (time_value > 1e-4 * K)
    return args, refs, away


@pytest.fixture(scope="module")
def grid_errors():
    """Greeks on the price path's boundary (PRICE, the default before issue 13 item 10) over
    the grid: what the fine boundary improves on."""
    args, refs, away = _grid_with_refs(240, 13)
    assert away.sum() > 180
    return {f: e[away] for f, e in _errors(args, refs, PRICE).items()}


def test_price_boundary_delta_within_1e_4_everywhere_off_the_boundary(grid_errors):
    assert grid_errors["delta"].max() < 1e-4


@pytest.mark.parametrize("field", ["gamma", "theta", "vega"])
def test_price_boundary_gamma_theta_vega_within_1e_3(grid_errors, field):
    err = grid_errors[field]
    assert np.mean(err < 1e-4) >= 0.97, np.sort(err)[-10:]
    assert err.max() < 1e-3


def test_price_boundary_rho(grid_errors):
    err = grid_errors["rho"]
    # the worst are deep in the money and short-dated at high vol: the boundary's accuracy
    assert np.mean(err < 1e-4) >= 0.85, np.sort(err)[-10:]
    assert np.mean(err < 1e-3) >= 0.99
    assert err.max() < 5e-3


@pytest.fixture(scope="module")
def fine_grid_errors():
    """The Greeks' boundary (FINE, the default of ``american_greeks``) over the same grid, the
    accurate scheme's outliers checked against the high-precision scheme."""
    args, refs, away = _grid_with_refs(240, 13)
    err, redo, gaps = _best_of_both_schemes(args, refs, away)
    return {f: e[away] for f, e in err.items()} | {"_redo": redo, "_gaps": gaps}


@pytest.mark.parametrize("field", FIELDS)
def test_fine_greeks_within_1e_4_off_the_boundary(fine_grid_errors, field):
    """Every contract of the grid (moneyness 0.3-3, T 1 day-3 years, vol 5-150 %) off the
    exercise band: every Greek, rho included, within 1e-4 relative, with a floor of 1e-5 of
    the Greek's natural size."""
    err = fine_grid_errors[field]
    assert err.max() < 1e-4, np.sort(err)[-5:]


def test_the_high_precision_fallback_is_the_exception(fine_grid_errors):
    """Most of the grid is checked against the accurate scheme alone; where the high-precision
    one was consulted, ours is the nearer of the two to it (else the fallback would be hiding
    an error of ours)."""
    assert fine_grid_errors["_redo"].size <= 12
    _check_fallback(fine_grid_errors["_gaps"])


@pytest.mark.slow
def test_fine_greeks_over_a_large_grid():
    """The fine boundary over 1,200 more contracts (about a minute: the high-precision scheme
    is consulted for the accurate scheme's outliers)."""
    args, refs, away = _grid_with_refs(1200, 101)
    err, _, gaps = _best_of_both_schemes(args, refs, away)
    for f in FIELDS:
        assert err[f][away].max() < 1e-4, (f, np.sort(err[f][away])[-5:])
    _check_fallback(gaps)


def test_fine_short_dated_put_at_the_boundary_of_a_shorter_maturity():
    """A 2.7-day put at S/K 0.95, 25 % vol: on the fast boundary gamma is 7e-4 off (the spot
    crosses the boundary of a shorter maturity); the fine one's 64 premium nodes resolve it.
    And a 7-day put at 12 % vol, where QuantLib's accurate scheme is 4e-3 off its own
    high-precision scheme on gamma and ours agrees with the latter."""
    for days, vol in ((2.744, 0.25), (7.0, 0.12)):
        args = (367.11, 367.11 / 0.95, days / 365, 0.04, 0.0, vol, False)
        ref = oracle.american_qdfp_greeks(*args, scheme="high", rate_step=1e-5)
        ours = american_greeks(Contracts(*args), accuracy=FINE)
        scale = oracle.greek_scales(*args[:6])
        for f in FIELDS:
            got, floor = float(getattr(ours, f)), FLOOR * float(scale[f])
            assert abs(got - ref[f]) <= max(1e-4 * abs(ref[f]), floor), (days, f, got, ref[f])


@pytest.mark.parametrize(
    "args",
    [
        (100.0, 67.916869, 0.061763, 0.025691, 0.024619, 0.610348, True),
        (100.0, 53.917878, 0.025687, 0.096289, 0.072729, 1.486186, True),
    ],
)
def test_rho_where_the_rate_exceeds_the_dividend_of_a_call(args):
    """In-the-money calls with r a little above q, 9-23 days, 60-150 % vol: in put space the
    boundary starts at K q/r and has a knee in sqrt(tau) that moves with r - q. The
    12-node boundary's rho is 3.3e-4 and 1.5e-4 off QuantLib's high-precision scheme (its
    accurate scheme agrees with the latter to 1.2e-5 and 3.5e-5); the rate bumps on the finer
    boundary (FINE.rho_q_above_r) bring it within 1e-4, and leave the other Greeks alone."""
    S, K, t, r, q, vol, call = args
    ref = oracle.american_qdfp_greeks(S, K, t, r, q, vol, call, scheme="high", rate_step=1e-5)
    floor = FLOOR * float(oracle.greek_scales(S, K, t, r, q, vol)["rho"])
    ours = american_greeks(Contracts(S, K, t, r, q, vol, call))
    coarse = american_greeks(
        Contracts(S, K, t, r, q, vol, call), accuracy=dataclasses.replace(FINE, rho_q_above_r=None)
    )
    assert _rel(float(ours.rho), ref["rho"], floor) < 1e-4
    assert _rel(float(coarse.rho), ref["rho"], floor) > 1.4e-4
    for f in ("price", "delta", "gamma", "theta", "vega"):
        assert float(getattr(ours, f)) == float(getattr(coarse, f)), f


@pytest.mark.parametrize(
    ("moneyness", "days"),
    [(m, d) for m in (0.85, 0.95, 1.0, 1.05, 1.2) for d in (1, 2.744, 7)],
)
def test_short_expiries(moneyness, days):
    """Where the spot bump was too coarse (sigma sqrt(T) S small, delta off by 2e-3): delta
    within 1e-4, the others within 1e-3 (gamma of the in-the-money put at 0.95 is the worst,
    7e-4: the boundary's approximation, not a step size)."""
    for call in (True, False):
        args = (367.11, 367.11 / moneyness, days / 365, 0.04, 0.0, 0.25, call)
        ref = oracle.american_qdfp_greeks(*args)
        ours = american_greeks(Contracts(*args))
        scale = oracle.greek_scales(*args[:6])
        for f in FIELDS:
            got = float(getattr(ours, f))
            floor = FLOOR * float(scale[f])
            rel = 1e-4 if f == "delta" else 1e-3
            assert abs(got - ref[f]) <= max(rel * abs(ref[f]), floor), (f, call, got, ref[f])


def test_issue_13_short_expiry_put():
    # 2026-12-04 349 put, S 367.11, t 0.007518, sigma 0.250384 (delta was -0.0092911)
    args = (367.11, 349.0, 0.007518, 0.04, 0.0, 0.250384, False)
    ref = oracle.american_qdfp_greeks(*args)
    ours = american_greeks(Contracts(*args))
    for f in FIELDS:
        assert float(getattr(ours, f)) == pytest.approx(ref[f], rel=1e-5), f


def test_issue_13_deep_in_the_money_put_near_the_boundary():
    # 2028-01-21 690 put, S 367.11, sigma 0.421298, t 1.139: a time value of $0.0096 on $323,
    # inside the band above. Gamma was 3 % off; it is the one the issue measured.
    args = (367.11, 690.0, 1.139, 0.04, 0.0, 0.421298, False)
    ref = oracle.american_qdfp_greeks(*args)
    ours = american_greeks(Contracts(*args))
    assert float(ours.delta) == pytest.approx(ref["delta"], rel=1e-5)
    assert float(ours.gamma) == pytest.approx(ref["gamma"], rel=5e-4)
    assert float(ours.theta) == pytest.approx(ref["theta"], rel=3e-3)
    assert float(ours.vega) == pytest.approx(ref["vega"], rel=3e-3)
    assert float(ours.rho) == pytest.approx(ref["rho"], rel=5e-3)


def test_exercise_region_is_exactly_linear():
    """Below the put boundary (above the call's) the value is S - K linear: delta -1 / +1,
    gamma, theta and vega 0, and the price is intrinsic."""
    put = american_greeks(Contracts([100.0, 150.0], 400.0, 1.0, 0.05, 0.0, 0.3, False))
    assert np.array_equal(put.price, [300.0, 250.0])
    assert np.array_equal(put.delta, [-1.0, -1.0])
    assert np.array_equal(put.gamma, [0.0, 0.0])
    assert np.array_equal(put.theta, [0.0, 0.0])
    assert np.array_equal(put.vega, [0.0, 0.0])
    call = american_greeks(Contracts(400.0, 100.0, 0.5, 0.01, 0.08, 0.3, True))
    assert float(call.price) == 300.0 and float(call.delta) == 1.0 and float(call.gamma) == 0.0


def test_gamma_jumps_to_the_smooth_pasting_limit_at_the_boundary():
    """Just above the put boundary the PDE with theta -> 0 gives gamma -> 2(rK - qS)/(sigma S)^2;
    just below, 0. Walk the spot up through the boundary of a deep ITM put."""
    K, T, r, q, sig = 100.0, 1.0, 0.06, 0.0, 0.3
    spots = np.linspace(55.0, 80.0, 2001)
    g = american_greeks(Contracts(spots, K, T, r, q, sig, False))
    cont = g.gamma > 0
    first = np.argmax(cont)
    assert 0 < first < spots.size - 1 and cont[first:].all() and not cont[:first].any()
    b = spots[first]
    limit = 2 * (r * K - q * b) / (sig * b) ** 2
    assert g.gamma[first] == pytest.approx(limit, rel=2e-2)
    # smooth pasting: delta is continuous at the boundary (to the boundary's accuracy)
    assert np.all(g.delta[:first] == -1.0) and g.delta[first] == pytest.approx(-1.0, abs=5e-3)


def test_zero_vol_american_is_the_best_deterministic_exercise_time():
    """With sigma = 0 the holder picks the exercise time t in [0, T] that maximises the
    discounted payoff w (S e^{-qt} - K e^{-rt}); checked against a brute-force search."""
    cases = [
        # S, K, T, r, q, call: exercise now, at expiry, and at an interior optimum
        (100.0, 120.0, 1.0, 0.05, 0.02, False),
        (120.0, 100.0, 1.0, 0.01, 0.05, True),
        (50.0, 100.0, 20.0, 0.02, 0.06, False),  # optimum at t = ln(1.5)/0.04 = 10.1 years
        (150.0, 100.0, 20.0, 0.06, 0.02, True),
        (100.0, 105.0, 2.0, 0.03, 0.0, True),  # out of the money forever: 0
    ]
    tt = np.linspace(0.0, 1.0, 200_001)
    for S, K, T, r, q, call in cases:
        w = 1.0 if call else -1.0
        brute = np.max(np.maximum(w * (S * np.exp(-q * tt * T) - K * np.exp(-r * tt * T)), 0.0))
        assert american(Contracts(S, K, T, r, q, 0.0, call)) == pytest.approx(
            brute, rel=1e-9, abs=1e-12
        )
    interior = american(Contracts(50.0, 100.0, 20.0, 0.02, 0.06, 0.0, False))
    assert interior == pytest.approx(54.43, abs=0.01)
    assert interior > max(50.0, 100 * np.exp(-0.4) - 50 * np.exp(-1.2)) + 2.0


def test_never_exercised_short_expiry_matches_bsm_exactly():
    # A call without dividends is European, at every maturity down to one hour.
    t = np.array([1 / 365 / 24, 1 / 365, 7 / 365])
    am = american_greeks(Contracts(100.0, 101.0, t, 0.05, 0.0, 0.2, True))
    eu = bsm(Contracts(100.0, 101.0, t, 0.05, 0.0, 0.2, True))
    assert np.array_equal(am.delta, eu.delta) and np.array_equal(am.theta, eu.theta)


def test_gld_like_puts():
    """The product's own case: GLD puts (no dividend, r 4 %, vol 10-45 %), S/K 0.5-2."""
    rng = np.random.default_rng(5)
    n = 150
    S = np.full(n, 367.11)
    K = S / np.exp(rng.uniform(np.log(0.5), np.log(2.0), n))
    t = np.exp(rng.uniform(np.log(1 / 365), np.log(3.0), n))
    vol = rng.uniform(0.10, 0.45, n)
    args = (S, K, t, np.full(n, 0.04), np.zeros(n), vol, np.zeros(n, dtype=bool))
    refs = [oracle.american_qdfp_greeks(*a) for a in zip(*args, strict=True)]
    time_value = np.array([x["price"] for x in refs]) - np.maximum(K - S, 0.0)
    away = (K <= S) | (time_value > 1e-4 * K)
    err = {f: e[away] for f, e in _errors(args, refs).items()}
    assert err["delta"].max() < 1e-4 and err["gamma"].max() < 1e-4
    for f in ("theta", "vega", "rho"):
        assert np.mean(err[f] < 1e-4) >= 0.97, (f, np.sort(err[f])[-5:])
        assert err[f].max() < 1e-3, f


def test_price_options_keeps_the_price_paths_price():
    """``price_options``: Greeks from the Greeks' boundary (FINE), the price from the price
    path (the one implied vols are solved against), so a contract priced at its own implied
    vol keeps its quote; the fine Greeks are within 1e-4 of QuantLib where the price path's
    are not."""
    from market.pricing import price_options

    args = (367.11, 380.0, 21 / 365, 0.04, 0.0, 0.25, False)  # in the money, 3 weeks
    priced = price_options(Contracts(*args), style="american")
    assert float(priced.price) == float(american(Contracts(*args)))
    fine = american_greeks(Contracts(*args))
    for f in FIELDS:
        assert float(getattr(priced, f)) == float(getattr(fine, f)), f
    assert priced.model == "american-qdfp"
    q = oracle.american_qdfp_greeks(*args)
    for f in FIELDS:
        assert float(getattr(priced, f)) == pytest.approx(q[f], rel=1e-4), f
