"""Single-use confirmations of a change to a portfolio's book: adopting a hedge
(:mod:`strategies.adoption`) and rolling one (:mod:`strategies.roll_service`).

The confirmation page signs exactly what it shows, with a random nonce (:func:`sign`). Using
the token (:func:`use_once`) runs one transaction under the portfolio's row lock that writes
the trades and a record keeping the nonce in a unique column. A second use of the same token
(a retry, a double click) writes nothing and gets the first record back; two at once are
serialised on the row lock, and the unique column stops any that slip past.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Generic, TypeVar

from django.core import signing
from django.db import IntegrityError, models, transaction

from portfolio.access import may_adopt
from strategies.services import InvalidInput, NotFound

MAX_AGE_S = 15 * 60

R = TypeVar("R", bound=models.Model)


def changeable(user: Any, portfolio: Any, missing: str = "no such portfolio") -> Any:
    """``portfolio`` if ``user`` may adopt into or roll it: NotFound for None, else
    InvalidInput (forbidden)."""
    if portfolio is None:
        raise NotFound("portfolio", missing)
    if not may_adopt(user, portfolio):
        raise InvalidInput("portfolio", "you may not change this portfolio", "forbidden")
    return portfolio


def sign(payload: dict[str, Any], salt: str) -> str:
    """A tamper-proof, single-use token of ``payload`` (which must carry ``legs``)."""
    return signing.dumps({"nonce": secrets.token_urlsafe(24), **payload}, salt=salt, compress=True)


def read(token: str, salt: str, what: str) -> dict[str, Any]:
    """The payload of a token from :func:`sign` with ``salt``, at most :data:`MAX_AGE_S` old;
    :class:`InvalidInput` (a 400) for anything else. ``what`` names it in the expiry message."""
    try:
        data = signing.loads(token, salt=salt, max_age=MAX_AGE_S)
    except signing.SignatureExpired:
        raise InvalidInput("token", f"the quote has expired: review the {what} again") from None
    except signing.BadSignature:
        raise InvalidInput("token", "invalid confirmation token") from None
    if not isinstance(data, dict) or not data.get("legs") or not data.get("nonce"):
        raise InvalidInput("token", "invalid confirmation token")
    return data


@dataclass(frozen=True)
class Used(Generic[R]):
    record: R
    created: bool  # False: this confirmation had been used; nothing was written


def use_once(
    user: Any, data: dict[str, Any], model: type[R], carry_out: Callable[[Any], R]
) -> Used[R]:
    """Run ``carry_out(portfolio)`` for the confirmation ``data`` once: it writes the trades and
    returns the new ``model`` record holding ``data["nonce"]`` in its ``confirmation`` column."""
    try:
        return _use(user, data, model, carry_out)
    except IntegrityError:
        # A concurrent use of the same confirmation committed first (the unique nonce).
        record = model._default_manager.filter(confirmation=data["nonce"]).first()
        if record is None:
            raise
        return Used(record, created=False)


@transaction.atomic
def _use(user: Any, data: dict[str, Any], model: type[R], carry_out: Callable[[Any], R]) -> Used[R]:
    from portfolio.models import Portfolio

    locked = Portfolio.objects.visible_to(user).select_for_update().filter(pk=data["portfolio"])
    portfolio = changeable(user, locked.first())
    # After the portfolio's row lock: a use of this confirmation that committed meanwhile shows.
    done = model._default_manager.filter(confirmation=data["nonce"]).first()
    if done is not None:
        return Used(done, created=False)
    return Used(carry_out(portfolio), created=True)


def record_legs(
    portfolio: Any,
    user: Any,
    data: dict[str, Any],
    *,
    action: Callable[[dict[str, Any]], str],
    style: Callable[[dict[str, Any]], str],
    source: str,
    note: str,
    reason: str,
) -> list[Any]:
    """Write a confirmed token's option legs to the ledger, dated today's market date, in one
    ``ledger.record``. ``action`` and ``style`` give each leg's trade action and exercise
    style; a book that refuses the trades (it changed since the quote) is an InvalidInput."""
    from market.calendar import market_date
    from portfolio import ledger
    from portfolio.models import Position, Trade

    today = market_date()
    trades = [
        Trade(
            symbol=data["symbol"],
            kind=Position.Kind.OPTION,
            expiry=date.fromisoformat(lg["expiry"]),
            strike=Decimal(str(lg["strike"])),
            right=lg["right"],
            style=style(lg),
            action=action(lg),
            quantity=Decimal(str(lg["quantity"])),
            price=Decimal(str(lg["price"])),
            traded_on=today,
            source=source,
            note=note[:200],
        )
        for lg in data["legs"]
    ]
    try:
        ledger.record(portfolio, user, trades, reason=reason[:200])
    except ledger.LedgerError as exc:
        raise InvalidInput("token", exc.message) from None
    return trades
