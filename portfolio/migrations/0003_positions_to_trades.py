"""Every open position that predates the ledger becomes one opening trade and one lot.

The trade carries the position's quantity, cost basis and opening date, with no fees, so the
position the ledger rebuilds from it is the one that was there: valuations do not move. Closed
positions stay as they are (their closing price was never recorded, so no trade can say it).
"""

from __future__ import annotations

from typing import Any

from django.db import migrations

MULTIPLIER = 100


def forward(apps: Any, schema_editor: Any) -> None:
    Position = apps.get_model("portfolio", "Position")
    Trade = apps.get_model("portfolio", "Trade")
    Lot = apps.get_model("portfolio", "Lot")
    TradeAudit = apps.get_model("portfolio", "TradeAudit")
    for p in Position.objects.filter(closed_on__isnull=True).order_by("pk").iterator():
        trade = Trade.objects.create(
            portfolio_id=p.portfolio_id,
            symbol=p.symbol,
            kind=p.kind,
            expiry=p.expiry,
            strike=p.strike,
            right=p.right,
            style=p.style,
            units_per_share=p.units_per_share,
            action="open",
            quantity=p.quantity,
            price=p.cost_basis,
            fees=0,
            traded_on=p.opened_on,
            source="migration",
            note=p.note,
        )
        cost = p.quantity * p.cost_basis * (MULTIPLIER if p.kind == "option" else 1)
        Lot.objects.create(
            portfolio_id=p.portfolio_id,
            trade=trade,
            opened_on=p.opened_on,
            quantity=p.quantity,
            remaining=p.quantity,
            cost=cost,
            remaining_cost=cost,
        )
        TradeAudit.objects.create(
            portfolio_id=p.portfolio_id,
            trade_id=trade.pk,
            change="create",
            after={"position": p.pk, "quantity": str(p.quantity), "price": str(p.cost_basis)},
            reason="migration: opening trade of an existing position",
        )


def backward(apps: Any, schema_editor: Any) -> None:
    apps.get_model("portfolio", "Trade").objects.filter(source="migration").delete()


class Migration(migrations.Migration):
    dependencies = [("portfolio", "0002_ledger")]

    operations = [migrations.RunPython(forward, backward)]
