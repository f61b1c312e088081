"""Glue between the ORM, the cached market service and the pure valuation functions.

* :func:`resolve_portfolio` — which portfolio a request may see (ownership rules).
* :func:`value_portfolio` — the full valuation (positions, totals, hedge panel, scenarios) that
  ``/api/portfolio`` and the dashboard render; memoised per (portfolio state, market data).
* :func:`live_snapshot` — the cheap per-tick summary the WebSocket publisher broadcasts.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from market.models import MarketInputs, normalize_symbol
from market.session import chain_state, market_status
from portfolio import valuation as val
from portfolio.models import (
    Portfolio,
    PortfolioSnapshot,
    Position,
    bump_data_version,
    data_version,
)
from vault_dash.memo import LRU, SnapshotMemo

logger = logging.getLogger(__name__)

_MEMO_SIZE = 64


class PortfolioNotFound(Exception):
    """No such portfolio, or it belongs to someone else (indistinguishable on purpose)."""


# Derived from one market snapshot per symbol: dropped when the data refreshes (memo.py).
_chain_vols = SnapshotMemo(_MEMO_SIZE)
_results = SnapshotMemo(_MEMO_SIZE)
_bodies = SnapshotMemo(_MEMO_SIZE)
_resolved = LRU(1024)
RESOLVE_MEMO_SECONDS = 30.0
_NOT_FOUND = object()


def clear_memos() -> None:
    _chain_vols.clear()
    _results.clear()
    _bodies.clear()
    _resolved.clear()
    _last_recorded.clear()
    bump_data_version()


# --- ownership ------------------------------------------------------------------------------


def demo_portfolio() -> Portfolio | None:
    return Portfolio.objects.filter(is_demo=True, owner__isnull=True).order_by("pk").first()


def resolve_portfolio(user: Any, portfolio_id: int | None = None) -> Portfolio | None:
    """The portfolio ``user`` asked for, or their default one.

    An explicit id that does not exist or belongs to someone else raises
    :class:`PortfolioNotFound` (the same answer for both, so ids do not leak). Without an id:
    the user's first own portfolio, else the demo, else ``None``. Callers enforce
    ``settings.LOGIN_REQUIRED`` before calling this.

    Memoised per process for a few seconds under the shared data version (see
    :func:`portfolio.models.data_version`), which every portfolio/position write bumps: the hot
    API path then needs no query. The returned instance is shared: treat it as read-only.
    """
    uid = user.pk if getattr(user, "is_authenticated", False) else None
    version = data_version()
    key = (version, uid, portfolio_id)
    if version is not None:
        hit = _resolved.get(key)
        if hit is not None and time.monotonic() - hit[1] < RESOLVE_MEMO_SECONDS:
            if hit[0] is _NOT_FOUND:
                raise PortfolioNotFound(portfolio_id)
            return hit[0]
    try:
        found = _resolve(user, portfolio_id)
    except PortfolioNotFound:
        if version is not None:
            _resolved.put(key, (_NOT_FOUND, time.monotonic()))
        raise
    if version is not None:
        _resolved.put(key, (found, time.monotonic()))
    return found


def _resolve(user: Any, portfolio_id: int | None) -> Portfolio | None:
    visible = Portfolio.objects.visible_to(user)
    if portfolio_id is not None:
        found = visible.filter(pk=portfolio_id).first()
        if found is None:
            raise PortfolioNotFound(portfolio_id)
        return found
    if getattr(user, "is_authenticated", False):
        own = visible.filter(owner=user).order_by("name", "pk").first()
        if own is not None:
            return own
    return visible.filter(is_demo=True).order_by("pk").first()


def may_edit(user: Any, portfolio: Portfolio) -> bool:
    """Owners edit their portfolios; the ownerless demo only staff may change."""
    if not getattr(user, "is_authenticated", False):
        return False
    if portfolio.owner_id is None:
        return bool(user.is_staff)
    return bool(portfolio.owner_id == user.pk)


# --- inputs ---------------------------------------------------------------------------------


def position_inputs(positions: Any) -> list[val.PositionIn]:
    out = []
    for p in positions:
        out.append(
            val.PositionIn(
                id=p.pk,
                label=p.instrument,
                kind=p.kind,
                quantity=float(p.quantity),
                cost_basis=float(p.cost_basis),
                expiry=p.expiry,
                strike=float(p.strike) if p.strike is not None else None,
                is_call=(p.right == Position.Right.CALL) if p.is_option else None,
                style=p.style,
                units_per_share=float(p.units_per_share) if p.units_per_share else None,
                opened_on=p.opened_on,
            )
        )
    return out


def market_service() -> Any:
    from vault_dash.marketdata import get_market_service

    return get_market_service()


def fetch_market(symbol: str, need_chain: bool = True) -> tuple[MarketInputs, Any, Any]:
    """(valuation market inputs, quote, chain or None) from the cached market service."""
    svc = market_service()
    quote = svc.quote(symbol)
    chain = svc.chain(symbol) if need_chain else None
    stale = bool(quote.stale or (chain is not None and chain.stale))
    age = max(float(quote.age_s), float(chain.age_s) if chain is not None else 0.0)
    mkt = MarketInputs(
        symbol=symbol,
        spot=float(quote.spot),
        prev_close=float(quote.prev_close) if quote.prev_close else None,
        rate=float(settings.RISK_FREE_RATE),
        div_yield=float(quote.dividend_yield or 0.0),
        as_of=quote.as_of,
        provider=str(quote.provider),
        stale=stale,
        age_s=age,
        market_state=quote.market_state or (chain_state(chain) if chain is not None else ""),
    )
    return mkt, quote, chain


def chain_vols(chain: Any, positions: list[val.PositionIn], rate: float) -> val.ChainVols | None:
    expiries = sorted({p.expiry for p in positions if p.is_option and p.expiry})
    if chain is None or not expiries:
        return None
    snapshot = (chain.provider, chain.as_of.isoformat(), float(chain.spot), rate)
    key = tuple(expiries)
    return _chain_vols.get_or_compute(
        chain.symbol, snapshot, key, lambda: val.solve_chain_vols(chain, expiries, rate)
    )


def market_block(mkt: MarketInputs, chain: Any) -> dict[str, Any]:
    return {
        "symbol": mkt.symbol,
        "spot": mkt.spot,
        "prev_close": mkt.prev_close,
        "rate": mkt.rate,
        "div_yield": mkt.div_yield,
        "provider": mkt.provider,
        "as_of": mkt.as_of.isoformat(),
        "chain_as_of": chain.as_of.isoformat() if chain is not None else None,
        "chain_provider": chain.provider if chain is not None else None,
        "stale": mkt.stale,
        "age_s": round(mkt.age_s, 3),
        **market_status(mkt.market_state),
    }


def _fingerprint(portfolio: Portfolio) -> tuple[Any, ...]:
    """Identifies the portfolio's state (positions bump ``updated_at``, see models)."""
    return (portfolio.pk, portfolio.updated_at.isoformat(), portfolio.hedge_warning_days)


# --- valuation ------------------------------------------------------------------------------


def value_portfolio(
    portfolio: Portfolio | None,
    symbol: str,
    *,
    chosen_date: date | None = None,
    with_scenarios: bool = True,
) -> dict[str, Any]:
    """Everything the API and the dashboard show for one portfolio and symbol.

    Raises :class:`market.errors.MarketDataError` subclasses when there is no data at all
    (callers turn them into 4xx/503 JSON or an error panel).
    """
    return _value(portfolio, symbol, chosen_date, with_scenarios)[2]


def portfolio_json(
    portfolio: Portfolio | None, symbol: str, *, chosen_date: date | None = None
) -> bytes:
    """The ``/api/portfolio`` body, serialised once per (portfolio state, market data)."""
    snapshot, key, result = _value(portfolio, symbol, chosen_date, True)
    return _bodies.get_or_compute(
        result["symbol"],
        snapshot,
        key,
        lambda: json.dumps(result, separators=(",", ":"), allow_nan=False).encode(),
    )


def _value(
    portfolio: Portfolio | None, symbol: str, chosen_date: date | None, with_scenarios: bool
) -> tuple[tuple[Any, ...], tuple[Any, ...], dict[str, Any]]:
    """(market snapshot, key within it, result) for the memos."""
    symbol = normalize_symbol(symbol)
    mkt, quote, chain = fetch_market(symbol)
    snapshot = (
        mkt.as_of.isoformat(),
        mkt.spot,
        mkt.prev_close,
        mkt.rate,
        mkt.stale,
        chain.as_of.isoformat() if chain is not None else None,
    )
    fp = _fingerprint(portfolio) if portfolio is not None else None
    key = (fp, chosen_date, with_scenarios)

    def compute() -> dict[str, Any]:
        return _compute_value(portfolio, symbol, mkt, chain, chosen_date, with_scenarios)

    return snapshot, key, _results.get_or_compute(symbol, snapshot, key, compute)


def _compute_value(
    portfolio: Portfolio | None,
    symbol: str,
    mkt: MarketInputs,
    chain: Any,
    chosen_date: date | None,
    with_scenarios: bool,
) -> dict[str, Any]:
    qs = Position.objects.for_dashboard(portfolio, symbol) if portfolio is not None else []
    positions = position_inputs(qs)
    cv = chain_vols(chain, positions, mkt.rate)
    valued = val.value_positions(positions, mkt, cv)
    warn_days = portfolio.hedge_warning_days if portfolio is not None else 21
    result: dict[str, Any] = {
        "portfolio": _portfolio_block(portfolio),
        "symbol": symbol,
        "as_of": mkt.as_of.isoformat(),
        "market": market_block(mkt, chain),
        "positions": valued["positions"],
        "totals": valued["totals"],
        "hedge": val.hedge_panel(positions, valued, mkt, warn_days),
        "scenarios": (
            val.scenarios(positions, valued, mkt, cv, chosen_date) if with_scenarios else None
        ),
    }
    return val.clean_json(result)


def _portfolio_block(portfolio: Portfolio | None) -> dict[str, Any] | None:
    if portfolio is None:
        return None
    return {
        "id": portfolio.pk,
        "name": portfolio.name,
        "is_demo": portfolio.is_demo,
        "base_currency": portfolio.base_currency,
    }


_last_recorded: dict[tuple[int, str], float] = {}


def snapshot_interval() -> timedelta:
    return timedelta(minutes=float(getattr(settings, "PORTFOLIO_SNAPSHOT_MINUTES", 5)))


def record_snapshot(portfolio: Portfolio | None, result: dict[str, Any]) -> bool:
    """Store a history point unless one was stored for this portfolio/symbol recently.

    An in-process note of the last write spares the per-tick query; the database check still
    guards against several processes (or restarts) writing within one interval.
    """
    if portfolio is None or result.get("totals") is None:
        return False
    symbol = result["symbol"]
    memo_key = (portfolio.pk, symbol)
    mono = time.monotonic()
    interval = snapshot_interval()
    if mono - _last_recorded.get(memo_key, -1e18) < interval.total_seconds():
        return False
    now = timezone.now()
    last = (
        PortfolioSnapshot.objects.filter(portfolio=portfolio, symbol=symbol)
        .order_by("-taken_at")
        .values_list("taken_at", flat=True)
        .first()
    )
    if last is not None and now - last < interval:
        _last_recorded[memo_key] = mono - (now - last).total_seconds()
        return False
    t = result["totals"]
    PortfolioSnapshot.objects.create(
        portfolio=portfolio,
        symbol=symbol,
        taken_at=now,
        spot=result["market"]["spot"],
        value=t["value"] or 0.0,
        cost=t["cost"] or 0.0,
        pnl=t["pnl"] or 0.0,
        day_change=t["day_change"] or 0.0,
        delta=t["greeks"]["delta_shares"] or 0.0,
        stale=bool(result["market"]["stale"]),
    )
    _last_recorded[memo_key] = mono
    return True


def live_snapshot(symbol: str, portfolio: Portfolio | None = None) -> dict[str, Any]:
    """Per-tick summary for the WebSocket publisher (JSON-serialisable).

    ``portfolio=None`` values the shared demo portfolio: the publisher broadcasts one payload
    per symbol to every subscriber, so it must never carry a private portfolio.
    """
    if portfolio is None:
        portfolio = resolve_portfolio(None)  # the demo (memoised: no query per tick)
    result = value_portfolio(portfolio, symbol, with_scenarios=False)
    try:
        record_snapshot(portfolio, result)
    except Exception:  # history is best effort; a locked SQLite must not stop the tick
        logger.warning("could not record a portfolio snapshot", exc_info=True)
    return snapshot_from_result(result)


def snapshot_from_result(result: dict[str, Any]) -> dict[str, Any]:
    t, h, m = result["totals"], result["hedge"], result["market"]
    floor = h.get("floor") or {}
    g = t["greeks"]
    return {
        "symbol": result["symbol"],
        "portfolio": result["portfolio"],
        "spot": m["spot"],
        "prev_close": m["prev_close"],
        "value": t["value"],
        "cost": t["cost"],
        "pnl": t["pnl"],
        "pnl_pct": t["pnl_pct"],
        "day_change": t["day_change"],
        "day_change_pct": t["day_change_pct"],
        "greeks": {
            "delta_shares": g["delta_shares"],
            "delta_dollars": g["delta_dollars"],
            "gamma_shares": g["gamma_shares"],
            "gamma_dollars": g["gamma_dollars"],
            "theta_dollars": g["theta_dollars"],
            "vega_dollars": g["vega_dollars"],
        },
        "hedge": {
            "hedge_ratio": h["hedge_ratio"],
            "floor_value": floor.get("floor_value"),
            "floor_pct": floor.get("floor_pct"),
            "floor_expiry": floor.get("expiry"),
            "cap_value": h["cap_value"],
            "cost_pct_per_year": h["cost"]["paid_pct_per_year"],
            "days_to_nearest_expiry": h["days_to_nearest_expiry"],
            "warnings": [w["message"] for w in h["warnings"]],
        },
        "rate": m["rate"],
        "div_yield": m["div_yield"],
        "provider": m["provider"],
        "stale": m["stale"],
        "age_s": m["age_s"],
        "ts": m["as_of"],
    }
