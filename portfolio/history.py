"""The value history: one point per trading day, the book valued at that day's close.

:func:`fill` values a portfolio's holding of a symbol at each daily close the market provider's
history has (:meth:`market.service.MarketService.history`: the synthetic provider makes a
deterministic one, yfinance asks Yahoo's chart endpoint, a replay file can carry one) and stores
the days that have no close point yet. It is both the backfill (``manage.py backfill_history``)
and the daily record: the active publisher runs it once a day after the 16:00 New York close
(:meth:`portfolio.publisher.Publisher.daily_expiries`), ``manage.py backfill_history --days 5``
from cron does the same. Page views record nothing.

The book on each day is rebuilt from the ledger: every trade of an instrument dated on or before
that day, through the lots (:func:`portfolio.lots.build`), gives its quantity and open cost. An
instrument with no trades at all (a position that predates the ledger and was never touched
since) counts as held from its ``opened_on`` to its ``closed_on``.

Method and limits (also in docs/ledger.md): shares at the day's close; options with the American
model at the day's close, time to expiry from that close, today's rate and dividend yield, and
*today's* implied volatility of the contract (its smile or the surface when it is no longer
listed): past option chains are not kept, so an option's past value is an estimate, exact only
at and after its expiry (intrinsic value).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

import numpy as np
from django.db import transaction
from django.utils import timezone

from market import calendar
from market.data import MarketInputs, normalize_symbol
from portfolio import lots
from portfolio import valuation as val
from portfolio.models import Portfolio, PortfolioSnapshot, Position, Trade

logger = logging.getLogger(__name__)

MAX_DAYS = 3650


def close_instant(d: date) -> datetime:
    """16:00 New York on ``d``: the time a daily point is stored at."""
    return calendar.expiry_instant(d)


@dataclass(frozen=True)
class Holding:
    """One instrument's quantity and open cost per unit from a given date on."""

    since: date
    quantity: float
    cost_basis: float
    opened_on: date | None


def _instrument(obj: Trade | Position) -> tuple[Any, ...]:
    if obj.kind == Position.Kind.OPTION:
        return (obj.kind, obj.expiry, obj.strike, obj.right, obj.style)
    return (obj.kind, None, None, "", "")


def holdings(portfolio: Portfolio, symbol: str) -> dict[tuple[Any, ...], list[Holding]]:
    """Per instrument of ``symbol``: its holding after each trade date (ascending), from the
    ledger; instruments without trades from their position's open and close dates."""
    trades = list(
        Trade.objects.filter(portfolio=portfolio, symbol=symbol).order_by("traded_on", "pk")
    )
    by_inst: dict[tuple[Any, ...], list[Trade]] = defaultdict(list)
    for t in trades:
        by_inst[_instrument(t)].append(t)
    out: dict[tuple[Any, ...], list[Holding]] = {}
    for inst, group in by_inst.items():
        steps: list[Holding] = []
        days = sorted({t.traded_on for t in group})
        ins = [
            lots.TradeIn(t.pk, t.traded_on, t.action, t.quantity, t.price, t.fees, t.multiplier)
            for t in group
        ]
        mult = group[-1].multiplier
        for d in days:  # a handful of trade dates per instrument
            book = lots.build([t for t in ins if t.traded_on <= d], portfolio.lot_method)
            net = book.net_quantity
            cost = float(book.open_cost / (net * mult)) if net else 0.0
            first = book.open_lots[0].opened_on if book.open_lots else None
            steps.append(Holding(d, float(net), cost, first))
        out[inst] = steps
    for p in Position.objects.filter(portfolio=portfolio, symbol=symbol):
        inst = _instrument(p)
        if inst in out:
            continue
        steps = [Holding(p.opened_on, float(p.quantity), float(p.cost_basis), p.opened_on)]
        if p.closed_on is not None:
            steps.append(Holding(p.closed_on, 0.0, 0.0, None))
        out[inst] = steps
    return out


def _template(inst: tuple[Any, ...], symbol: str, units_per_share: float | None) -> val.PositionIn:
    kind, expiry, strike, right, style = inst
    return val.PositionIn(
        kind=kind,
        quantity=0.0,
        cost_basis=0.0,
        expiry=expiry,
        strike=float(strike) if strike is not None else None,
        is_call=(right == Position.Right.CALL) if kind == Position.Kind.OPTION else None,
        style=style or "american",
        units_per_share=units_per_share,
        label=symbol,
    )


def book_on(
    held: dict[tuple[Any, ...], list[Holding]],
    templates: dict[tuple[Any, ...], val.PositionIn],
    dates: np.ndarray,
) -> list[list[val.PositionIn]]:
    """The positions held at the close of each date (datetime64[D], ascending)."""
    per_date: list[list[val.PositionIn]] = [[] for _ in range(len(dates))]
    for inst, steps in held.items():
        since = np.array([np.datetime64(s.since, "D") for s in steps])
        idx = np.searchsorted(since, dates, side="right") - 1  # the step in force each date
        for i in np.flatnonzero(idx >= 0):
            h = steps[int(idx[i])]
            if h.quantity:
                per_date[i].append(
                    replace(
                        templates[inst],
                        quantity=h.quantity,
                        cost_basis=h.cost_basis,
                        opened_on=h.opened_on,
                    )
                )
    return per_date


def fill(
    portfolio: Portfolio,
    symbol: str,
    days: int = 30,
    *,
    replace_existing: bool = False,
    now: datetime | None = None,
) -> int:
    """Store a close point for each day of the provider's last ``days`` daily closes that has
    none yet (or all of them with ``replace_existing``). Returns the number written."""
    from marketdata import snapshot
    from marketdata.service import get_market_service
    from portfolio.services import chain_vols

    symbol = normalize_symbol(symbol)
    days = max(1, min(int(days), MAX_DAYS))
    held = holdings(portfolio, symbol)
    if not held:
        return 0  # nothing ever held in the symbol: no $0 points
    history = get_market_service().history(symbol, days)
    now = now or timezone.now()
    dates = np.asarray(history.dates, dtype="datetime64[D]")
    close = np.asarray(history.close, dtype=float)
    closed = np.array([close_instant(d.astype(object)) <= now for d in dates], dtype=bool)
    dates, close = dates[closed], close[closed]
    if not len(dates):
        return 0
    physical = (
        Position.objects.filter(portfolio=portfolio, symbol=symbol, kind=Position.Kind.PHYSICAL)
        .exclude(units_per_share=None)
        .order_by("-pk")
        .values_list("units_per_share", flat=True)
        .first()
    )
    ups = float(physical) if physical is not None else None
    templates = {
        inst: _template(inst, symbol, ups if inst[0] == Position.Kind.PHYSICAL else None)
        for inst in held
    }
    books = book_on(held, templates, dates)
    snap = snapshot.load(symbol)
    mkt = snap.valuation_inputs
    cv = chain_vols(snap, [t for t in templates.values() if t.is_option])
    with transaction.atomic():
        # Serialised per portfolio (the publisher and a cron run at once write each day once).
        Portfolio.objects.select_for_update().filter(pk=portfolio.pk).first()
        return _store(
            portfolio, symbol, dates, close, books, mkt, cv, history.provider, replace_existing
        )


def _store(
    portfolio: Portfolio,
    symbol: str,
    dates: np.ndarray,
    close: np.ndarray,
    books: list[list[val.PositionIn]],
    mkt: MarketInputs,
    cv: Any,
    provider: str,
    replace_existing: bool,
) -> int:
    existing = set(
        PortfolioSnapshot.objects.filter(
            portfolio=portfolio,
            symbol=symbol,
            taken_at__in=[close_instant(d.astype(object)) for d in dates],
        ).values_list("taken_at", flat=True)
    )
    rows: list[PortfolioSnapshot] = []
    stale_ids: list[datetime] = []
    for i, d64 in enumerate(dates):  # one valuation per day (a batch job, not a request)
        d = d64.astype(object)
        at = close_instant(d)
        positions = books[i]
        if not positions:
            continue
        if at in existing:
            if not replace_existing:
                continue
            stale_ids.append(at)
        inputs = MarketInputs(
            symbol=symbol,
            spot=float(close[i]),
            rate=mkt.rate,
            div_yield=mkt.div_yield,
            as_of=at,
            provider=provider,
            prev_close=float(close[i - 1]) if i > 0 else None,
        )
        valued = val.value_positions(positions, inputs, cv)
        t = valued["totals"]
        rows.append(
            PortfolioSnapshot(
                portfolio=portfolio,
                symbol=symbol,
                taken_at=at,
                spot=float(close[i]),
                value=t["value"] or 0.0,
                cost=t["cost"] or 0.0,
                pnl=t["pnl"] or 0.0,
                day_change=t["day_change"] or 0.0,
                delta=t["greeks"]["delta_shares"] or 0.0,
                stale=False,
            )
        )
    if stale_ids:
        PortfolioSnapshot.objects.filter(
            portfolio=portfolio, symbol=symbol, taken_at__in=stale_ids
        ).delete()
    PortfolioSnapshot.objects.bulk_create(rows)
    return len(rows)


def symbols_held(portfolio: Portfolio) -> list[str]:
    """Symbols the portfolio holds now or traded in the ledger."""
    now = set(portfolio.open_positions().values_list("symbol", flat=True))
    traded = set(Trade.objects.filter(portfolio=portfolio).values_list("symbol", flat=True))
    return sorted(now | traded)


def fill_all(days: int = 5, now: datetime | None = None) -> int:
    """:func:`fill` for every portfolio and symbol it holds (the daily record)."""
    written = 0
    for portfolio in Portfolio.objects.all():
        for symbol in symbols_held(portfolio):
            try:
                written += fill(portfolio, symbol, days, now=now)
            except Exception:  # one symbol's missing data must not stop the others
                logger.warning("value history of %s %s failed", portfolio.pk, symbol, exc_info=True)
    return written
