"""Strategies the user builds leg by leg: validated, matched to listed contracts, priced from
the chain in the chosen mode and evaluated like the generated candidates."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from strategies import metrics, wholebook
from strategies.legs import Candidate, Leg, exec_price
from strategies.ranked import candidate_id
from strategies.services import InvalidInput, Market
from strategies.wholebook import NO_HELD, HeldBook

MAX_LEGS = 8
MAX_CONTRACTS = 10_000


@dataclass(frozen=True)
class LegIn:
    side: str  # buy | sell
    right: str  # C | P
    strike: float
    expiry: date
    quantity: float  # contracts (> 0)


def parse_legs(raw: Sequence[dict[str, Any]]) -> list[LegIn]:
    """Validate user legs; errors name the field as ``legs.<i>.<name>``."""
    if not isinstance(raw, list | tuple):
        raise InvalidInput("legs", "legs: a list is required")
    if len(raw) > MAX_LEGS:
        raise InvalidInput("legs", f"legs: at most {MAX_LEGS}")
    out = []
    for i, item in enumerate(raw):
        f = f"legs.{i}"
        if not isinstance(item, dict):
            raise InvalidInput(f, f"{f}: an object is required")
        side = str(item.get("side", "")).lower()
        if side not in ("buy", "sell"):
            raise InvalidInput(f"{f}.side", f"{f}.side: 'buy' or 'sell'")
        right = str(item.get("right", "")).upper()[:1]
        if right not in ("C", "P"):
            raise InvalidInput(f"{f}.right", f"{f}.right: 'C' or 'P'")
        try:
            strike = float(item.get("strike"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise InvalidInput(f"{f}.strike", f"{f}.strike: a number is required") from None
        if not math.isfinite(strike) or strike <= 0:
            raise InvalidInput(f"{f}.strike", f"{f}.strike: must be above zero")
        try:
            exp = date.fromisoformat(str(item.get("expiry")))
        except ValueError:
            raise InvalidInput(f"{f}.expiry", f"{f}.expiry: use YYYY-MM-DD") from None
        try:
            qty = float(item.get("quantity", 1))
        except (TypeError, ValueError):
            raise InvalidInput(f"{f}.quantity", f"{f}.quantity: a number is required") from None
        if not math.isfinite(qty) or qty <= 0 or qty > MAX_CONTRACTS or qty != int(qty):
            raise InvalidInput(
                f"{f}.quantity", f"{f}.quantity: a whole number of contracts, 1–{MAX_CONTRACTS}"
            )
        out.append(LegIn(side, right, strike, exp, qty))
    return out


def legs_from_chain(mk: Market, legs: Sequence[LegIn], mode: str) -> list[Leg]:
    """Match user legs to listed contracts and price them (ask/bid or mid)."""
    sc = mk.solved
    ch = sc.chain
    strike = np.asarray(ch.strike, dtype=float)
    is_call = np.asarray(ch.is_call, dtype=bool)
    out: list[Leg] = []
    expiries = set({lg.expiry for lg in legs})
    if len(expiries) > 1:
        raise InvalidInput(
            "legs", "legs: all legs must share one expiry (calendar spreads are not supported)"
        )
    for i, lg in enumerate(legs):
        f = f"legs.{i}"
        if lg.expiry not in ch.expiries:
            raise InvalidInput(f"{f}.expiry", f"{f}.expiry: {lg.expiry} is not a listed expiry")
        m = np.flatnonzero(
            (sc.expiry_col == np.datetime64(lg.expiry, "D"))
            & (is_call == (lg.right == "C"))
            & np.isclose(strike, lg.strike, rtol=0, atol=1e-6)
        )
        if m.size == 0:
            raise InvalidInput(f"{f}.strike", f"{f}.strike: {lg.strike:g} is not listed")
        j = int(m[0])
        qty = lg.quantity if lg.side == "buy" else -lg.quantity
        bid, ask = float(ch.bid[j]), float(ch.ask[j])
        price = exec_price(bid, ask, qty > 0, mode)
        if price is None:
            raise InvalidInput(
                f"{f}.strike", f"{f}: no {'ask' if qty > 0 else 'bid'} quote to trade at"
            )
        iv = float(sc.iv[j])
        src = "chain"
        if not math.isfinite(iv):
            iv, src = sc.atm_iv.get(lg.expiry, 0.2), "atm_fallback"
        out.append(
            Leg(
                kind="call" if lg.right == "C" else "put",
                quantity=qty,
                strike=lg.strike,
                expiry=lg.expiry,
                price=price,
                bid=bid,
                ask=ask,
                iv=iv,
                t=float(sc.t[j]),
                open_interest=float(ch.open_interest[j]),
                volume=float(ch.volume[j]),
                iv_source=src,
            )
        )
    return out


def evaluate_legs(
    mk: Market,
    legs: Sequence[Leg],
    shares: float,
    *,
    name: str = "Custom",
    held: HeldBook = NO_HELD,
) -> dict[str, Any]:
    all_legs: tuple[Leg, ...] = tuple(legs)
    if shares:
        all_legs = (Leg("stock", shares, price=mk.ctx.spot), *all_legs)
    if not all_legs:
        raise InvalidInput("legs", "legs: add at least one leg")
    expiry = next((lg.expiry for lg in all_legs if lg.expiry), None)
    t = mk.solved.t_by_expiry.get(expiry, 0.0) if expiry else 0.0
    cand = Candidate(name, "custom", expiry, all_legs, t=t)
    atm: dict[date | None, float] = (
        {expiry: mk.solved.atm_iv.get(expiry, math.nan)} if expiry else {}
    )
    row = metrics.evaluate(mk.ctx, [cand], atm, held=held)[0]
    row["id"] = candidate_id(cand)
    return row


@dataclass(frozen=True)
class Built:
    """A user-built strategy, priced and evaluated."""

    legs: tuple[Leg, ...]  # the shares included (if any), then the option legs as priced
    row: dict[str, Any]  # its metrics, as a candidate row
    options: tuple[Leg, ...] = ()  # the option legs alone (what adopting it trades)
    book: tuple[Leg, ...] = ()  # ``legs`` plus the held options alive at its expiry (payoff)


def build(
    mk: Market, legs_in: Sequence[LegIn], mode: str, shares: float, held: HeldBook = NO_HELD
) -> Built:
    """Price ``legs_in`` from the chain and evaluate them with ``shares`` of the stock and the
    ``held`` options (the whole book)."""
    priced = legs_from_chain(mk, legs_in, mode)
    row = evaluate_legs(mk, priced, shares, held=held)
    stock = (Leg("stock", shares, price=mk.ctx.spot),) if shares else ()
    legs = (*stock, *priced)
    return Built(legs, row, tuple(priced), wholebook.book_legs(legs, held))
