"""Whole-book hedging: a hedge judged on the book it leaves, not on the shares alone.

A *book* is the shares held plus the options already held plus (for a candidate) the new legs.

* :func:`held_legs` turns the held option positions into :class:`~strategies.legs.Leg` rows
  priced at their model value (the dashboard's mark), with the chain's implied vol;
* :func:`stack` appends those held legs as extra columns to the candidates' leg arrays
  (:class:`~strategies.metrics.LegArrays`), in one array operation (no loop over candidates): at a candidate's expiry the held legs that expire
  with or after it are valued at intrinsic, like the dashboard's floor (held legs that expire
  earlier are gone by then); the Greeks count every held leg;
* :func:`book_flags` gives, per candidate and vectorised, the resulting book's hedge ratio, net
  delta and warnings (over-hedged, net short, hedge stacked on a covered expiry);
* :func:`figures` / :func:`before_after` value a book of positions with the dashboard's own
  functions (:func:`portfolio.valuation.value_positions`, :func:`portfolio.hedge.hedge_panel`),
  so what the adopt page shows before and after is what the dashboard shows.

Warning definitions are the dashboard's (:func:`portfolio.hedge.book_warnings`): over-hedged
when long put contracts × 100 exceed the shares held; net short when the net delta is below
zero; stacked when, at some expiry, the long puts still alive then cover more than the shares.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
from numpy.typing import NDArray

from market.data import MarketInputs
from market.payoff import KIND_CALL, KIND_NONE, KIND_PUT, KIND_STOCK
from strategies.legs import FloatArray, Leg
from strategies.metrics import LegArrays

T_EPS = 1e-9
RATIO_EPS = 1e-9
WARNING_CODES = ("over_hedged", "net_short", "stacked_expiry")


@dataclass(frozen=True)
class HeldBook:
    """The options held in a symbol, as legs priced at their mark (empty: shares only)."""

    legs: tuple[Leg, ...] = ()

    @property
    def key(self) -> tuple[Any, ...]:
        """Hashable identity of the held legs (memo keys)."""
        return tuple(
            (lg.kind, lg.strike, lg.expiry, lg.quantity, round(lg.price, 6)) for lg in self.legs
        )

    def __bool__(self) -> bool:
        return bool(self.legs)


NO_HELD = HeldBook()


@dataclass(frozen=True)
class HeldOption:
    """One held option position, reduced to what the book evaluation needs."""

    is_call: bool
    strike: float
    expiry: date
    quantity: float  # signed contracts


def held_legs(
    ctx: MarketInputs,
    options: Sequence[HeldOption],
    t_of: dict[date, float],
    iv_of: dict[tuple[date, bool, float], float],
    atm_iv: dict[date, float],
) -> HeldBook:
    """Held options as legs: vol from the chain (that contract's IV, else the expiry's ATM IV,
    else 20 %), priced at that vol with the American model in one call; expired ones dropped.

    ``t_of`` maps expiry → years to expiry (the chain's clock).
    """
    live = [o for o in options if t_of.get(o.expiry, 0.0) > 0 and o.quantity != 0]
    if not live:
        return NO_HELD
    from market.pricing import Contracts, price_options

    vols = []
    for o in live:
        v = iv_of.get((o.expiry, o.is_call, o.strike), math.nan)
        if not (math.isfinite(v) and v > 0):
            v = atm_iv.get(o.expiry, math.nan)
        vols.append(v if math.isfinite(v) and v > 0 else 0.2)
    k = np.array([o.strike for o in live])
    t = np.array([t_of[o.expiry] for o in live])
    call = np.array([o.is_call for o in live])
    priced = price_options(
        Contracts(ctx.spot, k, t, ctx.rate, ctx.div_yield, np.array(vols), call), style="american"
    )
    price = np.asarray(priced.price, dtype=float).reshape(-1)
    return HeldBook(
        tuple(
            Leg(
                kind="call" if o.is_call else "put",
                quantity=o.quantity,
                strike=o.strike,
                expiry=o.expiry,
                price=float(price[i]),
                iv=float(vols[i]),
                t=float(t[i]),
                iv_source="held",
            )
            for i, o in enumerate(live)
        )
    )


def stack(legs: LegArrays, held: HeldBook, t_exp: FloatArray) -> tuple[LegArrays, LegArrays]:
    """Append ``held`` (H legs) to every row of the candidates' (N, L) leg arrays by
    broadcasting: (the whole book, the book at each candidate's expiry). In the second the held
    legs that expire before the candidate's expiry are padding (gone by then)."""
    n = legs.kind.shape[0]
    h = len(held.legs)
    codes = {"stock": KIND_STOCK, "call": KIND_CALL, "put": KIND_PUT}
    hk = np.array([codes[lg.kind] for lg in held.legs], dtype=np.int8)
    ht = np.array([lg.t for lg in held.legs], dtype=float)

    def wide(a: Any, b: Any) -> Any:
        return np.concatenate([a, np.broadcast_to(b, (n, h))], axis=1)

    units = wide(legs.units, [lg.units for lg in held.legs])
    strike = wide(legs.strike, [lg.strike or 0.0 for lg in held.legs])
    price = wide(legs.price, [lg.price for lg in held.legs])
    t = wide(legs.t, ht)
    iv = wide(legs.iv, [lg.iv if lg.iv is not None else np.nan for lg in held.legs])
    alive = ht[None, :] >= np.asarray(t_exp, dtype=float)[:, None] - T_EPS  # (N, H)
    at_expiry = np.concatenate([legs.kind, np.where(alive, hk[None, :], KIND_NONE)], axis=1)
    return (
        LegArrays(wide(legs.kind, hk).astype(np.int8), units, strike, price, t, iv),
        LegArrays(at_expiry.astype(np.int8), units, strike, price, t, iv),
    )


def book_flags(
    kind: NDArray[np.int8],
    units: FloatArray,
    t: FloatArray,
    shares: FloatArray,
    net_delta: FloatArray,
) -> tuple[FloatArray, list[list[str]]]:
    """(hedge ratio, warning codes) of each row's book, rows = candidates + held legs.

    Hedge ratio = long put units / shares (every live long put, as the dashboard counts it);
    stacked: at the expiry of some long put, the long puts alive then (expiring with or after
    it) cover more than the shares. Vectorised over rows × legs × expiries.
    """
    long_put = (kind == KIND_PUT) & (units > 0)
    put_units = np.where(long_put, units, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(
            shares > 0, put_units.sum(axis=1) / np.where(shares > 0, shares, 1), np.nan
        )
    # alive[r, e, j]: leg j is still alive at the expiry of leg e (both long puts).
    alive = t[:, None, :] >= t[:, :, None] - T_EPS
    covered = np.sum(np.where(alive, put_units[:, None, :], 0.0), axis=2)  # (N, W)
    stacked = np.any(long_put & (covered > shares[:, None] * (1 + RATIO_EPS)), axis=1) & (
        shares > 0
    )
    over = np.nan_to_num(ratio, nan=0.0) > 1 + RATIO_EPS
    short = net_delta < -RATIO_EPS
    codes = [
        [c for c, on in zip(WARNING_CODES, flags, strict=True) if on]
        for flags in zip(over.tolist(), short.tolist(), stacked.tolist(), strict=True)
    ]
    return ratio, codes


def strategy_t(legs: Sequence[Leg], default: float = 0.0) -> float:
    """Years to a strategy's expiry (its last option leg; ``default`` without options)."""
    return max((lg.t for lg in legs if lg.is_option), default=default)


def book_legs(legs: Sequence[Leg], held: HeldBook) -> tuple[Leg, ...]:
    """A strategy's legs plus every held leg: what its payoff and heat-map draw up to the
    strategy's expiry (``payoff_data(t_end=…)``). A held leg that expires first is worth its
    intrinsic value on the curves after its expiry (the payoff's rule for expired legs); the
    floor and cap in the metrics count only the held legs alive at the strategy's expiry."""
    return (*legs, *held.legs)


# --- the book before and after an adoption (the dashboard's own figures) ---------------------


FIGURES = (
    "hedge_ratio",
    "floor_value",
    "floor_pct",
    "floor_expiry",
    "cap_value",
    "cap_pct",
    "cost_per_year",
    "cost_pct_per_year",
    "net_delta",
    "delta_dollars",
    "gamma_shares",
    "vega_dollars",
    "theta_dollars",
)


def figures(panel: dict[str, Any], totals: dict[str, Any]) -> dict[str, Any]:
    """The book's headline figures from a hedge panel and valuation totals (dashboard terms)."""
    floor = panel.get("floor") or {}
    g = totals["greeks"]
    value = totals["value"]
    cap = panel.get("cap_value")
    per_year_pct = panel["cost"]["paid_pct_per_year"]
    return {
        "hedge_ratio": panel["hedge_ratio"],
        "floor_value": floor.get("floor_value"),
        "floor_pct": floor.get("floor_pct"),
        "floor_expiry": floor.get("expiry"),
        "cap_value": cap,
        "cap_pct": cap / value * 100 if cap is not None and value > 0 else None,
        "cost_per_year": (
            per_year_pct / 100 * panel["underlying_value"] if per_year_pct is not None else None
        ),
        "cost_pct_per_year": per_year_pct,
        "net_delta": g["delta_shares"],
        "delta_dollars": g["delta_dollars"],
        "gamma_shares": g["gamma_shares"],
        "vega_dollars": g["vega_dollars"],
        "theta_dollars": g["theta_dollars"],
        "warnings": [w for w in panel["warnings"] if w["code"] in WARNING_CODES],
    }


def as_positions(legs: Sequence[Leg], symbol: str, opened_on: date) -> list[Any]:
    """New option legs as the valuation's position rows (at the confirmed prices)."""
    from portfolio.valuation import PositionIn

    return [
        PositionIn(
            kind="option",
            quantity=lg.quantity,
            cost_basis=round(lg.price, 4),  # as the confirmation signs it and the ledger keeps it
            label=f"{symbol} {lg.expiry} {lg.strike:g}{'C' if lg.kind == 'call' else 'P'} (new)",
            expiry=lg.expiry,
            strike=lg.strike,
            is_call=lg.kind == "call",
            style="american",
            opened_on=opened_on,
        )
        for lg in legs
        if lg.is_option
    ]


def before_after(
    before: Sequence[Any],
    new_legs: Sequence[Leg],
    value: Any,
    symbol: str,
    opened_on: date,
) -> dict[str, Any]:
    """Figures of the book before and after adding ``new_legs``.

    ``value(positions) -> (hedge panel, valuation totals)`` values a list of position rows the
    way the dashboard does; warnings the adoption would add are listed under ``new_warnings``.
    """
    after_rows = [*before, *as_positions(new_legs, symbol, opened_on)]
    b = figures(*value(list(before)))
    a = figures(*value(after_rows))
    had = {w["code"] for w in b["warnings"]}
    return {
        "before": b,
        "after": a,
        "new_warnings": [w for w in a["warnings"] if w["code"] not in had],
        "rows": [
            {"name": name, "before": b[name], "after": a[name]}
            for name in FIGURES
            if name != "floor_expiry"
        ],
    }
