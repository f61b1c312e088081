"""Two requests carrying the same confirmation at the same moment adopt once (PostgreSQL).

Both threads hold a connection of their own and start together; the portfolio's row lock and
the unique nonce must leave one adoption and one set of positions. SQLite serialises whole
transactions, so this is the PostgreSQL pass's test (``.ci/run`` runs it there).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from portfolio.models import Position
from strategies import adoption
from strategies.legs import Leg
from strategies.models import AdoptedHedge
from tests.factories import PortfolioFactory, PositionFactory
from tests.strategies.conftest import AS_OF, EXPIRIES
from tests.support.postgres import at_once

pytestmark = pytest.mark.usefixtures("concurrent_db")


def test_two_concurrent_posts_of_one_confirmation_write_once() -> None:
    portfolio = PortfolioFactory()
    PositionFactory(portfolio=portfolio, quantity=Decimal(1000))
    legs = [
        Leg("put", 10, 240.0, EXPIRIES[2], 3.10),
        Leg("call", -10, 265.0, EXPIRIES[2], 2.40),
    ]
    token = adoption.sign_adoption(
        "GLD", portfolio.pk, "cid", "Collar", legs, 250.0, AS_OF.isoformat()
    )
    data = adoption.read_adoption(token)
    results = at_once(lambda: adoption.adopt(portfolio.owner, data))
    assert sorted(r.created for r in results) == [False, True]
    assert results[0].record.pk == results[1].record.pk
    assert AdoptedHedge.objects.count() == 1
    options = Position.objects.filter(portfolio=portfolio, kind=Position.Kind.OPTION)
    assert sorted(int(p.quantity) for p in options) == [-10, 10]
