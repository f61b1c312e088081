"""Expiry processing: options past their expiry are taken off the book through the ledger.

For every open option position whose expiry has passed (16:00 New York on the expiry date),
the underlying's close on the expiry date settles it:

* out of (or at) the money — an ``expiry`` trade at 0: the premium is realised;
* in the money, portfolio set to **settle** (default) — an ``expiry`` trade at intrinsic value
  (``max(S − K, 0)`` for a call, ``max(K − S, 0)`` for a put);
* in the money, portfolio set to **deliver** — the contract goes at 0 and a share trade at the
  strike follows: long calls and puts are ``exercise``\\ d, short ones ``assignment``\\ s (a short
  call sells 100 shares per contract at the strike, a long put sells them, a long call or short
  put buys them).

Without a close for the expiry date (the provider has none yet) the position is left open and
reported: nothing is guessed. Runs from ``manage.py process_expiries`` and once a day from the
publisher, never from a page view.

Idempotent: each portfolio is processed with its row locked, re-reading what is still open,
and every trade written carries an ``external_id`` unique per portfolio, so a second run — or a
second process at the same moment — writes nothing more.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from django.db import IntegrityError, transaction
from django.utils import timezone

from market.calendar import market_date
from market.data import CONTRACT_MULTIPLIER
from market.errors import MarketDataError
from portfolio import ledger
from portfolio.models import Portfolio, Position, Trade

logger = logging.getLogger(__name__)

NEW_YORK = ZoneInfo("America/New_York")
EXPIRY_CUTOFF = time(16, 0)
PRICE_QUANTUM = Decimal("0.0001")

CloseFn = Callable[[str, date], float | None]


@dataclass(frozen=True)
class Outcome:
    portfolio_id: int
    position_id: int
    instrument: str
    result: str  # expired, settled, assigned, exercised, no close
    settlement: float | None
    trades: int


def expired_by(now: datetime) -> date:
    """The last expiry date whose 16:00 New York cut-off is at or before ``now``."""
    local = now.astimezone(NEW_YORK)
    return local.date() if local.time() >= EXPIRY_CUTOFF else local.date() - timedelta(days=1)


def history_close(symbol: str, day: date) -> float | None:
    """The underlying's close on ``day`` from the market service's daily history."""
    from marketdata.service import get_market_service

    days = min(max((market_date() - day).days + 10, 30), 400)
    try:
        history = get_market_service().history(symbol, days)
    except MarketDataError as exc:
        logger.warning("no price history for %s: %s", symbol, exc)
        return None
    hit = np.nonzero(history.dates == np.datetime64(day, "D"))[0]
    if hit.size == 0:
        return None
    value = float(history.close[hit[-1]])
    return value if np.isfinite(value) and value > 0 else None


def due_positions(cutoff: date) -> Any:
    return Position.objects.open().filter(kind=Position.Kind.OPTION, expiry__lte=cutoff)


def process_expiries(now: datetime | None = None, close: CloseFn | None = None) -> list[Outcome]:
    """Process every portfolio's expired options; returns what happened to each.

    ``close(symbol, day)`` gives the settlement close (default :func:`history_close`).
    """
    cutoff = expired_by(now or timezone.now())
    close = close or history_close
    closes: dict[tuple[str, date], float | None] = {}

    def close_of(symbol: str, day: date) -> float | None:
        if (symbol, day) not in closes:
            closes[symbol, day] = close(symbol, day)
        return closes[symbol, day]

    outcomes: list[Outcome] = []
    portfolio_ids = sorted(set(due_positions(cutoff).values_list("portfolio_id", flat=True)))
    for pid in portfolio_ids:
        try:
            outcomes += _process_portfolio(pid, cutoff, close_of)
        except IntegrityError:
            # Another process wrote the same expiry trades first (the unique external id).
            logger.info("expiries of portfolio %s were processed concurrently", pid)
    return outcomes


def _process_portfolio(pid: int, cutoff: date, close_of: CloseFn) -> list[Outcome]:
    out: list[Outcome] = []
    with transaction.atomic():
        portfolio = Portfolio.objects.select_for_update().get(pk=pid)
        # Re-read under the lock: a process that waited here sees what the first one closed.
        for position in due_positions(cutoff).filter(portfolio=portfolio).order_by("expiry", "pk"):
            if position.expiry is None or position.strike is None:
                continue  # not a listed option (the model's checks keep this from happening)
            spot = close_of(position.symbol, position.expiry)
            if spot is None:
                out.append(Outcome(pid, position.pk, position.instrument, "no close", None, 0))
                continue
            trades, result = settlement_trades(position, Decimal(str(spot)), portfolio.itm_expiry)
            ledger.record(portfolio, None, trades, reason=f"expiry: {result}")
            out.append(Outcome(pid, position.pk, position.instrument, result, spot, len(trades)))
    return out


def settlement_trades(position: Position, spot: Decimal, itm: str) -> tuple[list[Trade], str]:
    """The trades that take an expired option off the book, and what they amount to."""
    if position.expiry is None or position.strike is None:
        raise ValueError(f"{position.instrument}: an expiring option needs an expiry and a strike")
    is_call = position.right == Position.Right.CALL
    intrinsic = max((spot - position.strike) if is_call else (position.strike - spot), Decimal(0))
    long = position.quantity > 0
    key = f"expiry:{position.symbol}:{position.expiry}:{position.strike.normalize():f}"
    key += f"{position.right}:{position.style}"
    base = {
        "symbol": position.symbol,
        "kind": Position.Kind.OPTION,
        "expiry": position.expiry,
        "strike": position.strike,
        "right": position.right,
        "style": position.style,
        "quantity": -position.quantity,
        "traded_on": position.expiry,
        "source": Trade.Source.EXPIRY,
    }
    if intrinsic == 0:
        note = f"expired worthless (close {spot})"
        return [Trade(action=Trade.Action.EXPIRY, price=0, external_id=key, note=note, **base)], (
            "expired"
        )
    if itm != Portfolio.ItmExpiry.DELIVER:
        price = intrinsic.quantize(PRICE_QUANTUM)
        note = f"settled at intrinsic {price} (close {spot})"
        return [
            Trade(action=Trade.Action.EXPIRY, price=price, external_id=key, note=note, **base)
        ], "settled"
    action = Trade.Action.EXERCISE if long else Trade.Action.ASSIGNMENT
    # Shares change hands at the strike: a call's holder buys, a put's holder sells.
    buys = (is_call and long) or (not is_call and not long)
    shares = abs(position.quantity) * CONTRACT_MULTIPLIER * (1 if buys else -1)
    note = f"{action} at {position.strike.normalize():f} (close {spot})"
    return [
        Trade(action=action, price=0, external_id=key, note=note, **base),
        Trade(
            symbol=position.symbol,
            kind=Position.Kind.UNDERLYING,
            action=Trade.Action.BUY if shares > 0 else Trade.Action.SELL,
            quantity=shares,
            price=position.strike,
            traded_on=position.expiry,
            source=Trade.Source.EXPIRY,
            external_id=f"{key}:shares",
            note=f"{action} of {position.instrument}",
        ),
    ], ("exercised" if long else "assigned")
