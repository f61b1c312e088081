"""The admin writes trades through the ledger and shows lots, closures and the audit."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest
from django.urls import reverse

from portfolio import ledger
from portfolio.models import Lot, LotClosure, Position, Trade, TradeAudit
from tests.factories import PortfolioFactory

pytestmark = pytest.mark.django_db


def _form(pf, **over):
    data = {
        "portfolio": pf.pk,
        "traded_on": "2026-01-05",
        "action": "buy",
        "symbol": "GLD",
        "kind": "underlying",
        "style": "american",
        "quantity": "10",
        "price": "100",
        "fees": "1",
        "external_id": "",
        "note": "",
    }
    return {**data, **over}


def test_adding_a_trade_in_the_admin_moves_the_position_and_audits(client, staff):
    pf = PortfolioFactory(owner=staff)
    resp = client.post(reverse("admin:portfolio_trade_add"), _form(pf))
    assert resp.status_code == 302
    trade = Trade.objects.get(portfolio=pf)
    assert trade.source == "admin" and trade.created_by == staff
    p = Position.objects.open().get(portfolio=pf)
    assert p.quantity == 10 and p.cost_basis == D("100.1")
    assert TradeAudit.objects.filter(trade_id=trade.pk, actor=staff, reason="admin").exists()


def test_admin_refuses_a_close_of_more_than_is_held(client, staff):
    pf = PortfolioFactory(owner=staff)
    resp = client.post(
        reverse("admin:portfolio_trade_add"), _form(pf, action="close", quantity="-5")
    )
    assert resp.status_code == 200
    assert "closes more than" in resp.content.decode()
    assert not Trade.objects.exists()


def test_admin_delete_goes_through_the_ledger(client, staff):
    pf = PortfolioFactory(owner=staff)
    t = ledger.record_one(
        pf, staff, action="buy", quantity=D(5), price=D(10), symbol="GLD", kind="underlying"
    )
    resp = client.post(reverse("admin:portfolio_trade_delete", args=[t.pk]), {"post": "yes"})
    assert resp.status_code == 302
    assert not Position.objects.filter(portfolio=pf).exists()
    assert TradeAudit.objects.filter(trade_id=t.pk, change="delete").exists()


@pytest.mark.parametrize("name", ["trade", "lot", "lotclosure", "tradeaudit"])
def test_ledger_admin_pages_render(client, staff, name):
    pf = PortfolioFactory(owner=staff)
    for qty, day in ((10, 1), (-4, 2)):
        ledger.record_one(
            pf,
            staff,
            action="buy" if qty > 0 else "sell",
            quantity=D(qty),
            price=D(10),
            traded_on=date(2026, 1, day),
            symbol="GLD",
            kind="underlying",
        )
    assert Lot.objects.exists() and LotClosure.objects.exists()
    changelist = reverse(f"admin:portfolio_{name}_changelist")
    resp = client.get(changelist)
    assert resp.status_code == 200 and resp.context["cl"].result_count >= 1
    assert client.get(changelist, {"q": "GLD"}).status_code == 200
    add = client.get(reverse(f"admin:portfolio_{name}_add"))
    assert add.status_code == (200 if name == "trade" else 403)


def test_a_ledger_kept_position_is_read_only_in_the_admin(client, staff):
    pf = PortfolioFactory(owner=staff)
    ledger.record_one(
        pf, staff, action="buy", quantity=D(5), price=D(10), symbol="GLD", kind="underlying"
    )
    p = Position.objects.get(portfolio=pf)
    page = client.get(reverse("admin:portfolio_position_change", args=[p.pk]))
    assert page.status_code == 200
    assert 'name="quantity"' not in page.content.decode()
