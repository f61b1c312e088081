"""The portfolios the portfolio tests share: the demo book and a logged-in admin."""

from __future__ import annotations

import pytest

from tests.factories import (
    DemoPortfolioFactory,
    OptionPositionFactory,
    PositionFactory,
    UserFactory,
)


@pytest.fixture
def demo():
    pf = DemoPortfolioFactory()
    PositionFactory(portfolio=pf)  # 1,000 GLD shares
    OptionPositionFactory(portfolio=pf, expiry="2026-08-21", strike=180)  # 10 puts: full hedge
    return pf


@pytest.fixture
def staff(client):
    """A superuser, logged in on ``client``."""
    user = UserFactory(username="admin", is_staff=True, is_superuser=True)
    client.force_login(user)
    return user
