"""Hedge candidates for a portfolio's book, evaluated and ranked: what ``/api/strategies``, the
strategies page, the payoff and the adopt page read.

With ``include_held`` (the default) every candidate is evaluated on the whole book it leaves:
the shares, the options already held and its own legs (:mod:`strategies.wholebook`).
Evaluations and serialised bodies are memoised per chain snapshot, holding and query.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from core.memo import SnapshotMemo
from market.calendar import year_fraction
from marketdata import snapshot
from strategies import candidates, metrics, ranking, wholebook
from strategies.legs import Candidate
from strategies.queries import StrategiesQuery
from strategies.services import (
    MAX_DAYS,
    MIN_DAYS,
    InvalidInput,
    Market,
    NotFound,
    clean_symbol,
    dumps,
    holding_shares,
    load_market,
    parse_expiry,
    resolve_portfolio,
    with_inputs,
)
from strategies.wholebook import NO_HELD, HeldBook, HeldOption

_evaluated = SnapshotMemo(64)
_bodies = SnapshotMemo(64)


def held_book(portfolio: Any, mk: Market, include: bool = True) -> HeldBook:
    """The options ``portfolio`` holds in the market's symbol, priced at their mark."""
    if not include or portfolio is None:
        return NO_HELD
    from portfolio.models import Position

    rows = portfolio.open_positions().filter(symbol=mk.ctx.symbol, kind=Position.Kind.OPTION)
    options = [
        HeldOption(p.right == "C", float(p.strike), p.expiry, float(p.quantity))
        for p in rows
        if p.expiry is not None and p.strike is not None
    ]
    if not options:
        return NO_HELD
    sc = mk.solved
    strike = np.asarray(sc.chain.strike, dtype=float)
    is_call = np.asarray(sc.chain.is_call, dtype=bool)
    iv_of: dict[tuple[date, bool, float], float] = {}
    t_of: dict[date, float] = {}
    for o in options:  # per held position (a handful), not per candidate
        t_of[o.expiry] = sc.t_by_expiry.get(o.expiry) or max(
            0.0, float(year_fraction(sc.as_of, o.expiry))
        )
        m = np.flatnonzero(
            (sc.expiry_col == np.datetime64(o.expiry, "D"))
            & (is_call == o.is_call)
            & np.isclose(strike, o.strike, rtol=0, atol=1e-6)
        )
        if m.size:
            iv_of[(o.expiry, o.is_call, o.strike)] = float(sc.iv[int(m[0])])
    return wholebook.held_legs(mk.ctx, options, t_of, iv_of, dict(sc.atm_iv))


def candidate_id(c: Candidate) -> str:
    legs = ",".join(f"{lg.kind[0]}{lg.strike:g}x{lg.quantity:g}" for lg in c.legs if lg.is_option)
    return f"{c.expiry.isoformat() if c.expiry else '-'}:{c.family}:{legs}"


def slices_for(
    mk: Market, expiry: date | None, *, all_expiries: bool = False
) -> list[candidates.ExpirySlice]:
    sc = mk.solved
    slices = candidates.build_slices(
        sc.chain,
        sc.rate,
        sc.as_of,
        min_days=0 if (expiry or all_expiries) else MIN_DAYS,
        max_days=math.inf if (expiry or all_expiries) else MAX_DAYS,
        solved=(sc.iv, sc.iv_reason),
    )
    if expiry is not None:
        slices = [s for s in slices if s.expiry == expiry]
    return slices


def evaluate_candidates(
    mk: Market,
    shares: float,
    expiry: date | None,
    mode: str,
    *,
    all_expiries: bool = False,
    held: HeldBook = NO_HELD,
) -> tuple[list[Candidate], list[dict[str, Any]]]:
    """Candidates and their metrics on the book (shares + ``held`` + the candidate), memoised
    per chain snapshot, holding, expiry and mode.

    Callers get fresh top-level row dicts (ranking writes ``rank`` into them).
    """
    memo_key = (shares, expiry, mode, all_expiries, held.key)

    def compute() -> tuple[list[Candidate], list[dict[str, Any]]]:
        slices = slices_for(mk, expiry, all_expiries=all_expiries)
        cands = candidates.generate_candidates(mk.ctx, slices, shares, mode)
        atm: dict[date | None, float] = {s.expiry: s.atm_iv for s in slices}
        rows = metrics.evaluate(mk.ctx, cands, atm, held=held)
        for c, row in zip(cands, rows, strict=True):
            row["id"] = candidate_id(c)
        return cands, rows

    cands, rows = _evaluated.get_or_compute(mk.ctx.symbol, mk.key, memo_key, compute)
    return cands, [dict(r) for r in rows]


@dataclass(frozen=True)
class StrategyQuery:
    """A validated :class:`~strategies.queries.StrategiesQuery` with its expiry checked
    against the chain, hashable: it keys the body memo."""

    expiry: date | None
    max_cost_pct: float | None
    min_floor_pct: float | None
    min_cap_pct: float | None
    price: str
    rank: str
    limit: int | None
    include_held: bool = True


def strategies_payload(user: Any, q: StrategiesQuery) -> dict[str, Any]:
    """Candidates for the user's book, filtered and ranked as ``q`` asks."""
    mk, portfolio, shares, held, query = _strategies_request(user, q)
    return {
        "inputs": snapshot.chain_block(mk.ctx),
        **_strategies_rest(mk, portfolio, shares, query, held),
    }


def strategies_json(user: Any, q: StrategiesQuery) -> bytes:
    """The ``/api/strategies`` body, serialised once per chain snapshot, book and query."""
    mk, portfolio, shares, held, query = _strategies_request(user, q)
    owner = (portfolio.pk, portfolio.name) if portfolio else None
    key = ("strategies", owner, shares, held.key, query)
    rest = _bodies.get_or_compute(
        mk.ctx.symbol,
        mk.key,
        key,
        lambda: dumps(_strategies_rest(mk, portfolio, shares, query, held)),
    )
    return with_inputs(mk.ctx, rest)


def _strategies_request(
    user: Any, q: StrategiesQuery
) -> tuple[Market, Any, float, HeldBook, StrategyQuery]:
    portfolio = resolve_portfolio(user, q.portfolio)
    mk = load_market(clean_symbol(q.symbol))
    chosen = parse_expiry(q.expiry, tuple(mk.solved.chain.expiries))
    shares = holding_shares(portfolio, mk.ctx.symbol)
    held = held_book(portfolio, mk, q.include_held)
    query = StrategyQuery(
        chosen,
        q.max_cost_pct,
        q.min_floor_pct,
        q.min_cap_pct,
        q.price,
        q.rank,
        q.limit,
        q.include_held,
    )
    return mk, portfolio, shares, held, query


def held_block(held: HeldBook, include: bool) -> dict[str, Any]:
    return {
        "included": include,
        "options": [
            {**lg.contract(), "mark": round(lg.price, 4), "iv": round(lg.iv or 0.0, 6)}
            for lg in held.legs
        ],
    }


def _strategies_rest(
    mk: Market, portfolio: Any, shares: float, query: StrategyQuery, held: HeldBook = NO_HELD
) -> dict[str, Any]:
    _, rows = evaluate_candidates(mk, shares, query.expiry, query.price, held=held)
    total = len(rows)
    rows = ranking.apply_filters(
        rows,
        max_cost_pct=query.max_cost_pct,
        min_floor_pct=query.min_floor_pct,
        min_cap_pct=query.min_cap_pct,
    )
    rows = ranking.rank(rows, query.rank)
    if query.limit:
        rows = rows[: query.limit]
    chosen = query.expiry
    return {
        "portfolio": {"id": portfolio.pk, "name": portfolio.name} if portfolio else None,
        "holding_shares": shares,
        "held_options": held_block(held, query.include_held),
        "price_mode": query.price,
        "pricing": "buy at the ask, sell at the bid"
        if query.price == "ask_bid"
        else "every leg at the mid quote",
        "ranking": {"method": query.rank, "description": ranking.RANKINGS[query.rank].description},
        "probability_model": metrics.PROBABILITY_MODEL,
        "filters": {
            "expiry": chosen.isoformat() if chosen else None,
            "max_cost_pct": query.max_cost_pct,
            "min_floor_pct": query.min_floor_pct,
            "min_cap_pct": query.min_cap_pct,
            "expiry_range_days": None if chosen else [MIN_DAYS, MAX_DAYS],
        },
        "evaluated": total,
        "count": len(rows),
        "candidates": rows,
    }


def find_candidate(
    mk: Market, shares: float, cid: str, mode: str, held: HeldBook = NO_HELD
) -> tuple[Candidate, dict[str, Any]]:
    try:
        exp = date.fromisoformat(cid.split(":", 1)[0])
    except ValueError:
        raise InvalidInput("candidate", "candidate: malformed id") from None
    if exp not in mk.solved.chain.expiries:
        raise NotFound("candidate", "candidate: its expiry is no longer listed")
    cands, rows = evaluate_candidates(mk, shares, exp, mode, held=held)
    for c, row in zip(cands, rows, strict=True):
        if row["id"] == cid:
            return c, row
    raise NotFound("candidate", "candidate: not among the current candidates")
