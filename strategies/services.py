"""Glue between the ORM, the cached market service and the pure chain / hedge maths.

* :func:`options_payload` and :func:`strategies_payload` build what ``/api/options`` and
  ``/api/strategies`` return and what the pages render (the same dicts); :func:`options_json`
  and :func:`strategies_json` are those API bodies, serialised once per chain snapshot;
* :func:`evaluate_legs` evaluates a user-built strategy (builder, custom API);
* :func:`adopt` turns a candidate's legs into portfolio positions in one transaction and records
  it as an :class:`~strategies.models.AdoptedHedge`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.conf import settings

from core.memo import SnapshotMemo
from core.numbers import finite
from market.data import MarketInputs, normalize_symbol
from marketdata import ivrecord, snapshot
from portfolio import access
from strategies import candidates, metrics, ranking
from strategies import chain as chainlib
from strategies.legs import Candidate
from strategies.queries import StrategiesQuery

MIN_DAYS = 7
MAX_DAYS = 400
MAX_SHARES = 10_000_000


class InvalidInput(Exception):
    """A request parameter is unusable; ``field`` names it (rendered as a 400)."""

    def __init__(self, field: str, message: str, code: str = "invalid") -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.code = code


class NotFound(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


# --- market data ----------------------------------------------------------------------------


# Derived from one chain snapshot per symbol: dropped when the chain refreshes (memo.py).
_solved = SnapshotMemo(1)
_evaluated = SnapshotMemo(64)
_bodies = SnapshotMemo(64)


def clean_symbol(raw: str | None) -> str:
    from market.errors import InvalidSymbol

    try:
        return normalize_symbol(raw or settings.DEFAULT_SYMBOL)
    except InvalidSymbol as exc:
        raise InvalidInput("symbol", str(exc), "invalid_symbol") from None


@dataclass(frozen=True)
class Market:
    ctx: MarketInputs
    solved: chainlib.SolvedChain
    key: tuple[Any, ...]  # identifies the chain snapshot (memo key)


def load_market(symbol: str) -> Market:
    """The chain snapshot (cached by the market service) with IVs solved once per snapshot."""
    snap = snapshot.load(symbol, quote=False)
    chain = snap.chain
    if chain is None:  # load() returns the chain it was asked for, or raises
        raise RuntimeError(f"no chain for {symbol}")
    key = snapshot.chain_key(chain, snap.rate)
    solved = _solved.get_or_compute(
        chain.symbol, key, None, lambda: chainlib.solve_chain(chain, snap.rate)
    )
    return Market(snap.chain_inputs, solved, key)


def parse_expiry(
    raw: str | date | None, expiries: Sequence[date], field: str = "expiry"
) -> date | None:
    if raw in (None, ""):
        return None
    if isinstance(raw, date):
        d = raw
    else:
        try:
            d = date.fromisoformat(str(raw))
        except ValueError:
            raise InvalidInput(field, f"{field}: use YYYY-MM-DD") from None
    if d not in expiries:
        raise InvalidInput(field, f"{field}: {d.isoformat()} is not a listed expiry")
    return d


# --- options --------------------------------------------------------------------------------


def options_payload(
    symbol: str,
    expiry: str | date | None = None,
    min_oi: int | None = None,
    max_spread_pct: float | None = None,
    *,
    market: Market | None = None,
) -> dict[str, Any]:
    mk = market or load_market(symbol)
    sc = mk.solved
    expiries = tuple(sc.chain.expiries)
    chosen = parse_expiry(expiry, expiries) or chainlib.default_expiry(expiries, sc.t_by_expiry)
    table = (
        chainlib.expiry_table(sc, chosen, min_oi=min_oi, max_spread_pct=max_spread_pct)
        if chosen
        else None
    )
    return {
        "inputs": snapshot.chain_block(mk.ctx),
        "iv_rank": ivrecord.rank_block(mk.ctx.symbol),
        "expiries": [
            {
                "expiry": e.isoformat(),
                "days": round(sc.t_by_expiry[e] * 365, 4),
                "atm_iv": finite(sc.atm_iv.get(e, math.nan), 6),
            }
            for e in expiries
        ],
        "filters": {"min_oi": min_oi, "max_spread_pct": max_spread_pct},
        "chain": table,
    }


def options_json(
    symbol: str,
    expiry: date | None = None,
    min_oi: int | None = None,
    max_spread_pct: float | None = None,
) -> bytes:
    """The ``/api/options`` body (:func:`options_payload`), serialised once per chain snapshot."""
    mk = load_market(symbol)
    key = ("options", expiry, min_oi, max_spread_pct)

    def serialise() -> bytes:
        payload = options_payload(symbol, expiry, min_oi, max_spread_pct, market=mk)
        del payload["inputs"], payload["iv_rank"]
        return _dumps(payload)

    rest = _bodies.get_or_compute(mk.ctx.symbol, mk.key, key, serialise)
    # The rank moves with the stored history, not with the chain: built per request (cached
    # in marketdata.ivrecord until the next write), like the inputs block.
    return _with_inputs(mk.ctx, rest, {"iv_rank": ivrecord.rank_block(mk.ctx.symbol)})


def _dumps(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":"), allow_nan=False).encode()


def _with_inputs(ctx: MarketInputs, rest: bytes, extra: dict[str, Any] | None = None) -> bytes:
    """``{"inputs": …, <extra>, <rest>}``: the inputs block is rebuilt per request (its ``stale``
    and ``age_s`` move between refreshes); ``rest`` is a cached serialised object."""
    head = _dumps({"inputs": snapshot.chain_block(ctx), **(extra or {})})
    return head[:-1] + b"," + rest[1:]


# --- portfolio holding ----------------------------------------------------------------------


def resolve_portfolio(user: Any, portfolio_id: int | None) -> Any:
    """:func:`portfolio.access.resolve_portfolio`, with this module's error type."""
    try:
        return access.resolve_portfolio(user, portfolio_id)
    except access.PortfolioNotFound:
        raise NotFound("portfolio", "no such portfolio") from None


def holding_shares(portfolio: Any, symbol: str) -> float:
    """Shares held outright in ``symbol`` (what candidates are sized to)."""
    return portfolio.shares_held(symbol) if portfolio is not None else 0.0


# --- strategies -----------------------------------------------------------------------------


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
    mk: Market, shares: float, expiry: date | None, mode: str, *, all_expiries: bool = False
) -> tuple[list[Candidate], list[dict[str, Any]]]:
    """Candidates and their metrics, memoised per chain snapshot, holding, expiry and mode.

    Callers get fresh top-level row dicts (ranking writes ``rank`` into them).
    """
    memo_key = (shares, expiry, mode, all_expiries)

    def compute() -> tuple[list[Candidate], list[dict[str, Any]]]:
        return _evaluate_candidates(mk, shares, expiry, mode, all_expiries=all_expiries)

    cands, rows = _evaluated.get_or_compute(mk.ctx.symbol, mk.key, memo_key, compute)
    return cands, [dict(r) for r in rows]


def _evaluate_candidates(
    mk: Market, shares: float, expiry: date | None, mode: str, *, all_expiries: bool = False
) -> tuple[list[Candidate], list[dict[str, Any]]]:
    slices = slices_for(mk, expiry, all_expiries=all_expiries)
    cands = candidates.generate_candidates(mk.ctx, slices, shares, mode)
    atm: dict[date | None, float] = {s.expiry: s.atm_iv for s in slices}
    rows = metrics.evaluate(mk.ctx, cands, atm)
    for c, row in zip(cands, rows, strict=True):
        row["id"] = candidate_id(c)
    return cands, rows


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


def strategies_payload(user: Any, q: StrategiesQuery) -> dict[str, Any]:
    """Candidates for the user's holding, filtered and ranked as ``q`` asks."""
    mk, portfolio, shares, query = _strategies_request(user, q)
    return {
        "inputs": snapshot.chain_block(mk.ctx),
        **_strategies_rest(mk, portfolio, shares, query),
    }


def strategies_json(user: Any, q: StrategiesQuery) -> bytes:
    """The ``/api/strategies`` body, serialised once per chain snapshot, holding and query."""
    mk, portfolio, shares, query = _strategies_request(user, q)
    owner = (portfolio.pk, portfolio.name) if portfolio else None
    key = ("strategies", owner, shares, query)
    rest = _bodies.get_or_compute(
        mk.ctx.symbol, mk.key, key, lambda: _dumps(_strategies_rest(mk, portfolio, shares, query))
    )
    return _with_inputs(mk.ctx, rest)


def _strategies_request(user: Any, q: StrategiesQuery) -> tuple[Market, Any, float, StrategyQuery]:
    portfolio = resolve_portfolio(user, q.portfolio)
    mk = load_market(clean_symbol(q.symbol))
    chosen = parse_expiry(q.expiry, tuple(mk.solved.chain.expiries))
    shares = holding_shares(portfolio, mk.ctx.symbol)
    query = StrategyQuery(
        chosen, q.max_cost_pct, q.min_floor_pct, q.min_cap_pct, q.price, q.rank, q.limit
    )
    return mk, portfolio, shares, query


def _strategies_rest(
    mk: Market, portfolio: Any, shares: float, query: StrategyQuery
) -> dict[str, Any]:
    _, rows = evaluate_candidates(mk, shares, query.expiry, query.price)
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
    mk: Market, shares: float, cid: str, mode: str
) -> tuple[Candidate, dict[str, Any]]:
    try:
        exp = date.fromisoformat(cid.split(":", 1)[0])
    except ValueError:
        raise InvalidInput("candidate", "candidate: malformed id") from None
    if exp not in mk.solved.chain.expiries:
        raise NotFound("candidate", "candidate: its expiry is no longer listed")
    cands, rows = evaluate_candidates(mk, shares, exp, mode)
    for c, row in zip(cands, rows, strict=True):
        if row["id"] == cid:
            return c, row
    raise NotFound("candidate", "candidate: not among the current candidates")
