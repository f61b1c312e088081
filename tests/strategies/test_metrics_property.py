"""Exact expiry metrics of random strategies against brute force on a dense price grid."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from strategies.legs import Leg
from strategies.metrics import LegArrays, expiry_metrics, lognormal_params

SPOT, R, VOL, T = 100.0, 0.03, 0.25, 0.5

option = st.builds(
    lambda kind, k, q, p: Leg(kind, q, float(k), None, p, t=T),
    st.sampled_from(["call", "put"]),
    st.integers(60, 140),
    st.sampled_from([-3, -2, -1, 1, 2, 3]),
    st.floats(0.05, 20, allow_nan=False),
)
strategy = st.tuples(
    st.sampled_from([0, 100, 200, -100]), st.lists(option, min_size=1, max_size=4)
).map(lambda t: ([Leg("stock", t[0], price=SPOT)] if t[0] else []) + t[1])


def pnl_at_expiry(legs: list[Leg], s: np.ndarray) -> np.ndarray:
    """P&L at expiry written out from the textbook payoffs, independent of the code under test:
    stock S − price per share; a call max(S − K, 0) − premium and a put max(K − S, 0) − premium
    per share, times 100 shares a contract; quantities signed."""
    total = np.zeros_like(s)
    for lg in legs:
        if lg.kind == "stock":
            total += lg.quantity * (s - lg.price)
            continue
        assert lg.strike is not None
        payoff = (
            np.maximum(s - lg.strike, 0.0) if lg.kind == "call" else np.maximum(lg.strike - s, 0.0)
        )
        total += lg.quantity * 100 * (payoff - lg.price)
    return total


def brute(legs: list[Leg]):
    grid = np.unique(
        np.concatenate([np.linspace(1e-9, 400, 40_001), [lg.strike for lg in legs if lg.strike]])
    )
    return grid, pnl_at_expiry(legs, grid)


@settings(max_examples=40, deadline=None)
@given(strategy)
def test_expiry_metrics_match_brute_force(legs: list[Leg]) -> None:
    arr = LegArrays.from_legs([legs])
    mu, sd = lognormal_params(SPOT, R, 0.0, np.array([VOL]), np.array([T]))
    m = expiry_metrics(arr, mu, sd)
    grid, pnl = brute(legs)
    # Slope of the P&L beyond the last strike: shares plus 100 per call contract.
    slope = sum(lg.quantity * (1 if lg.kind == "stock" else 100) for lg in legs if lg.kind != "put")
    scale = max(1.0, float(np.abs(pnl).max()))
    if slope < 0:
        assert m.min_pnl[0] == -math.inf
    else:
        assert abs(m.min_pnl[0] - pnl.min()) <= 1e-7 * scale
    if slope > 0:
        assert m.max_pnl[0] == math.inf
    else:
        assert abs(m.max_pnl[0] - pnl.max()) <= 1e-7 * scale
    # Breakevens: each reported one is a zero, and each sign change of the grid P&L is near one.
    bes = m.breakevens[0]
    for b in bes:
        assert abs(np.interp(b, grid, pnl)) <= 1e-6 * scale
    sign = np.sign(pnl)
    changes = np.flatnonzero(sign[:-1] * sign[1:] < 0)
    for i in changes:
        assert any(grid[i] - 1e-6 <= b <= grid[i + 1] + 1e-6 for b in bes)
    # Probability of profit: integrate the lognormal density over the grid where P&L > 0.
    dist = norm(loc=mu[0], scale=sd[0])
    cdf = dist.cdf(np.log(grid))
    mass = np.diff(cdf)
    mid_pnl = (pnl[:-1] + pnl[1:]) / 2
    tail = 1 - cdf[-1]
    pop = float(mass[mid_pnl > 0].sum()) + (tail if (pnl[-1] > 0 or slope > 0) else 0.0)
    assert abs(m.prob_profit[0] - pop) < 2e-3
