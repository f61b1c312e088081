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
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
from django.conf import settings
from django.core import signing
from django.db import transaction

from market.calendar import market_date
from market.models import MarketInputs, normalize_symbol
from strategies import chain as chainlib
from strategies import hedging
from strategies.hedging import Candidate, Leg
from strategies.payoff import expiry_pnl, pnl_surface, price_grid
from vault_dash.memo import SnapshotMemo

MIN_DAYS = 7
MAX_DAYS = 400
MAX_LEGS = 8
MAX_CONTRACTS = 10_000
MAX_SHARES = 10_000_000
ADOPT_SALT = "strategies.adopt"
ADOPT_MAX_AGE = 15 * 60


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


def market_service() -> Any:
    from vault_dash.marketdata import get_market_service

    return get_market_service()


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
    """Chain (cached by the market service) with IVs solved once per chain snapshot."""
    chain = market_service().chain(symbol)
    rate = float(settings.RISK_FREE_RATE)
    key = (
        chain.symbol,
        chain.provider,
        chain.as_of.isoformat(),
        float(chain.spot),
        len(chain),
        rate,
    )
    solved = _solved.get_or_compute(
        chain.symbol, key, None, lambda: chainlib.solve_chain(chain, rate)
    )
    ctx = MarketInputs(
        symbol=chain.symbol,
        spot=float(chain.spot),
        rate=rate,
        div_yield=float(chain.dividend_yield or 0.0),
        as_of=chain.as_of,
        provider=str(chain.provider),
        stale=bool(chain.stale),
        age_s=float(chain.age_s),
    )
    return Market(ctx, solved, key)


def inputs_block(ctx: MarketInputs) -> dict[str, Any]:
    return {
        "symbol": ctx.symbol,
        "spot": ctx.spot,
        "rate": ctx.rate,
        "div_yield": ctx.div_yield,
        "as_of": ctx.as_of.isoformat(),
        "provider": ctx.provider,
        "stale": ctx.stale,
        "age_s": round(ctx.age_s, 3),
        "day_count": "ACT/365 to 16:00 America/New_York on the expiry date",
        "model": "American (QdFp fixed point) for prices and Greeks; IV solved from mid quotes",
    }


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
        "inputs": inputs_block(mk.ctx),
        "expiries": [
            {
                "expiry": e.isoformat(),
                "days": round(sc.t_by_expiry[e] * 365, 4),
                "atm_iv": _num(sc.atm_iv.get(e, math.nan)),
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
        del payload["inputs"]
        return _dumps(payload)

    return _with_inputs(mk.ctx, _bodies.get_or_compute(mk.ctx.symbol, mk.key, key, serialise))


def _dumps(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":"), allow_nan=False).encode()


def _with_inputs(ctx: MarketInputs, rest: bytes) -> bytes:
    """``{"inputs": …, <rest>}``: the inputs block is rebuilt per request (its ``stale`` and
    ``age_s`` move between refreshes); ``rest`` is a cached serialised object."""
    head = _dumps({"inputs": inputs_block(ctx)})
    return head[:-1] + b"," + rest[1:]


def _num(x: Any, nd: int = 6) -> float | None:
    if x is None:
        return None
    x = float(x)
    return round(x, nd) if math.isfinite(x) else None


# --- portfolio holding ----------------------------------------------------------------------


def resolve_portfolio(user: Any, portfolio_id: int | None) -> Any:
    from portfolio import services as psvc

    try:
        return psvc.resolve_portfolio(user, portfolio_id)
    except psvc.PortfolioNotFound:
        raise NotFound("portfolio", "no such portfolio") from None


def holding_shares(portfolio: Any, symbol: str) -> float:
    """Shares (and physical units converted to share-equivalents) held in ``symbol``."""
    if portfolio is None:
        return 0.0
    from portfolio.models import Position

    total = 0.0
    for p in (
        Position.objects.open()
        .filter(portfolio=portfolio, symbol=symbol)
        .exclude(kind=Position.Kind.OPTION)
    ):
        q = float(p.quantity)
        if p.kind == Position.Kind.PHYSICAL and p.units_per_share:
            q /= float(p.units_per_share)
        total += q
    return total


# --- strategies -----------------------------------------------------------------------------


def candidate_id(c: Candidate) -> str:
    legs = ",".join(f"{lg.kind[0]}{lg.strike:g}x{lg.quantity:g}" for lg in c.legs if lg.is_option)
    return f"{c.expiry.isoformat() if c.expiry else '-'}:{c.family}:{legs}"


def slices_for(
    mk: Market, expiry: date | None, *, all_expiries: bool = False
) -> list[hedging.ExpirySlice]:
    sc = mk.solved
    slices = hedging.build_slices(
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
    cands = hedging.generate_candidates(mk.ctx, slices, shares, mode)
    atm: dict[date | None, float] = {s.expiry: s.atm_iv for s in slices}
    rows = hedging.evaluate(mk.ctx, cands, atm)
    for c, row in zip(cands, rows, strict=True):
        row["id"] = candidate_id(c)
    return cands, rows


@dataclass(frozen=True)
class StrategyQuery:
    """A validated ``/api/strategies`` query (hashable: it keys the body memo)."""

    expiry: date | None
    max_cost_pct: float | None
    min_floor_pct: float | None
    min_cap_pct: float | None
    price: str
    rank: str
    limit: int | None


def strategies_payload(user: Any, symbol: str, **params: Any) -> dict[str, Any]:
    """Candidates for the user's holding, filtered and ranked (parameters: :func:`_strategies_request`)."""
    mk, portfolio, shares, query = _strategies_request(user, symbol, **params)
    return {"inputs": inputs_block(mk.ctx), **_strategies_rest(mk, portfolio, shares, query)}


def strategies_json(user: Any, symbol: str, **params: Any) -> bytes:
    """The ``/api/strategies`` body, serialised once per chain snapshot, holding and query."""
    mk, portfolio, shares, query = _strategies_request(user, symbol, **params)
    owner = (portfolio.pk, portfolio.name) if portfolio else None
    key = ("strategies", owner, shares, query)
    rest = _bodies.get_or_compute(
        mk.ctx.symbol, mk.key, key, lambda: _dumps(_strategies_rest(mk, portfolio, shares, query))
    )
    return _with_inputs(mk.ctx, rest)


def _strategies_request(
    user: Any,
    symbol: str,
    *,
    portfolio_id: int | None = None,
    expiry: str | date | None = None,
    max_cost_pct: float | None = None,
    min_floor_pct: float | None = None,
    min_cap_pct: float | None = None,
    price: str = "ask_bid",
    rank: str = "cost_per_protection",
    limit: int | None = None,
) -> tuple[Market, Any, float, StrategyQuery]:
    if price not in hedging.PRICE_MODES:
        raise InvalidInput("price", "price: use 'ask_bid' or 'mid'")
    if rank not in hedging.RANKINGS:
        raise InvalidInput("rank", "rank: one of " + ", ".join(hedging.RANKINGS))
    portfolio = resolve_portfolio(user, portfolio_id)
    mk = load_market(symbol)
    chosen = parse_expiry(expiry, tuple(mk.solved.chain.expiries))
    shares = holding_shares(portfolio, mk.ctx.symbol)
    query = StrategyQuery(chosen, max_cost_pct, min_floor_pct, min_cap_pct, price, rank, limit)
    return mk, portfolio, shares, query


def _strategies_rest(
    mk: Market, portfolio: Any, shares: float, query: StrategyQuery
) -> dict[str, Any]:
    _, rows = evaluate_candidates(mk, shares, query.expiry, query.price)
    total = len(rows)
    rows = hedging.apply_filters(
        rows,
        max_cost_pct=query.max_cost_pct,
        min_floor_pct=query.min_floor_pct,
        min_cap_pct=query.min_cap_pct,
    )
    rows = hedging.rank(rows, query.rank)
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
        "ranking": {"method": query.rank, "description": hedging.RANKINGS[query.rank][2]},
        "probability_model": hedging.PROBABILITY_MODEL,
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


# --- user-built strategies ------------------------------------------------------------------


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
        price = hedging.exec_price(bid, ask, qty > 0, mode)
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
    mk: Market, legs: Sequence[Leg], shares: float, *, name: str = "Custom"
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
    row = hedging.evaluate(mk.ctx, [cand], atm)[0]
    row["id"] = candidate_id(cand)
    return row


# --- payoff ---------------------------------------------------------------------------------


def payoff_data(
    mk: Market,
    legs: Sequence[Leg],
    *,
    days: Sequence[float] = (),
    iv_shift: float = 0.0,
    points: int = 121,
    style: str = "american",
) -> dict[str, Any]:
    """P&L at expiry, today and at ``days`` from now on a price grid, plus a price × date grid."""
    spot = mk.ctx.spot
    strikes = [lg.strike for lg in legs if lg.strike]
    t_exp = max((lg.t for lg in legs if lg.is_option), default=0.0)
    lo = min([0.7 * spot, *(0.9 * k for k in strikes)]) / spot
    hi = max([1.3 * spot, *(1.1 * k for k in strikes)]) / spot
    grid = price_grid(spot, lo, hi, points, extra=strikes)
    at_exp = expiry_pnl(legs, grid)
    horizons = [0.0] + [d / 365 for d in days if 0 < d / 365 < t_exp]
    surf = pnl_surface(mk.ctx, legs, grid, horizons, iv_shift=iv_shift, style=style)
    # Heat-map: ~11 prices × up to 6 dates from today to expiry.
    hm_prices = np.linspace(lo * spot, hi * spot, 11)
    n_dates = 6 if t_exp > 0 else 1
    hm_h = np.linspace(0.0, t_exp, n_dates) if t_exp > 0 else np.array([0.0])
    hm = pnl_surface(mk.ctx, legs, hm_prices, hm_h, iv_shift=iv_shift, style=style)
    as_of = mk.ctx.as_of
    return {
        "grid": [round(float(x), 4) for x in grid],
        "expiry_pnl": [round(float(x), 2) for x in at_exp],
        "curves": [
            {
                "days": round(h * 365, 3),
                "date": (as_of + timedelta(days=h * 365)).date().isoformat(),
                "pnl": [round(float(x), 2) for x in surf.pnl[i]],
            }
            for i, h in enumerate(horizons)
        ],
        "heatmap": {
            "prices": [round(float(x), 2) for x in hm_prices],
            "dates": [(as_of + timedelta(days=float(h) * 365)).date().isoformat() for h in hm_h],
            "pnl": [[round(float(x), 2) for x in row] for row in hm.pnl.T],
        },
        "iv_shift": iv_shift,
        "model": surf.model,
        "days_to_expiry": round(t_exp * 365, 3),
    }


# --- adopt ----------------------------------------------------------------------------------


def sign_adoption(
    symbol: str,
    portfolio_id: int,
    cid: str,
    name: str,
    legs: Sequence[Leg],
    spot: float,
    as_of: str,
) -> str:
    """Tamper-proof token of exactly what the confirmation page shows."""
    payload = {
        "symbol": symbol,
        "portfolio": portfolio_id,
        "candidate": cid,
        "name": name,
        "spot": spot,
        "as_of": as_of,
        "legs": [
            {
                "right": "C" if lg.kind == "call" else "P",
                "strike": lg.strike,
                "expiry": lg.expiry.isoformat() if lg.expiry else None,
                "quantity": lg.quantity,
                "price": round(lg.price, 4),
            }
            for lg in legs
            if lg.is_option
        ],
    }
    return signing.dumps(payload, salt=ADOPT_SALT, compress=True)


def read_adoption(token: str) -> dict[str, Any]:
    try:
        data = signing.loads(token, salt=ADOPT_SALT, max_age=ADOPT_MAX_AGE)
    except signing.SignatureExpired:
        raise InvalidInput("token", "the quote has expired: review the hedge again") from None
    except signing.BadSignature:
        raise InvalidInput("token", "invalid confirmation token") from None
    if not isinstance(data, dict) or not data.get("legs"):
        raise InvalidInput("token", "invalid confirmation token")
    return data


def may_adopt(user: Any, portfolio: Any) -> bool:
    """Owners adopt into their portfolios; the embedded demo accepts anonymous adoption."""
    from portfolio import services as psvc

    if psvc.may_edit(user, portfolio):
        return True
    return bool(portfolio.owner_id is None and portfolio.is_demo and not settings.LOGIN_REQUIRED)


@transaction.atomic
def adopt(user: Any, data: dict[str, Any]) -> Any:
    """Add the signed legs to the portfolio as positions; one transaction, recorded."""
    from portfolio.models import Portfolio, Position
    from strategies.models import AdoptedHedge

    portfolio = (
        Portfolio.objects.visible_to(user).select_for_update().filter(pk=data["portfolio"]).first()
    )
    if portfolio is None:
        raise NotFound("portfolio", "no such portfolio")
    if not may_adopt(user, portfolio):
        raise InvalidInput("portfolio", "you may not change this portfolio", "forbidden")
    today = market_date()
    created, updated = [], []
    for lg in data["legs"]:
        exp = date.fromisoformat(lg["expiry"])
        qty = Decimal(str(lg["quantity"]))
        price = Decimal(str(lg["price"]))
        strike = Decimal(str(lg["strike"]))
        existing = (
            Position.objects.open()
            .select_for_update()
            .filter(
                portfolio=portfolio,
                symbol=data["symbol"],
                kind=Position.Kind.OPTION,
                expiry=exp,
                strike=strike,
                right=lg["right"],
                style=Position.Style.AMERICAN,
            )
            .first()
        )
        if existing is None:
            pos = Position(
                portfolio=portfolio,
                symbol=data["symbol"],
                kind=Position.Kind.OPTION,
                quantity=qty,
                cost_basis=price,
                expiry=exp,
                strike=strike,
                right=lg["right"],
                style=Position.Style.AMERICAN,
                opened_on=today,
                note=f"adopted: {data['name']}"[:200],
            )
            pos.full_clean()
            pos.save()
            created.append(pos)
            continue
        new_qty = existing.quantity + qty
        if new_qty == 0:
            existing.closed_on = today
        else:
            if (existing.quantity > 0) == (qty > 0):
                # Adding to the position: average the premium per share.
                existing.cost_basis = (
                    (existing.cost_basis * abs(existing.quantity) + price * abs(qty)) / abs(new_qty)
                ).quantize(Decimal("0.000001"))
            elif (new_qty > 0) != (existing.quantity > 0):
                existing.cost_basis = price  # flipped side: the remainder was opened now
            existing.quantity = new_qty
        existing.full_clean()
        existing.save()
        updated.append(existing)
    record = AdoptedHedge.objects.create(
        portfolio=portfolio,
        adopted_by=user if getattr(user, "is_authenticated", False) else None,
        symbol=data["symbol"],
        name=data["name"][:120],
        candidate_id=data["candidate"][:200],
        spot=data["spot"],
        quote_as_of=data["as_of"],
        legs=data["legs"],
        net_premium=sum(float(lg["price"]) * float(lg["quantity"]) * 100 for lg in data["legs"]),
    )
    record.positions.set([*created, *updated])
    return record


def legs_mode(legs: Sequence[Leg], mode: str) -> tuple[Leg, ...]:
    return hedging.with_mode(legs, mode)
