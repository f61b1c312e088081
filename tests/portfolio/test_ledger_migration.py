"""Positions that predate the ledger become opening trades, and the valuation inputs stay."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("portfolio", "0001_initial")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor.loader.project_state(targets).apps


@pytest.fixture(autouse=True)
def _back_to_latest():
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_open_positions_become_opening_trades_and_lots():
    old = _migrate(BEFORE)
    Portfolio = old.get_model("portfolio", "Portfolio")
    Position = old.get_model("portfolio", "Position")
    pf = Portfolio.objects.create(name="Mine")
    shares = Position.objects.create(
        portfolio=pf,
        symbol="GLD",
        kind="underlying",
        quantity=D(1000),
        cost_basis=D("180.25"),
        opened_on=date(2025, 5, 1),
        note="core",
    )
    put = Position.objects.create(
        portfolio=pf,
        symbol="GLD",
        kind="option",
        quantity=D(-3),
        cost_basis=D("2.5"),
        expiry=date(2027, 1, 15),
        strike=D(170),
        right="P",
        opened_on=date(2025, 6, 2),
    )
    Position.objects.create(
        portfolio=pf,
        symbol="IAU",
        kind="underlying",
        quantity=D(5),
        cost_basis=D(40),
        opened_on=date(2024, 1, 1),
        closed_on=date(2024, 2, 1),
    )

    _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())  # the data migration
    from portfolio import ledger
    from portfolio.models import Lot, Trade, TradeAudit
    from portfolio.models import Position as NewPosition

    trades = {t.symbol + t.kind: t for t in Trade.objects.filter(portfolio_id=pf.pk)}
    assert set(trades) == {"GLDunderlying", "GLDoption"}  # the closed IAU lot is not a trade
    t = trades["GLDunderlying"]
    assert (t.action, t.quantity, t.price, t.fees, t.traded_on, t.source) == (
        "open",
        D(1000),
        D("180.25"),
        0,
        date(2025, 5, 1),
        "migration",
    )
    lot = Lot.objects.get(trade=trades["GLDoption"])
    assert lot.remaining == -3 and lot.cost == D(-750)  # −3 × 2.50 × 100
    assert TradeAudit.objects.filter(portfolio_id=pf.pk, change="create").count() == 2

    # The ledger rebuilds exactly the positions that were there.
    new_pf = NewPosition.objects.get(pk=shares.pk).portfolio
    with transaction.atomic():  # rebuild locks rows, as it does inside the ledger's writes
        for instrument in {ledger.Instrument.of(x) for x in Trade.objects.filter(portfolio=new_pf)}:
            ledger.rebuild(new_pf, instrument)
    s, p = NewPosition.objects.get(pk=shares.pk), NewPosition.objects.get(pk=put.pk)
    assert (s.quantity, s.cost_basis, s.opened_on, s.closed_on) == (
        D(1000),
        D("180.25"),
        date(2025, 5, 1),
        None,
    )
    assert (p.quantity, p.cost_basis) == (D(-3), D("2.5"))
