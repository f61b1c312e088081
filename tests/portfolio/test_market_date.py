"""One trading calendar: "today" is New York's date, also once UTC's date has moved on."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from market.calendar import market_date
from portfolio import valuation
from portfolio.csvio import import_positions
from portfolio.models import Position
from portfolio.views import _chosen_date
from tests.factories import DemoPortfolioFactory, PortfolioFactory, PositionFactory
from tests.support.clock import freeze

pytestmark = pytest.mark.django_db

# 00:30 UTC on 10 March 2026 is 20:30 on 9 March in New York (EDT since 8 March).
AFTER_MIDNIGHT_UTC = datetime(2026, 3, 10, 0, 30, tzinfo=UTC)
NEW_YORK_DAY = date(2026, 3, 9)
EXPIRY = date(2026, 6, 26)


@pytest.fixture
def after_midnight_utc(monkeypatch):
    freeze(monkeypatch, AFTER_MIDNIGHT_UTC)


def test_a_position_opened_now_opens_on_new_yorks_date(after_midnight_utc):
    pos = Position.objects.create(
        portfolio=PortfolioFactory(),
        symbol="GLD",
        kind=Position.Kind.OPTION,
        quantity=Decimal(1),
        cost_basis=Decimal("4.20"),
        expiry=EXPIRY,
        strike=Decimal(350),
        right="P",
    )
    pos.refresh_from_db()
    assert pos.opened_on == NEW_YORK_DAY
    # the days it has to run are the chain's days to expiry (107 against 108 before)
    assert (EXPIRY - pos.opened_on).days == valuation.days_until(AFTER_MIDNIGHT_UTC, EXPIRY) == 109


def test_csv_import_opens_and_closes_on_new_yorks_date(after_midnight_utc):
    pf = PortfolioFactory()
    old = PositionFactory(portfolio=pf)
    csv = "symbol,kind,quantity,cost_basis,expiry,strike,right,opened_on,note\nGLD,,1,4.2,2026-06-26,350,P,,\n"
    (trade,) = import_positions(csv.encode(), pf, replace=True)
    old.refresh_from_db()
    assert trade.traded_on == NEW_YORK_DAY
    new = Position.objects.open().get(portfolio=pf, kind=Position.Kind.OPTION)
    assert new.opened_on == NEW_YORK_DAY
    assert old.closed_on == NEW_YORK_DAY


def test_todays_new_york_date_is_a_valid_scenario_date(after_midnight_utc, client, fake_market):
    DemoPortfolioFactory()
    assert client.get("/api/portfolio", {"date": NEW_YORK_DAY.isoformat()}).status_code == 200
    assert _chosen_date(NEW_YORK_DAY.isoformat()) == (NEW_YORK_DAY, "")


def test_the_calendar_and_django_agree_on_the_instant(after_midnight_utc):
    from django.utils import timezone

    assert market_date() == market_date(timezone.now()) == NEW_YORK_DAY
