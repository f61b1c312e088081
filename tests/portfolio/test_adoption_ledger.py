"""Adopting a hedge writes its legs as trades through the ledger (lots, audit, realised P&L)."""

from __future__ import annotations

import secrets
from datetime import date, timedelta
from decimal import Decimal as D

import pytest

from portfolio import ledger
from portfolio.models import Position, Trade, TradeAudit
from strategies.adoption import adopt
from strategies.services import InvalidInput
from tests.factories import OptionPositionFactory, PortfolioFactory, UserFactory

pytestmark = pytest.mark.django_db


def _data(pf, legs):
    return {
        "symbol": "GLD",
        "portfolio": pf.pk,
        "candidate": "c1",
        "name": "Test collar",
        "spot": 200.0,
        "as_of": "2026-12-02T00:00:00Z",
        "legs": legs,
        "nonce": secrets.token_urlsafe(16),  # one confirmation per call
    }


def test_adoption_records_trades_and_realises_a_partial_close():
    user = UserFactory()
    pf = PortfolioFactory(owner=user)
    expiry = date.today() + timedelta(days=60)
    held = OptionPositionFactory(
        portfolio=pf, quantity=D(2), cost_basis=D(3), expiry=expiry, strike=D(180)
    )
    legs = [
        {"right": "P", "strike": 180.0, "expiry": expiry.isoformat(), "quantity": -1, "price": 4.0},
        {"right": "C", "strike": 220.0, "expiry": expiry.isoformat(), "quantity": -2, "price": 1.5},
    ]
    record = adopt(user, _data(pf, legs)).record
    held.refresh_from_db()
    assert held.quantity == 1 and held.cost_basis == 3
    # 1 put sold at 4 against a lot bought at 3: (4 − 3) × 100
    assert ledger.realised_pnl(pf) == 100
    call = Position.objects.open().get(portfolio=pf, right="C")
    assert call.quantity == -2 and call.cost_basis == D("1.5")
    adopted = Trade.objects.filter(portfolio=pf, source="adoption")
    assert sorted(adopted.values_list("action", flat=True)) == ["sell", "sell"]
    assert set(record.positions.all()) == {held, call}
    assert TradeAudit.objects.filter(portfolio=pf, actor=user, change="create").count() == 2
    # the put held before (made outside the ledger) got a system-written opening trade
    assert TradeAudit.objects.filter(portfolio=pf, actor=None, change="create").count() == 1


def test_adoption_the_ledger_refuses_writes_nothing():
    user = UserFactory()
    pf = PortfolioFactory(owner=user)
    legs = [{"right": "P", "strike": -5.0, "expiry": "2027-01-15", "quantity": 1, "price": 1.0}]
    with pytest.raises(InvalidInput):
        adopt(user, _data(pf, legs))
    assert not Trade.objects.exists()
