from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from market.calendar import market_date
from portfolio.models import Portfolio, Position
from tests.factories import (
    DemoPortfolioFactory,
    OptionPositionFactory,
    PortfolioFactory,
    PositionFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


PUT = {"kind": "option", "quantity": Decimal(1), "right": "P", "expiry": date(2026, 5, 15)}


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "underlying", "quantity": Decimal(0)},
        {"kind": "underlying", "quantity": Decimal(1), "strike": Decimal(100)},
        {"kind": "option", "quantity": Decimal(1), "strike": Decimal(100), "right": "P"},
        {**PUT, "strike": Decimal(0)},
        {**PUT, "strike": Decimal(100), "right": ""},
        {"kind": "physical", "quantity": Decimal(1)},
        {"kind": "underlying", "quantity": Decimal(1), "cost_basis": Decimal(-1)},
    ],
    ids=[
        "no-shares",
        "shares-with-strike",
        "option-without-expiry",
        "zero-strike",
        "no-right",
        "physical-without-units-per-share",
        "negative-cost",
    ],
)
def test_database_constraints(fields):
    row = {"portfolio": PortfolioFactory(), "symbol": "GLD", "cost_basis": Decimal(1), **fields}
    with pytest.raises(IntegrityError), transaction.atomic():
        Position.objects.create(**row)


def test_one_open_position_per_instrument():
    pos = PositionFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        PositionFactory(portfolio=pos.portfolio)
    opt = OptionPositionFactory(portfolio=pos.portfolio)
    with pytest.raises(IntegrityError), transaction.atomic():
        OptionPositionFactory(portfolio=pos.portfolio, expiry=opt.expiry)
    # a closed lot may repeat, and a different strike is a different instrument
    pos.closed_on = market_date()
    pos.save()
    PositionFactory(portfolio=pos.portfolio)
    OptionPositionFactory(portfolio=pos.portfolio, expiry=opt.expiry, strike=Decimal(170))


def test_model_clean_names_the_field():
    p = Position(
        portfolio=PortfolioFactory(),
        symbol="GLD",
        kind="option",
        quantity=Decimal(0),
        cost_basis=Decimal(1),
    )
    with pytest.raises(ValidationError) as exc:
        p.full_clean()
    assert {"quantity", "expiry", "strike", "right"} <= set(exc.value.message_dict)


def test_demo_must_be_ownerless():
    with pytest.raises(IntegrityError), transaction.atomic():
        Portfolio.objects.create(name="x", owner=UserFactory(), is_demo=True)


def test_visible_to_respects_ownership():
    a, b = UserFactory(), UserFactory()
    pa, pb, demo = PortfolioFactory(owner=a), PortfolioFactory(owner=b), DemoPortfolioFactory()
    assert set(Portfolio.objects.visible_to(a)) == {pa, demo}
    assert set(Portfolio.objects.visible_to(b)) == {pb, demo}
    from django.contrib.auth.models import AnonymousUser

    assert list(Portfolio.objects.visible_to(AnonymousUser())) == [demo]
    # an ownerless portfolio that is not a demo is visible to nobody
    Portfolio.objects.create(name="orphan")
    assert list(Portfolio.objects.visible_to(AnonymousUser())) == [demo]


def test_instrument_label_and_cost():
    o = OptionPositionFactory(
        expiry=date(2026, 8, 21),
        strike=Decimal("180.5"),
        quantity=Decimal(-2),
        cost_basis=Decimal("1.25"),
    )
    assert o.instrument == "GLD 2026-08-21 180.5P"
    assert o.total_cost == Decimal(-250)
    assert str(o) == "-2 GLD 2026-08-21 180.5P"
