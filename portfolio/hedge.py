"""The hedge panel of a book: how much of the position is protected, at what floor and cap,
for how long, at what cost, and what needs attention.

Pure functions over the valued positions (:func:`portfolio.valuation.value_positions`). Floors
and caps are the book's value at expiry with every option at intrinsic, a piecewise-linear
function of the price with kinks at the strikes, so they are found exactly at the kinks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from market import calendar
from market.data import CONTRACT_MULTIPLIER, MarketInputs
from market.payoff import KIND_CALL, KIND_PUT, KIND_STOCK, value_at_expiry
from portfolio.valuation import (
    Array,
    PositionIn,
    days_until,
    year_fraction,
)

DEEP_ITM_MONEYNESS = 0.05
DEEP_ITM_DELTA = 0.90
RATIO_EPS = 1e-9


def _payoff(shares: float, legs: Sequence[PositionIn], s: Array) -> Array:
    """Value at spot ``s`` with every option leg at intrinsic (a lower bound for American)."""
    for p in legs:
        if p.strike is None:
            raise ValueError(f"option position {p.label} lacks a strike")
    kind = np.array(
        [[KIND_STOCK] + [KIND_CALL if p.is_call else KIND_PUT for p in legs]], dtype=np.int8
    )
    units = np.array([[shares] + [p.quantity * CONTRACT_MULTIPLIER for p in legs]])
    strike = np.array([[0.0] + [float(p.strike or 0.0) for p in legs]])
    return value_at_expiry(kind, units, strike, np.asarray(s, dtype=float)[None, :])[0]


def floor_and_cap(
    shares: float, legs: Sequence[PositionIn], spot: float
) -> tuple[float, float, float | None, float | None]:
    """(floor value, spot where it is reached, cap value or None, spot where the cap starts).

    The payoff with options at intrinsic is piecewise linear with kinks at the strikes, so its
    minimum over [0, spot] and maximum over [spot, ∞) are found at kinks or the ends.

    This is the book's floor *value*: the least it is worth at expiry if the price falls, which
    for a partial hedge is reached at S = 0. A candidate's floor in
    :func:`strategies.metrics.expiry_metrics` is the *price* below which its P&L stops falling,
    and a partial hedge has none. Both read the one payoff, :func:`market.payoff.value_at_expiry`.
    """
    strikes = sorted({float(p.strike) for p in legs if p.strike is not None})
    down = np.array(sorted({0.0, spot, *[k for k in strikes if k <= spot]}))
    vals = _payoff(shares, legs, down)
    fmin = float(np.min(vals))
    at = float(down[np.flatnonzero(np.isclose(vals, fmin, rtol=1e-12, atol=1e-6))].max())
    slope_inf = shares + sum(p.quantity * CONTRACT_MULTIPLIER for p in legs if p.is_call)
    if slope_inf > 1e-9:
        return fmin, at, None, None
    up = np.array(sorted({spot, *[k for k in strikes if k >= spot]}))
    uvals = _payoff(shares, legs, up)
    cmax = float(np.max(uvals))
    cap_at = float(up[np.flatnonzero(np.isclose(uvals, cmax, rtol=1e-12, atol=1e-6))].min())
    return fmin, at, cmax, cap_at


def hedge_panel(
    positions: Sequence[PositionIn],
    valued: dict[str, Any],
    mkt: MarketInputs,
    warning_days: int = 21,
) -> dict[str, Any]:
    as_of = mkt.as_of
    today = calendar.market_date(as_of)
    spot = mkt.spot
    shares = sum(p.share_equivalents for p in positions if not p.is_option)
    rows = {id(p): r for p, r in zip(positions, valued["positions"], strict=True)}
    live_opts = [p for p in positions if p.is_option and p.expiry and p.expiry >= today]
    long_puts = [p for p in live_opts if not p.is_call and p.quantity > 0]
    short_calls = [p for p in live_opts if p.is_call and p.quantity < 0]
    hedge_legs = long_puts + short_calls
    underlying_value = shares * spot
    total_value = valued["totals"]["value"]

    expiries = []
    for e in sorted({p.expiry for p in long_puts if p.expiry}):
        alive = [p for p in live_opts if p.expiry and p.expiry >= e]
        floor, floor_at, cap, cap_at = floor_and_cap(shares, alive, spot)
        puts_e = sum(p.quantity for p in long_puts if p.expiry and p.expiry >= e)
        expiries.append(
            {
                "expiry": e.isoformat(),
                "days": days_until(as_of, e),
                "put_contracts": puts_e,
                "hedge_ratio": puts_e * CONTRACT_MULTIPLIER / shares if shares > 0 else None,
                "floor_value": floor,
                "floor_pct": floor / total_value * 100 if total_value > 0 else None,
                "floor_per_share": floor / shares if shares > 0 else None,
                "floor_spot": floor_at,
                "cap_value": cap,
                "cap_pct": cap / total_value * 100 if cap is not None and total_value > 0 else None,
                "cap_spot": cap_at,
            }
        )
    cap_now = floor_and_cap(shares, live_opts, spot)[2:] if short_calls else (None, None)

    put_contracts = sum(p.quantity for p in long_puts)
    call_contracts = -sum(p.quantity for p in short_calls)
    cost_paid = sum(p.quantity * CONTRACT_MULTIPLIER * p.cost_basis for p in hedge_legs)
    per_year = 0.0
    for p in hedge_legs:
        if p.expiry is None:
            raise ValueError(f"option position {p.label} lacks an expiry")
        start = p.opened_on or today
        tenor = max((p.expiry - start).days, 1) / 365.0
        per_year += p.quantity * CONTRACT_MULTIPLIER * p.cost_basis / tenor
    current = sum(rows[id(p)]["value"] for p in hedge_legs)
    time_value = sum(
        (rows[id(p)]["price"] - rows[id(p)]["intrinsic"]) * p.quantity * CONTRACT_MULTIPLIER
        for p in hedge_legs
    )
    time_value_per_year = 0.0
    for p in hedge_legs:
        if p.expiry is None:
            raise ValueError(f"option position {p.label} lacks an expiry")
        t = max(year_fraction(as_of, p.expiry), 1 / 365)
        r = rows[id(p)]
        time_value_per_year += (r["price"] - r["intrinsic"]) * p.quantity * CONTRACT_MULTIPLIER / t

    def pct(x: float) -> float | None:
        return x / underlying_value * 100 if underlying_value > 0 else None

    nearest = min((p.expiry for p in long_puts if p.expiry), default=None)
    return {
        "shares": shares,
        "underlying_value": underlying_value,
        "put_contracts": put_contracts,
        "covered_shares": put_contracts * CONTRACT_MULTIPLIER,
        "hedge_ratio": put_contracts * CONTRACT_MULTIPLIER / shares if shares > 0 else None,
        "short_call_contracts": call_contracts,
        "call_cover_ratio": call_contracts * CONTRACT_MULTIPLIER / shares if shares > 0 else None,
        "floor": expiries[0] if expiries else None,
        "expiries": expiries,
        "cap_value": cap_now[0],
        "cap_spot": cap_now[1],
        "cost": {
            "paid": cost_paid,
            "paid_pct": pct(cost_paid),
            "paid_pct_per_year": pct(per_year),
            "current_value": current,
            "time_value": time_value,
            "time_value_pct_per_year": pct(time_value_per_year),
        },
        "nearest_expiry": nearest.isoformat() if nearest else None,
        "days_to_nearest_expiry": days_until(as_of, nearest) if nearest else None,
        "warning_days": warning_days,
        "warnings": hedge_warnings(positions, valued, mkt, warning_days, shares)
        + book_warnings(
            shares,
            put_contracts * CONTRACT_MULTIPLIER / shares if shares > 0 else None,
            expiries,
            float(valued["totals"]["greeks"]["delta_shares"]),
        ),
    }


def book_warnings(
    shares: float,
    hedge_ratio: float | None,
    expiries: Sequence[dict[str, Any]],
    net_delta: float,
) -> list[dict[str, Any]]:
    """What is wrong with the book as a whole (the adopt page's before/after says the same,
    :mod:`strategies.wholebook`): more puts than shares, a net short position, or an expiry
    whose live puts (expiring then or later) already cover more than the shares."""
    out: list[dict[str, Any]] = []
    if hedge_ratio is not None and hedge_ratio > 1 + RATIO_EPS:
        out.append(
            _warn(
                "over_hedged",
                "bad",
                f"Over-hedged: long puts cover {hedge_ratio * 100:.0f} % of the "
                f"{shares:,.0f} shares held (hedge ratio {hedge_ratio:.2f}).",
                None,
            )
        )
    if net_delta < -RATIO_EPS:
        out.append(
            _warn(
                "net_short",
                "bad",
                f"Net short: the book's delta is {net_delta:,.0f} shares; it gains when the "
                "price falls.",
                None,
            )
        )
    for e in expiries:
        ratio = e.get("hedge_ratio")
        if ratio is not None and ratio > 1 + RATIO_EPS:
            out.append(
                _warn(
                    "stacked_expiry",
                    "warn",
                    f"Hedges stacked on {e['expiry']}: the puts alive then cover "
                    f"{ratio * 100:.0f} % of the shares.",
                    None,
                )
            )
    return out


def hedge_warnings(
    positions: Sequence[PositionIn],
    valued: dict[str, Any],
    mkt: MarketInputs,
    warning_days: int,
    shares: float,
) -> list[dict[str, Any]]:
    as_of = mkt.as_of
    out: list[dict[str, Any]] = []
    has_put = False
    for p, row in zip(positions, valued["positions"], strict=True):
        if not p.is_option or p.expiry is None or p.strike is None:
            continue
        days = days_until(as_of, p.expiry)
        label = p.label or f"{p.expiry} {p.strike}{'C' if p.is_call else 'P'}"
        if days < 0:
            out.append(_warn("expired", "bad", f"{label} expired {-days} d ago; close it.", p))
            continue
        if p.quantity > 0 and not p.is_call:
            has_put = True
            if days <= warning_days:
                out.append(
                    _warn("hedge_expiring", "warn", f"Hedge {label} expires in {days} d.", p)
                )
        if p.quantity < 0 and days <= warning_days:
            money = (mkt.spot / p.strike - 1) if p.is_call else (1 - mkt.spot / p.strike)
            delta = abs(float(row["greeks"]["delta_shares"]) / (p.quantity * CONTRACT_MULTIPLIER))
            if money >= DEEP_ITM_MONEYNESS or delta >= DEEP_ITM_DELTA:
                kind = "call" if p.is_call else "put"
                out.append(
                    _warn(
                        "assignment_risk",
                        "bad",
                        f"Short {kind} {label} is deep in the money ({money * 100:.1f} %, "
                        f"Δ {delta:.2f}) {days} d before expiry: early assignment is likely.",
                        p,
                    )
                )
    if shares > 0 and not has_put:
        out.append(_warn("unhedged", "warn", "No long puts: the position is unprotected.", None))
    if mkt.stale:
        out.append(
            _warn("stale_data", "warn", f"Market data is stale ({mkt.age_s:.0f} s old).", None)
        )
    return out


def _warn(code: str, severity: str, message: str, p: PositionIn | None) -> dict[str, Any]:
    return {
        "code": code,
        "severity": severity,
        "message": message,
        "position_id": p.id if p else None,
    }
