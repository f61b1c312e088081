"""Rolling a hedge: for each held hedge expiry, the roll candidates and what each costs.

A *roll* closes every option leg held in one expiry (the puts of a protective hedge, and the
short calls of a collar with them) and opens the same legs, same contracts, in a later expiry,
each strike moved by the same amount: unchanged, or down or up by a fraction of spot, snapped to
the listed strike nearest the target that has a two-sided quote.

Prices follow adoption (:func:`strategies.legs.exec_price`): in the default ``ask_bid`` mode a
long leg is closed at the bid and opened at the ask, a short leg bought back at the ask and sold
at the bid; ``mid`` uses the mid quote for every leg. For each candidate:

* ``debit`` — $ paid (+) or received (−) for the whole roll: Σ new qty × open price × 100 −
  Σ held qty × close price × 100;
* ``cost_per_added_day`` — the debit over the calendar days the hedge gains (new expiry − old);
* ``floor_value`` / ``cap_value`` — the book's value at the new expiry with every option alive
  then at intrinsic (the old legs gone, the new ones and any other held option of a later
  expiry in), the same definition as the dashboard's hedge panel (:mod:`portfolio.hedge`).

Pure numpy: one array per column over all candidates (expiries × strike moves × legs), no loop
per candidate or contract. The ORM side (held legs, confirmation, ledger trades) lives in
:mod:`strategies.roll_service`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
from numpy.typing import NDArray

from market.data import CONTRACT_MULTIPLIER
from market.payoff import KIND_CALL, KIND_PUT, KIND_STOCK, value_at_expiry

# Strike moves, as a fraction of spot added to every held strike ("down" < 0 < "up").
SHIFTS: tuple[float, ...] = (-0.10, -0.05, -0.025, 0.0, 0.025, 0.05)
# Orders of the candidates (``rank``), each with its tie-break.
RANKINGS: dict[str, str] = {
    "cost_per_day": "cost per added day, cheapest first (credits first); ties: higher floor",
    "floor": "highest new floor first; ties: cheaper per added day",
    "debit": "smallest debit first (largest credit first); ties: higher floor",
}
DEFAULT_RANKING = "cost_per_day"
MAX_ROLL_DAYS = 400
_STRIKE_SCALE = 10_000  # strikes keyed in 1/10000 $ (listed strikes have ≤ 4 decimals)
_KEY_SPAN = 10**12  # strike keys per (expiry, right) group


@dataclass(frozen=True)
class HeldLeg:
    """One held option position: right "C"/"P", signed contracts."""

    right: str
    strike: float
    expiry: date
    quantity: float
    style: str = "american"


@dataclass(frozen=True)
class Quotes:
    """The chain's contracts as parallel columns."""

    expiry: NDArray[np.datetime64]  # datetime64[D]
    strike: NDArray[np.float64]
    is_call: NDArray[np.bool_]
    bid: NDArray[np.float64]
    ask: NDArray[np.float64]

    @classmethod
    def of(cls, chain: Any) -> Quotes:
        return cls(
            np.asarray(chain.expiry).astype("datetime64[D]"),
            np.asarray(chain.strike, dtype=float),
            np.asarray(chain.is_call, dtype=bool),
            np.asarray(chain.bid, dtype=float),
            np.asarray(chain.ask, dtype=float),
        )


def _keys(expiry: NDArray[Any], is_call: NDArray[Any], strike: NDArray[Any]) -> NDArray[np.int64]:
    days = expiry.astype("datetime64[D]").astype(np.int64)
    group = days * 2 + is_call.astype(np.int64)
    return np.asarray(
        group * _KEY_SPAN + np.rint(np.asarray(strike) * _STRIKE_SCALE).astype(np.int64),
        dtype=np.int64,
    )


def _exec(bid: NDArray[Any], ask: NDArray[Any], buy: NDArray[Any], mode: str) -> NDArray[Any]:
    """Vectorised :func:`strategies.legs.exec_price` (NaN = not tradable)."""
    with np.errstate(invalid="ignore"):
        bid_ok = np.isfinite(bid) & (bid > 0)
        ask_ok = np.isfinite(ask) & (ask > 0)
        if mode == "mid":
            ok = bid_ok & ask_ok & (ask >= bid)
            return np.where(ok, (bid + ask) / 2, np.nan)
        return np.where(buy, np.where(ask_ok, ask, np.nan), np.where(bid_ok, bid, np.nan))


def floor_cap(
    shares: float,
    kind: NDArray[np.int8],
    units: NDArray[np.float64],
    strike: NDArray[np.float64],
    spot: float,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Floor and cap (NaN: uncapped) of N books, legs (N, L) at intrinsic, ``shares`` held.

    The value is piecewise linear in the price with kinks at the strikes: the floor is its
    minimum over the kinks and ends in [0, spot], the cap its maximum over [spot, ∞) when the
    slope beyond the last strike is not positive (as :func:`portfolio.hedge.floor_and_cap`).
    """
    n = kind.shape[0]
    k = np.where(kind == 0, spot, strike)
    grid = np.concatenate([np.zeros((n, 1)), np.full((n, 1), spot), k], axis=1)
    kinds = np.concatenate([np.full((n, 1), KIND_STOCK, dtype=np.int8), kind], axis=1)
    unit = np.concatenate([np.full((n, 1), shares), units], axis=1)
    strikes = np.concatenate([np.zeros((n, 1)), strike], axis=1)
    values = value_at_expiry(kinds, unit, strikes, grid)
    floor = np.where(grid <= spot, values, np.inf).min(axis=1)
    slope = shares + np.where(kind == KIND_CALL, units, 0.0).sum(axis=1)
    cap = np.where(grid >= spot, values, -np.inf).max(axis=1)
    return floor, np.where(slope > 1e-9, np.nan, cap)


def _leg_arrays(legs: Sequence[HeldLeg]) -> tuple[NDArray[Any], NDArray[Any], NDArray[Any]]:
    kind = np.array([KIND_CALL if lg.right == "C" else KIND_PUT for lg in legs], dtype=np.int8)
    units = np.array([lg.quantity * CONTRACT_MULTIPLIER for lg in legs], dtype=float)
    strike = np.array([lg.strike for lg in legs], dtype=float)
    return kind, units, strike


def hedge_expiries(held: Sequence[HeldLeg], today: date) -> list[date]:
    """Expiries holding a long put still alive: the hedges that can be rolled."""
    return sorted(
        {lg.expiry for lg in held if lg.right == "P" and lg.quantity > 0 and lg.expiry >= today}
    )


def _fmt(x: float) -> str:
    return f"{x:g}"


def roll_id(
    from_expiry: date, to_expiry: date, rights: Sequence[str], strikes: Any, qty: Any
) -> str:
    """``<from>><to>:p190x10,c220x-10``: the expiries and each new leg's strike and contracts."""
    legs = ",".join(
        f"{r.lower()}{_fmt(k)}x{_fmt(q)}" for r, k, q in zip(rights, strikes, qty, strict=True)
    )
    return f"{from_expiry.isoformat()}>{to_expiry.isoformat()}:{legs}"


def _num(x: float, nd: int = 6) -> float | None:
    return round(float(x), nd) if math.isfinite(x) else None


def roll_candidates(
    held: Sequence[HeldLeg],
    from_expiry: date,
    quotes: Quotes,
    *,
    spot: float,
    shares: float,
    today: date,
    mode: str = "ask_bid",
    shifts: Sequence[float] = SHIFTS,
    max_days: int = MAX_ROLL_DAYS,
    rank: str = DEFAULT_RANKING,
) -> dict[str, Any]:
    """The roll candidates of the legs held in ``from_expiry``, ordered as ``rank`` says
    (:data:`RANKINGS`; default cheapest per added day first)."""
    if rank not in RANKINGS:
        raise ValueError(f"unknown ranking {rank!r}")
    old = [lg for lg in held if lg.expiry == from_expiry]
    others = [lg for lg in held if lg.expiry != from_expiry and lg.expiry > from_expiry]
    if not old:
        raise ValueError(f"nothing is held in {from_expiry}")
    o_kind, o_units, o_strike = _leg_arrays(old)
    o_qty = o_units / CONTRACT_MULTIPLIER
    o_call = o_kind == KIND_CALL
    # Closing prices of the held legs: a long is sold (bid), a short bought back (ask).
    keys = _keys(quotes.expiry, quotes.is_call, quotes.strike)
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    want = _keys(np.full(len(old), np.datetime64(from_expiry, "D")), o_call, o_strike)
    pos = np.clip(np.searchsorted(sorted_keys, want), 0, max(len(sorted_keys) - 1, 0))
    found = (sorted_keys[pos] == want) if len(sorted_keys) else np.zeros(len(old), dtype=bool)
    row = order[pos] if len(order) else pos
    c_bid = np.where(found, quotes.bid[row] if len(order) else np.nan, np.nan)
    c_ask = np.where(found, quotes.ask[row] if len(order) else np.nan, np.nan)
    close_px = _exec(c_bid, c_ask, o_qty < 0, mode)
    # A listed long with no bid is closed for $0 (left to expire worthless would do); a contract
    # the chain does not list has no price at all: the hedge cannot be rolled now.
    close_px = np.where(np.isnan(close_px) & (o_qty > 0) & found & (mode != "mid"), 0.0, close_px)
    close_ok = bool(np.all(np.isfinite(close_px)))
    close_cash = float(np.sum(o_units * np.nan_to_num(close_px)))  # received (+) to close

    b_floor, b_cap = _book_floor_cap(shares, old, others, from_expiry, spot)
    base: dict[str, Any] = {
        "from_expiry": from_expiry.isoformat(),
        "days": (from_expiry - today).days,
        "legs": [
            {
                "right": lg.right,
                "strike": lg.strike,
                "expiry": lg.expiry.isoformat(),
                "quantity": lg.quantity,
                "close_price": _num(float(px), 4),
                "bid": _num(float(b), 4),
                "ask": _num(float(a), 4),
            }
            for lg, px, b, a in zip(old, close_px, c_bid, c_ask, strict=True)
        ],
        "closable": close_ok,
        "close_value": round(close_cash, 2) if close_ok else None,
        "floor_value": _num(b_floor, 2),
        "cap_value": _num(b_cap, 2),
        "candidates": [],
    }
    if not close_ok:
        return base
    # Tradable contracts of later expiries (two-sided quotes), keyed and sorted.
    with np.errstate(invalid="ignore"):
        two_sided = (
            np.isfinite(quotes.bid)
            & np.isfinite(quotes.ask)
            & (quotes.bid > 0)
            & (quotes.ask >= quotes.bid)
        )
    later = (quotes.expiry > np.datetime64(from_expiry, "D")) & (
        quotes.expiry <= np.datetime64(today, "D") + np.timedelta64(max_days, "D")
    )
    m = two_sided & later
    if not m.any():
        return base
    t_keys = keys[m]
    t_order = np.argsort(t_keys, kind="stable")
    tk = t_keys[t_order]
    t_rows = np.flatnonzero(m)[t_order]
    expiries = np.unique(quotes.expiry[m])
    shift = np.asarray(shifts, dtype=float)
    # Candidate grid (E expiries × S shifts) × L legs, flattened to C = E·S rows.
    e_col = np.repeat(expiries, len(shift))
    s_col = np.tile(shift, len(expiries))
    n_c, n_l = len(e_col), len(old)
    target = o_strike[None, :] + s_col[:, None] * spot
    group = (e_col.astype(np.int64)[:, None] * 2 + o_call[None, :].astype(np.int64)) * _KEY_SPAN
    tkey = group + np.rint(target * _STRIKE_SCALE).astype(np.int64)
    hi = np.searchsorted(tk, tkey)
    lo = hi - 1
    hi_c, lo_c = np.clip(hi, 0, len(tk) - 1), np.clip(lo, 0, len(tk) - 1)
    hi_ok = (hi < len(tk)) & (tk[hi_c] >= group) & (tk[hi_c] < group + _KEY_SPAN)
    lo_ok = (lo >= 0) & (tk[lo_c] >= group) & (tk[lo_c] < group + _KEY_SPAN)
    d_hi = np.where(hi_ok, np.abs(tk[hi_c] - tkey), np.iinfo(np.int64).max)
    d_lo = np.where(lo_ok, np.abs(tk[lo_c] - tkey), np.iinfo(np.int64).max)
    pick = np.where(d_lo <= d_hi, lo_c, hi_c)  # ties go to the lower strike
    ok = (hi_ok | lo_ok).all(axis=1)
    rows = t_rows[pick]
    n_strike = quotes.strike[rows]
    open_px = _exec(
        quotes.bid[rows], quotes.ask[rows], np.broadcast_to(o_qty > 0, rows.shape), mode
    )
    ok &= np.isfinite(open_px).all(axis=1)
    # The same contracts reached from two shifts (strikes snap to one listed strike): once.
    sig = np.concatenate([e_col.astype(np.int64)[:, None], np.rint(n_strike * 100)], axis=1)
    sig = np.where(ok[:, None], sig, -1 - np.arange(n_c)[:, None])
    _, first = np.unique(sig, axis=0, return_index=True)
    keep = np.zeros(n_c, dtype=bool)
    keep[first] = True
    keep &= ok
    if not keep.any():
        return base
    e_col, s_col, n_strike, open_px = e_col[keep], s_col[keep], n_strike[keep], open_px[keep]
    open_cash = (open_px * o_units[None, :]).sum(axis=1)
    debit = open_cash - close_cash
    new_days = (e_col - np.datetime64(today, "D")).astype(np.int64)
    added = (e_col - np.datetime64(from_expiry, "D")).astype(np.int64)
    per_day = debit / added
    # Floor and cap at each new expiry: shares + new legs + other held legs alive by then.
    n = len(e_col)
    x_kind, x_units, x_strike, x_exp = _leg_arrays(others) + (
        np.array([np.datetime64(lg.expiry, "D") for lg in others], dtype="datetime64[D]"),
    )
    alive = x_exp[None, :] >= e_col[:, None]
    kind = np.concatenate(
        [np.broadcast_to(o_kind, (n, n_l)), np.broadcast_to(x_kind, alive.shape)], 1
    )
    units = np.concatenate([np.broadcast_to(o_units, (n, n_l)), np.where(alive, x_units, 0.0)], 1)
    strikes = np.concatenate([n_strike, np.broadcast_to(x_strike, alive.shape)], 1)
    kind = np.where(units == 0, 0, kind).astype(np.int8)
    floor, cap = floor_cap(shares, kind, units, strikes, spot)
    sort_keys = {
        "cost_per_day": (-floor, per_day),
        "floor": (per_day, -floor),
        "debit": (-floor, debit),
    }[rank]
    order_c = np.lexsort(sort_keys)
    out = []
    for position, i in enumerate(order_c.tolist(), start=1):
        to = e_col[i].astype(object)
        out.append(
            {
                "id": roll_id(from_expiry, to, [lg.right for lg in old], n_strike[i], o_qty),
                "rank": position,
                "to_expiry": to.isoformat(),
                "days": int(new_days[i]),
                "added_days": int(added[i]),
                "strike_shift_pct": round(float(s_col[i]) * 100, 4),
                "legs": [
                    *(
                        {
                            "action": "close",
                            "right": lg.right,
                            "strike": lg.strike,
                            "expiry": lg.expiry.isoformat(),
                            "quantity": -lg.quantity,
                            "price": _num(float(px), 4),
                        }
                        for lg, px in zip(old, close_px, strict=True)
                    ),
                    *(
                        {
                            "action": "open",
                            "right": lg.right,
                            "strike": float(k),
                            "expiry": to.isoformat(),
                            "quantity": lg.quantity,
                            "price": _num(float(px), 4),
                        }
                        for lg, k, px in zip(old, n_strike[i], open_px[i], strict=True)
                    ),
                ],
                "debit": round(float(debit[i]), 2),
                "net": "debit" if debit[i] > 0 else ("credit" if debit[i] < 0 else "even"),
                "cost_per_added_day": round(float(per_day[i]), 4),
                "cost_per_added_day_pct": (
                    _num(float(per_day[i]) / (shares * spot) * 100, 6) if shares > 0 else None
                ),
                "floor_value": _num(float(floor[i]), 2),
                "floor_pct": _num(float(floor[i]) / (shares * spot) * 100, 4)
                if shares > 0
                else None,
                "floor_per_share": _num(float(floor[i]) / shares, 4) if shares > 0 else None,
                "cap_value": _num(float(cap[i]), 2),
                "cap_pct": _num(float(cap[i]) / (shares * spot) * 100, 4)
                if shares > 0 and math.isfinite(cap[i])
                else None,
            }
        )
    base["candidates"] = out
    return base


def _book_floor_cap(
    shares: float,
    old: Sequence[HeldLeg],
    others: Sequence[HeldLeg],
    expiry: date,
    spot: float,
) -> tuple[float, float]:
    """The book's floor and cap at ``expiry`` as held (before the roll)."""
    legs = [*old, *(lg for lg in others if lg.expiry >= expiry)]
    kind, units, strike = _leg_arrays(legs)
    floor, cap = floor_cap(shares, kind[None, :], units[None, :], strike[None, :], spot)
    return float(floor[0]), float(cap[0])
