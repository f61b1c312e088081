from __future__ import annotations

import pytest
from django.test import Client

from tests.factories import PortfolioFactory, UserFactory


@pytest.fixture
def owner_client():
    """A logged-in client and a portfolio its user owns."""
    user = UserFactory()
    client = Client()
    client.force_login(user)
    return client, PortfolioFactory(owner=user)
