"""The ledger writes trades, keeps positions and lots in step, audits every change."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from portfolio import ledger
from portfolio.models import Lot, LotClosure, Position, Trade, TradeAudit
from tests.factories import PortfolioFactory, PositionFactory, UserFactory

pytestmark = pytest.mark.django_db

GLD = {"symbol": "GLD", "kind": "underlying"}
PUT = {
    "symbol": "GLD",
    "kind": "option",
    "expiry": date(2027, 3, 19),
    "strike": D("180"),
    "right": "P",
}


def trade(portfolio, user, qty, price, fees="0", day=1, action=None, **instrument):
    qty = D(str(qty))
    return ledger.record_one(
        portfolio,
        user,
        action=action or ("buy" if qty > 0 else "sell"),
        quantity=qty,
        price=D(str(price)),
        fees=D(str(fees)),
        traded_on=date(2026, 1, day),
        **(instrument or GLD),
    )


def open_position(portfolio, **instrument):
    return Position.objects.open().get(portfolio=portfolio, **(instrument or GLD))


def test_position_follows_trades_and_partial_close_realises():
    user = UserFactory()
    pf = PortfolioFactory(owner=user)
    trade(pf, user, 100, 10, 1, day=1)
    trade(pf, user, 100, 12, 1, day=2)
    p = open_position(pf)
    assert p.quantity == 200 and p.cost_basis == D("11.01") and p.opened_on == date(2026, 1, 1)

    trade(pf, user, -150, 15, 3, day=3)
    p = open_position(pf)
    # FIFO: 50 of the second lot left at 12.01 each (see test_lots for the arithmetic).
    assert p.quantity == 50 and p.cost_basis == D("12.01") and p.opened_on == date(2026, 1, 2)
    assert ledger.realised_pnl(pf) == D("645.5")
    assert ledger.realised_pnl(pf, "IAU") == 0


def test_closing_everything_closes_the_position_on_the_trade_date():
    user = UserFactory()
    pf = PortfolioFactory(owner=user)
    trade(pf, user, 2, "3.00", "1.30", day=5, **PUT)
    p = open_position(pf, **PUT)
    assert p.cost_basis == D("3.0065")  # (600 + 1.30) / 200
    ledger.close_position(p, user, price=D("4.00"), fees=D("1.30"), traded_on=date(2026, 1, 9))
    p.refresh_from_db()
    assert p.closed_on == date(2026, 1, 9)
    assert ledger.realised_pnl(pf) == D("197.40")  # (4 − 3) × 2 × 100 − 2.60


def test_deleting_a_trade_recomputes_the_lots():
    """Delete the first of two buys: the sale now closes the second lot only.

    Before: buy 100 @ 10, buy 100 @ 12, sell 50 @ 15 → FIFO realises 50 × (15 − 10) = 250.
    After deleting the first buy: the sale closes 50 of the @12 lot → 50 × 3 = 150, 50 left.
    """
    user = UserFactory()
    pf = PortfolioFactory(owner=user)
    first = trade(pf, user, 100, 10, day=1)
    trade(pf, user, 100, 12, day=2)
    trade(pf, user, -50, 15, day=3)
    assert ledger.realised_pnl(pf) == 250
    assert Lot.objects.filter(portfolio=pf).count() == 2

    ledger.delete(first, user)
    assert ledger.realised_pnl(pf) == 150
    lots = list(Lot.objects.filter(portfolio=pf))
    assert len(lots) == 1 and lots[0].remaining == 50 and lots[0].remaining_cost == 600
    p = open_position(pf)
    assert p.quantity == 50 and p.cost_basis == 12


def test_a_delete_that_would_leave_a_close_larger_than_the_holding_is_refused():
    user = UserFactory()
    pf = PortfolioFactory(owner=user)
    first = trade(pf, user, 100, 10, day=1)
    trade(pf, user, -60, 11, day=2, action="close")
    with pytest.raises(ledger.LedgerError, match="closes more than"):
        ledger.delete(first, user)
    assert Trade.objects.filter(pk=first.pk).exists()
    assert open_position(pf).quantity == 40


def test_deleting_every_trade_removes_the_position():
    user = UserFactory()
    pf = PortfolioFactory(owner=user)
    only = trade(pf, user, 10, 10)
    ledger.delete(only, user)
    assert not Position.objects.filter(portfolio=pf).exists()
    assert not Lot.objects.filter(portfolio=pf).exists()


def test_editing_a_trade_rebuilds_and_is_audited():
    user = UserFactory()
    pf = PortfolioFactory(owner=user)
    buy = trade(pf, user, 100, 10, day=1)
    trade(pf, user, -100, 11, day=2)
    assert ledger.realised_pnl(pf) == 100
    ledger.change(buy, user, price=D("10.50"), reason="typo")
    assert ledger.realised_pnl(pf) == 50
    entry = TradeAudit.objects.filter(trade_id=buy.pk, change="update").get()
    assert entry.actor == user and entry.reason == "typo"
    assert entry.before is not None and entry.after is not None
    assert entry.before["price"] == "10.000000" and entry.after["price"] == "10.50"
    with pytest.raises(ledger.LedgerError):
        ledger.change(buy, user, portfolio=None)


def test_every_write_is_audited_and_the_audit_outlives_the_trade():
    user = UserFactory()
    pf = PortfolioFactory(owner=user)
    t = trade(pf, user, 5, 10)
    ledger.delete(t, user)
    changes = list(
        TradeAudit.objects.filter(trade_id=t.pk).order_by("pk").values_list("change", "actor")
    )
    assert changes == [("create", user.pk), ("delete", user.pk)]
    deleted = TradeAudit.objects.get(trade_id=t.pk, change="delete")
    assert deleted.before is not None
    assert deleted.before["quantity"] == "5.000000" and deleted.after is None


def test_switching_to_average_cost_recomputes_realised():
    user = UserFactory()
    pf = PortfolioFactory(owner=user)
    trade(pf, user, 100, 10, 1, day=1)
    trade(pf, user, 100, 12, 1, day=2)
    trade(pf, user, -150, 15, 3, day=3)
    ledger.set_lot_method(pf, user, "average")
    assert ledger.realised_pnl(pf) == D("595.5")
    assert open_position(pf).cost_basis == D("11.01")
    assert TradeAudit.objects.filter(portfolio=pf, change="setting").count() == 1
    with pytest.raises(ledger.LedgerError):
        ledger.set_lot_method(pf, user, "lifo")


def test_invalid_trade_is_refused_with_its_field_and_nothing_written():
    user = UserFactory()
    pf = PortfolioFactory(owner=user)
    with pytest.raises(ledger.LedgerError) as err:
        trade(pf, user, 1, 2, action="expiry")  # shares do not expire
    assert err.value.field == "action"
    with pytest.raises(ledger.LedgerError) as err:
        ledger.record_one(pf, user, action="buy", quantity=D(-1), price=D(1), **GLD)
    assert err.value.field == "quantity"
    assert not Trade.objects.exists() and not TradeAudit.objects.exists()


def test_a_position_entered_outside_the_ledger_gets_its_opening_trade_first():
    user = UserFactory()
    pf = PortfolioFactory(owner=user)
    PositionFactory(portfolio=pf, quantity=D(100), cost_basis=D(150), opened_on=date(2025, 6, 1))
    trade(pf, user, -40, 160, day=4)
    p = open_position(pf)
    assert p.quantity == 60 and p.cost_basis == 150 and p.opened_on == date(2025, 6, 1)
    assert ledger.realised_pnl(pf) == 400
    assert Trade.objects.filter(portfolio=pf, source="migration").count() == 1


def test_lot_closures_carry_the_underlying():
    user = UserFactory()
    pf = PortfolioFactory(owner=user)
    trade(pf, user, 10, 10, day=1, symbol="IAU", kind="underlying")
    trade(pf, user, -10, 12, day=2, symbol="IAU", kind="underlying")
    assert list(LotClosure.objects.values_list("symbol", "realised")) == [("IAU", D("20"))]
    assert ledger.realised_pnl(pf, "IAU") == 20 and ledger.realised_pnl(pf, "GLD") == 0
