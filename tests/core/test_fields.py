"""actor_field: deleting the user who did something keeps the record and empties who."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from accounts.models import Invitation
from portfolio import ledger
from portfolio.models import Trade, TradeAudit
from tests.factories import PortfolioFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_deleting_the_actor_keeps_their_trades_audit_and_invitations():
    owner, clerk = UserFactory(), UserFactory()
    pf = PortfolioFactory(owner=owner)
    trade = ledger.record_one(
        pf, clerk, symbol="GLD", action="buy", quantity=Decimal(10), price=Decimal(300),
        traded_on=date(2026, 1, 5),
    )  # fmt: skip
    invitation, _ = Invitation.issue(clerk, email="new@example.com")
    assert trade.created_by == clerk
    assert TradeAudit.objects.get(trade_id=trade.pk).actor == clerk

    clerk.delete()

    assert Trade.objects.get(pk=trade.pk).created_by is None
    assert TradeAudit.objects.get(trade_id=trade.pk).actor is None
    assert Invitation.objects.get(pk=invitation.pk).created_by is None
    assert pf.positions.get().quantity == 10  # the book is untouched
