"""Adopting a hedge: the signed confirmation of exactly what the page showed, and the one
transaction that records its legs as trades in the portfolio's ledger (positions and lots
follow) and records an ``AdoptedHedge``.

A confirmation is used once. Its token carries a random nonce that the record keeps (a unique
column): a second POST of the same token, a double-click or a retry, writes nothing and gets the
first adoption back; two at once are serialised on the portfolio's row lock, and the unique
column stops any that slip past.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction

from market.calendar import market_date
from market.data import CONTRACT_MULTIPLIER
from strategies.legs import Leg
from strategies.models import AdoptedHedge
from strategies.services import InvalidInput, NotFound

ADOPT_SALT = "strategies.adopt"
ADOPT_MAX_AGE = 15 * 60


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
        "nonce": secrets.token_urlsafe(24),
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
    if not isinstance(data, dict) or not data.get("legs") or not data.get("nonce"):
        raise InvalidInput("token", "invalid confirmation token")
    return data


def may_adopt(user: Any, portfolio: Any) -> bool:
    """Owners adopt into their portfolios; the embedded demo accepts anonymous adoption."""
    if portfolio.can_edit(user):
        return True
    return bool(portfolio.owner_id is None and portfolio.is_demo and not settings.LOGIN_REQUIRED)


def preview(portfolio: Any, symbol: str, legs: Sequence[Leg]) -> dict[str, Any]:
    """The book before and after adding ``legs``, valued as the dashboard values it (same
    market snapshot, vols, hedge panel and warnings): :func:`strategies.wholebook.before_after`.
    """
    from marketdata import snapshot
    from portfolio import services as book
    from portfolio import valuation
    from portfolio.hedge import hedge_panel
    from portfolio.models import Position
    from strategies import wholebook

    snap = snapshot.load(symbol)
    mkt = snap.valuation_inputs
    before = book.position_inputs(Position.objects.for_dashboard(portfolio, symbol))

    def value(rows: list[Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        valued = valuation.value_positions(rows, mkt, book.chain_vols(snap, rows))
        panel = hedge_panel(rows, valued, mkt, portfolio.hedge_warning_days)
        return panel, valued["totals"]

    return wholebook.before_after(before, legs, value, symbol, market_date())


@dataclass(frozen=True)
class Adoption:
    record: AdoptedHedge
    created: bool  # False: this confirmation had been used; nothing was written


def adopt(user: Any, data: dict[str, Any]) -> Adoption:
    """Record the signed legs as trades in the portfolio's ledger, once per confirmation."""
    try:
        return _adopt(user, data)
    except IntegrityError:
        # A concurrent use of the same confirmation committed first (the unique nonce).
        record = AdoptedHedge.objects.filter(confirmation=data["nonce"]).first()
        if record is None:
            raise
        return Adoption(record, created=False)


@transaction.atomic
def _adopt(user: Any, data: dict[str, Any]) -> Adoption:
    from portfolio import ledger
    from portfolio.models import Portfolio, Position, Trade

    portfolio = (
        Portfolio.objects.visible_to(user).select_for_update().filter(pk=data["portfolio"]).first()
    )
    if portfolio is None:
        raise NotFound("portfolio", "no such portfolio")
    if not may_adopt(user, portfolio):
        raise InvalidInput("portfolio", "you may not change this portfolio", "forbidden")
    # After the portfolio's row lock: a use of this confirmation that committed meanwhile shows.
    done = AdoptedHedge.objects.filter(confirmation=data["nonce"]).first()
    if done is not None:
        return Adoption(done, created=False)
    today = market_date()
    trades = [
        Trade(
            symbol=data["symbol"],
            kind=Position.Kind.OPTION,
            expiry=date.fromisoformat(lg["expiry"]),
            strike=Decimal(str(lg["strike"])),
            right=lg["right"],
            style=Position.Style.AMERICAN,
            action=Trade.Action.BUY if float(lg["quantity"]) > 0 else Trade.Action.SELL,
            quantity=Decimal(str(lg["quantity"])),
            price=Decimal(str(lg["price"])),
            traded_on=today,
            source=Trade.Source.ADOPTION,
            note=f"adopted: {data['name']}"[:200],
        )
        for lg in data["legs"]
    ]
    try:
        ledger.record(portfolio, user, trades, reason=f"adopted: {data['name']}")
    except ledger.LedgerError as exc:
        raise InvalidInput("token", exc.message) from None
    # Each leg's position as the ledger left it (open, or closed by this trade).
    touched = [
        Position.objects.filter(portfolio=portfolio, **ledger.Instrument.of(t).filter())
        .order_by("-pk")
        .first()
        for t in trades
    ]
    record = AdoptedHedge.objects.create(
        portfolio=portfolio,
        adopted_by=user if getattr(user, "is_authenticated", False) else None,
        symbol=data["symbol"],
        name=data["name"][:120],
        candidate_id=data["candidate"][:200],
        spot=data["spot"],
        quote_as_of=data["as_of"],
        legs=data["legs"],
        confirmation=data["nonce"],
        net_premium=sum(
            float(lg["price"]) * float(lg["quantity"]) * CONTRACT_MULTIPLIER for lg in data["legs"]
        ),
    )
    record.positions.set([p for p in touched if p is not None])
    return Adoption(record, created=True)
