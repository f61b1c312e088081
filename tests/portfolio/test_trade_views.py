"""Recording, changing, deleting trades and closing positions in the app."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal as D

import pytest
from django.urls import reverse

from portfolio import ledger
from portfolio.models import Position, Trade, TradeAudit
from tests.factories import DemoPortfolioFactory, PortfolioFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(client):
    user = UserFactory()
    client.force_login(user)
    return user


def _form(**over):
    data = {
        "side": "buy",
        "symbol": "GLD",
        "kind": "underlying",
        "quantity": "100",
        "price": "180",
        "fees": "1",
        "traded_on": "2026-01-05",
        "expiry": "",
        "strike": "",
        "right": "",
        "style": "american",
        "units_per_share": "",
        "note": "",
    }
    return {**data, **over}


def test_record_a_trade_then_close_part_with_realised_pnl(client, owner):
    pf = PortfolioFactory(owner=owner)
    resp = client.post(reverse("portfolio:trade_add", args=[pf.pk]), _form())
    assert resp.status_code == 302
    p = Position.objects.open().get(portfolio=pf)
    assert p.quantity == 100 and p.cost_basis == D("180.01")

    resp = client.post(
        reverse("portfolio:position_close", args=[pf.pk, p.pk]),
        {"quantity": "40", "price": "190", "fees": "1", "traded_on": "2026-02-01"},
    )
    assert resp.status_code == 302
    p.refresh_from_db()
    # 40 × (190 − 180.01) − 1 = 398.60
    assert p.quantity == 60 and ledger.realised_pnl(pf) == D("398.6")
    page = client.get(reverse("portfolio:trades", args=[pf.pk]))
    assert page.status_code == 200
    assert 'id="realised-total" data-value="398.6' in page.content.decode()


def test_the_form_uses_the_csv_row_check(client, owner):
    pf = PortfolioFactory(owner=owner)
    resp = client.post(
        reverse("portfolio:trade_add", args=[pf.pk]),
        _form(kind="option", strike="180", right="P", expiry=""),
    )
    assert resp.status_code == 400
    assert resp.context["form"].errors["expiry"] == ["An option needs an expiry date."]
    resp = client.post(reverse("portfolio:trade_add", args=[pf.pk]), _form(quantity="abc"))
    assert resp.context["form"].errors["quantity"] == ["'abc' is not a number"]
    resp = client.post(reverse("portfolio:trade_add", args=[pf.pk]), _form(symbol="bad sym"))
    assert "symbol" in resp.context["form"].errors
    resp = client.post(reverse("portfolio:trade_add", args=[pf.pk]), _form(quantity="-5"))
    assert "quantity" in resp.context["form"].errors
    assert not Trade.objects.exists()


def test_an_option_trade_uses_the_multiplier(client, owner):
    pf = PortfolioFactory(owner=owner)
    expiry = (date.today() + timedelta(days=40)).isoformat()
    opt = {"kind": "option", "strike": "180", "right": "P", "expiry": expiry}
    client.post(
        reverse("portfolio:trade_add", args=[pf.pk]),
        _form(quantity="2", price="3", fees="1.3", **opt),
    )
    client.post(
        reverse("portfolio:trade_add", args=[pf.pk]),
        _form(side="sell", quantity="1", price="5", fees="0.65", traded_on="2026-01-06", **opt),
    )
    # (5 − 3) × 100 − 0.65 (half of the opening fees) − 0.65 = 198.70
    assert ledger.realised_pnl(pf) == D("198.7")


def test_edit_and_delete_recompute_and_are_audited(client, owner):
    pf = PortfolioFactory(owner=owner)
    client.post(reverse("portfolio:trade_add", args=[pf.pk]), _form(fees="0"))
    buy = Trade.objects.get()
    client.post(
        reverse("portfolio:trade_add", args=[pf.pk]),
        _form(side="sell", quantity="100", price="185", fees="0", traded_on="2026-01-09"),
    )
    assert ledger.realised_pnl(pf) == 500
    resp = client.post(
        reverse("portfolio:trade_edit", args=[pf.pk, buy.pk]), _form(price="182", fees="0")
    )
    assert resp.status_code == 302
    assert ledger.realised_pnl(pf) == 300
    assert TradeAudit.objects.filter(trade_id=buy.pk, change="update", actor=owner).exists()
    # Deleting the buy would leave a sale of 100 from nothing: a short, which is allowed for a
    # plain sell; the realised P&L goes away with the closed lot.
    resp = client.post(reverse("portfolio:trade_delete", args=[pf.pk, buy.pk]))
    assert resp.status_code == 302
    assert ledger.realised_pnl(pf) == 0
    assert Position.objects.open().get(portfolio=pf).quantity == -100


def test_others_and_the_demo_are_not_editable(client, owner):
    other = PortfolioFactory()
    demo = DemoPortfolioFactory()
    for pf in (other, demo):
        assert client.post(reverse("portfolio:trade_add", args=[pf.pk]), _form()).status_code == 404
    assert client.get(reverse("portfolio:trades", args=[other.pk])).status_code == 404
    page = client.get(reverse("portfolio:trades", args=[demo.pk]))
    assert page.status_code == 200
    body = page.content.decode()
    assert 'id="demo-note"' in body and 'id="trade-form"' not in body
    assert not Trade.objects.exists()


def test_close_form_refuses_more_than_open(client, owner):
    pf = PortfolioFactory(owner=owner)
    client.post(reverse("portfolio:trade_add", args=[pf.pk]), _form(quantity="10"))
    p = Position.objects.open().get(portfolio=pf)
    resp = client.post(
        reverse("portfolio:position_close", args=[pf.pk, p.pk]),
        {"quantity": "11", "price": "1", "traded_on": "2026-02-01"},
    )
    assert resp.status_code == 400 and "quantity" in resp.context["form"].errors
    assert client.get(reverse("portfolio:position_close", args=[pf.pk, p.pk])).status_code == 200


def test_api_portfolio_follows_the_ledger(client, owner, fake_market):
    """Buy 100 @ 180 ($1), then close 40 @ 190 ($1): the API shows 60 shares costing
    60 × 180.01 = 10,800.60 and realised 40 × (190 − 180.01) − 1 = 398.60."""
    pf = PortfolioFactory(owner=owner)
    client.post(reverse("portfolio:trade_add", args=[pf.pk]), _form())
    api = f"/api/portfolio?portfolio={pf.pk}&symbol=GLD"
    before = client.get(api).json()
    assert before["realised"] == {"lot_method": "fifo", "symbol_pnl": 0.0, "total_pnl": 0.0}
    p = Position.objects.open().get(portfolio=pf)
    client.post(
        reverse("portfolio:position_close", args=[pf.pk, p.pk]),
        {"quantity": "40", "price": "190", "fees": "1", "traded_on": "2026-02-01"},
    )
    body = client.get(api).json()
    [row] = body["positions"]
    assert row["quantity"] == 60
    assert body["totals"]["cost"] == pytest.approx(10800.60)
    assert body["realised"]["symbol_pnl"] == pytest.approx(398.60)
    assert body["realised"]["total_pnl"] == pytest.approx(398.60)
    other = client.get(f"/api/portfolio?portfolio={pf.pk}&symbol=SLV").json()
    assert other["realised"]["symbol_pnl"] == 0.0
    assert other["realised"]["total_pnl"] == pytest.approx(398.60)


def test_book_adds_symbols_up_and_says_when_the_own_symbol_is_not_held(client, owner, fake_market):
    """10 SLV at $30 (fee 0) and 2 GLD shares: the book total is the sum of both sections."""
    pf = PortfolioFactory(owner=owner, default_symbol="GLD")
    page = client.get(reverse("portfolio:trades", args=[pf.pk]))
    assert page.context["book"].sections == []
    assert "You hold no GLD" in page.content.decode()

    client.post(
        reverse("portfolio:trade_add", args=[pf.pk]),
        _form(symbol="SLV", quantity="10", price="30", fees="0"),
    )
    page = client.get(reverse("portfolio:trades", args=[pf.pk]))
    summary = page.context["book"]
    assert [s.symbol for s in summary.sections] == [
        "SLV"
    ] and "You hold no GLD" in page.content.decode()

    client.post(reverse("portfolio:trade_add", args=[pf.pk]), _form(quantity="2", fees="0"))
    summary = client.get(reverse("portfolio:trades", args=[pf.pk])).context["book"]
    assert [s.symbol for s in summary.sections] == ["GLD", "SLV"]
    gld = client.get(f"/api/portfolio?portfolio={pf.pk}&symbol=GLD").json()["totals"]
    slv = client.get(f"/api/portfolio?portfolio={pf.pk}&symbol=SLV").json()["totals"]
    assert summary.total["value"] == pytest.approx(gld["value"] + slv["value"])
    assert summary.total["cost"] == pytest.approx(2 * 180 + 10 * 30)
    assert summary.complete and summary.default_symbol_held


def test_a_symbol_not_held_records_no_zero_snapshot(owner, fake_market):
    from portfolio import history, services
    from portfolio.models import PortfolioSnapshot

    pf = PortfolioFactory(owner=owner)
    result = services.value_portfolio(pf, "GLD", with_scenarios=False)
    assert result["positions"] == []
    assert history.fill(pf, "GLD", 10) == 0
    assert not PortfolioSnapshot.objects.filter(portfolio=pf).exists()


def _dashboard(client, pf, symbol):
    return client.get(reverse("portfolio:dashboard"), {"portfolio": pf.pk, "symbol": symbol})


def test_dashboard_of_a_symbol_not_held_is_an_empty_state_not_zeros(client, owner, fake_market):
    pf = PortfolioFactory(owner=owner, default_symbol="GLD")
    client.post(reverse("portfolio:trade_add", args=[pf.pk]), _form(quantity="2", fees="0"))
    page = _dashboard(client, pf, "SLV")
    html = page.content.decode()
    assert page.status_code == 200 and page.context["not_held"] is True
    assert f"You hold no SLV in {pf.name}" in html
    assert 'id="panel-kpis"' not in html and 'id="panel-scenarios"' not in html
    # The spot is the market's, and the way forward is offered to the owner.
    assert f"${fake_market.quote('SLV').spot:,.2f}" in html
    assert f"{reverse('portfolio:trade_add', args=[pf.pk])}?symbol=SLV" in html
    # A held symbol still gets the full page.
    page = _dashboard(client, pf, "GLD")
    assert page.context["not_held"] is False and 'id="panel-kpis"' in page.content.decode()


def test_dashboard_shows_the_book_total_when_several_symbols_are_held(client, owner, fake_market):
    pf = PortfolioFactory(owner=owner, default_symbol="GLD")
    client.post(reverse("portfolio:trade_add", args=[pf.pk]), _form(quantity="2", fees="0"))
    assert 'id="book-total"' not in _dashboard(client, pf, "GLD").content.decode()

    client.post(
        reverse("portfolio:trade_add", args=[pf.pk]),
        _form(symbol="SLV", quantity="10", price="30", fees="0"),
    )
    html = _dashboard(client, pf, "GLD").content.decode()
    gld = client.get(f"/api/portfolio?portfolio={pf.pk}&symbol=GLD").json()["totals"]
    slv = client.get(f"/api/portfolio?portfolio={pf.pk}&symbol=SLV").json()["totals"]
    total = gld["value"] + slv["value"]
    assert 'id="book-total"' in html
    assert f'data-value="{total!r}"' in html
    assert f"${total:,.2f}" in html and f"${slv['value']:,.2f}" in html
    assert 'id="book-GLD" aria-current="true"' in html


def test_demo_dashboard_of_a_symbol_not_held_offers_no_edits(client, owner, fake_market):
    demo = DemoPortfolioFactory()
    html = _dashboard(client, demo, "SLV").content.decode()
    assert "You hold no SLV" in html
    assert reverse("portfolio:trade_add", args=[demo.pk]) not in html
    assert "Create your own portfolio" in html
