"""Glue between the ORM, the cached market service and the pure chain / hedge maths.

* :func:`load_market`: the chain snapshot with its implied vols solved once;
* :func:`options_payload` builds what ``/api/options`` returns and the chain page renders;
  :func:`options_json` is that body, serialised once per chain snapshot;
* the errors (:class:`InvalidInput`, :class:`NotFound`) and the request-parameter helpers the
  other modules share.

Candidates and their ranking live in :mod:`strategies.ranked`, the whole-book maths in
:mod:`strategies.wholebook`, the builder in :mod:`strategies.builder`, adoption in
:mod:`strategies.adoption`.
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
from strategies import chain as chainlib

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
        return dumps(payload)

    rest = _bodies.get_or_compute(mk.ctx.symbol, mk.key, key, serialise)
    # The rank moves with the stored history, not with the chain: built per request (cached
    # in marketdata.ivrecord until the next write), like the inputs block.
    return with_inputs(mk.ctx, rest, {"iv_rank": ivrecord.rank_block(mk.ctx.symbol)})


def dumps(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":"), allow_nan=False).encode()


def with_inputs(ctx: MarketInputs, rest: bytes, extra: dict[str, Any] | None = None) -> bytes:
    """``{"inputs": …, <extra>, <rest>}``: the inputs block is rebuilt per request (its ``stale``
    and ``age_s`` move between refreshes); ``rest`` is a cached serialised object."""
    head = dumps({"inputs": snapshot.chain_block(ctx), **(extra or {})})
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
