"""Glue between the ORM, the cached market service and the pure valuation functions.

* :func:`resolve_portfolio` — which portfolio a request may see (ownership rules).
* :func:`value_portfolio` — the full valuation (positions, totals, hedge panel, scenarios) that
  ``/api/portfolio`` and the dashboard render; memoised per (portfolio state, market data).
* :func:`live_snapshot` — the cheap per-tick summary the WebSocket publisher broadcasts.
"""

from __future__ import annotations

import json
import logging
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings

from core.memo import SnapshotMemo
from core.numbers import json_safe
from market.calendar import market_date
from market.data import normalize_symbol
from market.surface import ChainVols, solve_chain_vols
from marketdata import snapshot
from portfolio import access, ledger
from portfolio import backing as backing_math
from portfolio import valuation as val
from portfolio.hedge import hedge_panel
from portfolio.models import (
    CommodityBacking,
    Portfolio,
    Position,
    bump_data_version,
)

logger = logging.getLogger(__name__)

_MEMO_SIZE = 64


# Derived from one market snapshot per symbol: dropped when the data refreshes (memo.py).
_chain_vols = SnapshotMemo(_MEMO_SIZE)
_results = SnapshotMemo(_MEMO_SIZE)
_bodies = SnapshotMemo(_MEMO_SIZE)


def clear_memos() -> None:
    _chain_vols.clear()
    _results.clear()
    _bodies.clear()
    access.clear_memo()
    bump_data_version()


# --- inputs ---------------------------------------------------------------------------------


def position_inputs(positions: Any) -> list[val.PositionIn]:
    return [p.as_input() for p in positions]


def chain_vols(snap: snapshot.Snapshot, positions: list[val.PositionIn]) -> ChainVols | None:
    """Implied vols of the held expiries, solved once per chain snapshot."""
    chain = snap.chain
    expiries = sorted({p.expiry for p in positions if p.is_option and p.expiry})
    if chain is None or not expiries:
        return None
    return _chain_vols.get_or_compute(
        chain.symbol,
        snap.chain_key,
        tuple(expiries),
        lambda: solve_chain_vols(chain, expiries, snap.rate),
    )


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
    snap = snapshot.load(symbol)
    fp = _fingerprint(portfolio) if portfolio is not None else None
    key = (fp, chosen_date, with_scenarios)

    def compute() -> dict[str, Any]:
        return _compute_value(portfolio, snap, chosen_date, with_scenarios)

    return snap.key, key, _results.get_or_compute(symbol, snap.key, key, compute)


def _compute_value(
    portfolio: Portfolio | None,
    snap: snapshot.Snapshot,
    chosen_date: date | None,
    with_scenarios: bool,
) -> dict[str, Any]:
    symbol = snap.symbol
    mkt = snap.valuation_inputs
    qs = Position.objects.for_dashboard(portfolio, symbol) if portfolio is not None else []
    positions = position_inputs(qs)
    cv = chain_vols(snap, positions)
    valued = val.value_positions(positions, mkt, cv)
    warn_days = portfolio.hedge_warning_days if portfolio is not None else 21
    result: dict[str, Any] = {
        "portfolio": _portfolio_block(portfolio),
        "symbol": symbol,
        "as_of": mkt.as_of.isoformat(),
        "market": snapshot.valuation_block(mkt, snap.chain),
        "positions": valued["positions"],
        "totals": valued["totals"],
        "hedge": hedge_panel(positions, valued, mkt, warn_days),
        "scenarios": (
            val.scenarios(positions, valued, mkt, cv, chosen_date) if with_scenarios else None
        ),
        "realised": ledger.realised_block(portfolio, symbol) if portfolio is not None else None,
    }
    return json_safe(result)


def _portfolio_block(portfolio: Portfolio | None) -> dict[str, Any] | None:
    if portfolio is None:
        return None
    return {
        "id": portfolio.pk,
        "name": portfolio.name,
        "is_demo": portfolio.is_demo,
        "base_currency": portfolio.base_currency,
    }


def snapshot_interval() -> timedelta:
    return timedelta(minutes=float(getattr(settings, "PORTFOLIO_SNAPSHOT_MINUTES", 5)))


def live_snapshot(symbol: str, portfolio: Portfolio | None = None) -> dict[str, Any]:
    """Per-tick summary for the WebSocket publisher (JSON-serialisable).

    ``portfolio=None`` values the shared demo portfolio: the publisher broadcasts one payload
    per symbol to every subscriber, so it must never carry a private portfolio.
    """
    if portfolio is None:
        portfolio = access.resolve_portfolio(None)  # the demo (memoised: no query per tick)
    # The value history is recorded once a day from the daily closes (portfolio.history),
    # not per tick.
    return snapshot_from_result(value_portfolio(portfolio, symbol, with_scenarios=False))


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


def backing_for(symbol: str) -> backing_math.Backing | None:
    """The symbol's commodity backing, or None when it has none (or it is switched off)."""
    row = CommodityBacking.objects.filter(symbol=symbol, enabled=True).first()
    if row is None:
        return None
    return backing_math.Backing(
        symbol=row.symbol,
        commodity=row.commodity,
        ounces_per_share=float(row.ounces_per_share),
        as_of=row.as_of,
        annual_fee=float(row.annual_fee_pct) / 100.0,
    )


def backing_panel(result: dict[str, Any]) -> dict[str, Any] | None:
    """The dashboard's gold-aware panel for a valuation result; None without a backing."""
    backing = backing_for(result["symbol"])
    if backing is None:
        return None
    market, hedge = result["market"], result["hedge"]
    return backing_math.backing_panel(
        backing,
        shares=float(hedge["shares"]),
        spot=float(market["spot"]),
        today=market_date(datetime.fromisoformat(market["as_of"])),
        expiries=hedge.get("expiries") or [],
    )
