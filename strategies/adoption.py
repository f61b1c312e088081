"""Adopting a hedge: the signed confirmation of exactly what the page showed, and the one
transaction that records its legs as trades in the portfolio's ledger (positions and lots
follow) and records an ``AdoptedHedge``.

A confirmation is used once (:mod:`strategies.confirmation`, shared with rolls): a second POST
of the same token, a double-click or a retry, writes nothing and gets the first adoption back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from market.calendar import market_date
from market.data import CONTRACT_MULTIPLIER
from strategies import confirmation
from strategies.legs import Leg
from strategies.models import AdoptedHedge

ADOPT_SALT = "strategies.adopt"


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
        "legs": [{**lg.contract(), "price": round(lg.price, 4)} for lg in legs if lg.is_option],
    }
    return confirmation.sign(payload, ADOPT_SALT)


def read_adoption(token: str) -> dict[str, Any]:
    return confirmation.read(token, ADOPT_SALT, "hedge")


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


Adoption = confirmation.Used[AdoptedHedge]


def adopt(user: Any, data: dict[str, Any]) -> Adoption:
    """Record the signed legs as trades in the portfolio's ledger, once per confirmation."""
    return confirmation.use_once(user, data, AdoptedHedge, lambda pf: _adopt(user, pf, data))


def _adopt(user: Any, portfolio: Any, data: dict[str, Any]) -> AdoptedHedge:
    from portfolio import ledger
    from portfolio.models import Position, Trade

    trades = confirmation.record_legs(
        portfolio,
        user,
        data,
        action=lambda lg: Trade.Action.BUY if float(lg["quantity"]) > 0 else Trade.Action.SELL,
        style=lambda lg: Position.Style.AMERICAN,
        source=Trade.Source.ADOPTION,
        note=f"adopted: {data['name']}",
        reason=f"adopted: {data['name']}",
    )
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
    return record
