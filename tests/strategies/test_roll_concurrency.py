"""Two requests carrying the same roll confirmation at the same moment roll once (PostgreSQL).

As the adoption's (test_adoption_concurrency.py): both threads hold a connection of their own
and start together; the portfolio's row lock and the unique nonce must leave one roll and one
close/open pair of trades. SQLite serialises whole transactions, so this is the PostgreSQL
pass's test (``.ci/run`` runs it there).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from portfolio.models import Position, Trade
from strategies import roll_service
from strategies.models import HedgeRoll
from tests.factories import OptionPositionFactory, PortfolioFactory, PositionFactory
from tests.portfolio.fakes import EXPIRIES
from tests.support.postgres import at_once

pytestmark = pytest.mark.usefixtures("concurrent_db")


def test_two_concurrent_confirms_of_one_roll_trade_once() -> None:
    portfolio = PortfolioFactory()
    PositionFactory(portfolio=portfolio, quantity=Decimal(1000))
    OptionPositionFactory(
        portfolio=portfolio, quantity=Decimal(10), strike=Decimal(190), expiry=EXPIRIES[1]
    )
    data = {
        "nonce": "same-confirmation",
        "symbol": "GLD",
        "portfolio": portfolio.pk,
        "candidate": f"{EXPIRIES[1]}>{EXPIRIES[2]}:p190x10",
        "from_expiry": EXPIRIES[1].isoformat(),
        "to_expiry": EXPIRIES[2].isoformat(),
        "debit": 1234.0,
        "spot": 200.0,
        "as_of": "2026-04-06T20:00:00+00:00",
        "legs": [
            {"action": "close", "right": "P", "strike": 190.0, "expiry": EXPIRIES[1].isoformat(),
             "quantity": -10.0, "price": 1.5},
            {"action": "open", "right": "P", "strike": 190.0, "expiry": EXPIRIES[2].isoformat(),
             "quantity": 10.0, "price": 2.734},
        ],
    }  # fmt: skip
    results = at_once(lambda: roll_service.roll(portfolio.owner, data))
    assert sorted(r.created for r in results) == [False, True]
    assert results[0].record.pk == results[1].record.pk
    assert HedgeRoll.objects.count() == 1
    assert Trade.objects.filter(source=Trade.Source.ROLL).count() == 2
    options = Position.objects.open().filter(portfolio=portfolio, kind=Position.Kind.OPTION)
    assert [(p.expiry, int(p.quantity)) for p in options] == [(EXPIRIES[2], 10)]
