from __future__ import annotations

import pytest

from portfolio import services
from tests.portfolio.fakes import FakeMarket


@pytest.fixture
def fake_market(monkeypatch):
    market = FakeMarket()
    monkeypatch.setattr("marketdata.service.get_market_service", lambda: market)
    services.clear_memos()
    yield market
    services.clear_memos()
