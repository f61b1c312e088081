"""factory_boy factories shared by the test suite."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import factory
from django.contrib.auth import get_user_model
from factory.django import DjangoModelFactory

from market.calendar import market_date
from portfolio.models import Portfolio, PortfolioSnapshot, Position

T = TypeVar("T")


class _Typed(Generic[T]):
    """Lets type checkers see that calling a factory returns the model instance."""

    if TYPE_CHECKING:

        def __new__(cls, *args: Any, **kwargs: Any) -> T: ...  # type: ignore[misc]


class UserFactory(_Typed[Any], DjangoModelFactory[Any]):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    password = factory.django.Password("correct horse battery staple")


class PortfolioFactory(_Typed[Portfolio], DjangoModelFactory[Portfolio]):
    class Meta:
        model = Portfolio

    name = factory.Sequence(lambda n: f"Portfolio {n}")
    owner = factory.SubFactory(UserFactory)
    default_symbol = "GLD"


class DemoPortfolioFactory(PortfolioFactory):
    name: Any = "Demo"
    owner: Any = None
    is_demo = True


class PositionFactory(_Typed[Position], DjangoModelFactory[Position]):
    """1,000 shares of GLD by default."""

    class Meta:
        model = Position

    portfolio = factory.SubFactory(PortfolioFactory)
    symbol = "GLD"
    kind = Position.Kind.UNDERLYING
    quantity = Decimal(1000)
    cost_basis = Decimal("180.00")
    opened_on = factory.LazyFunction(lambda: market_date() - timedelta(days=90))


class OptionPositionFactory(PositionFactory):
    """10 long puts by default."""

    kind = Position.Kind.OPTION
    quantity = Decimal(10)
    cost_basis = Decimal("3.50")
    expiry = factory.LazyFunction(lambda: market_date() + timedelta(days=120))
    strike = Decimal(180)
    right = Position.Right.PUT


class SnapshotFactory(_Typed[PortfolioSnapshot], DjangoModelFactory[PortfolioSnapshot]):
    class Meta:
        model = PortfolioSnapshot

    portfolio = factory.SubFactory(PortfolioFactory)
    symbol = "GLD"
    spot = 200.0
    value = 200_000.0
    cost = 180_000.0
    pnl = 20_000.0
    day_change = 100.0
    delta = 1000.0
