"""The CSV import's ``add`` mode: rows are trades on top of what is held, through the ledger."""

from __future__ import annotations

import io
from datetime import date, timedelta
from decimal import Decimal as D

import pytest
from django.core.management import call_command

from portfolio import ledger
from portfolio.csvio import CsvImportError, import_positions
from portfolio.models import Trade, TradeAudit
from tests.factories import PortfolioFactory, PositionFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_adding_200_shares_to_a_held_1000():
    """The issue's case: a CSV adding 200 shares was refused. 1,000 @ 180 + 200 @ 192 with
    $2 fees → 1,200 at (180,000 + 38,400 + 2) / 1,200 = 182.001667 each."""
    held = PositionFactory(quantity=D(1000), cost_basis=D(180))
    pf, user = held.portfolio, held.portfolio.owner
    recorded = import_positions(
        "symbol,quantity,cost_basis,fees\nGLD,200,192,2\n", pf, mode="add", user=user
    )
    assert [t.action for t in recorded] == ["buy"]
    held.refresh_from_db()
    assert held.quantity == 1200 and held.cost_basis == D("182.001667")
    assert TradeAudit.objects.filter(trade_id=recorded[0].pk, actor=user).exists()


def test_add_mode_sells_realise_and_several_rows_of_one_instrument_are_trades():
    """Buy 10 @ 50 (fee 1), buy 10 @ 60, then sell 15 @ 70 (fee 1.5):
    FIFO realises (700 − 1 − 501) ... lot 1: 10/15 of 1048.5 = 699 − 501 = 198;
    lot 2: 5/15 of 1048.5 = 349.5 − 300 = 49.5; total 247.5."""
    pf = PortfolioFactory()
    d = date.today() - timedelta(days=5)
    text = (
        "symbol,quantity,cost_basis,fees,opened_on\n"
        f"IAU,10,50,1,{d}\n"
        f"IAU,10,60,,{d + timedelta(days=1)}\n"
        f"IAU,-15,70,1.5,{d + timedelta(days=2)}\n"
    )
    assert len(import_positions(text, pf, mode="add")) == 3
    assert ledger.realised_pnl(pf, "IAU") == D("247.5")
    p = pf.open_positions().get()
    assert p.quantity == 5 and p.cost_basis == 60


def test_add_mode_reports_a_sale_of_more_than_held_by_line_and_writes_nothing():
    pf = PortfolioFactory()
    text = "symbol,quantity,cost_basis,fees\nGLD,5,100,\nGLD,-3,101,-1\n"
    with pytest.raises(CsvImportError) as exc:
        import_positions(text, pf, mode="add")
    assert [(e.line, e.field) for e in exc.value.errors] == [(3, "fees")]
    assert not Trade.objects.exists()


def test_new_mode_still_refuses_a_held_instrument_and_points_to_add():
    held = PositionFactory()
    with pytest.raises(CsvImportError) as exc:
        import_positions("symbol,quantity,cost_basis\nGLD,5,1\n", held.portfolio)
    assert "use add or replace" in exc.value.errors[0].message


def test_unknown_mode_is_an_import_error():
    with pytest.raises(CsvImportError):
        import_positions("symbol,quantity,cost_basis\nGLD,5,1\n", PortfolioFactory(), mode="x")


def test_command_add_mode(tmp_path):
    held = PositionFactory(quantity=D(10), cost_basis=D(100))
    f = tmp_path / "add.csv"
    f.write_text("symbol,quantity,cost_basis\nGLD,-4,110\n")
    call_command(
        "import_positions",
        str(f),
        "--portfolio",
        str(held.portfolio.pk),
        "--mode",
        "add",
        stdout=io.StringIO(),
    )
    held.refresh_from_db()
    assert held.quantity == 6
    assert ledger.realised_pnl(held.portfolio) == 40


def test_import_view_add_mode(client):
    user = UserFactory()
    held = PositionFactory(portfolio=PortfolioFactory(owner=user), quantity=D(1))
    client.force_login(user)
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse

    upload = SimpleUploadedFile("a.csv", b"symbol,quantity,cost_basis\nGLD,2,1\n")
    resp = client.post(
        reverse("portfolio:import", args=[held.portfolio.pk]), {"file": upload, "mode": "add"}
    )
    assert resp.status_code == 302
    held.refresh_from_db()
    assert held.quantity == 3
