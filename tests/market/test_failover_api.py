"""Failover behind the served APIs: Yahoo dies mid-session and comes back (``yfinance,cboe``).

The real providers run on recorded answers (yfinance through the real library); the service is
the one the views use. Through the outage: no 5xx, every number labelled with the provider that
answered, each provider's breaker on /health.
"""

from __future__ import annotations

import pytest

from portfolio import services as portfolio_services
from tests.market.recorded_providers import Switch, cboe, yahoo
from tests.support.market import Clock, breaker_service

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("yahoo")]

PATHS = ("/api/portfolio?symbol=GLD", "/api/options?symbol=GLD", "/api/strategies?symbol=GLD")


@pytest.fixture
def live():
    switch = Switch()
    yf, session = yahoo(switch)
    cb, transport = cboe()
    clock = Clock()
    with breaker_service([yf, cb], clock) as service:
        yield switch, service, clock, session


def sweep(client) -> list[tuple[str, int, dict]]:
    out = []
    for path in PATHS:
        response = client.get(path)
        body = response.json()
        out.append((path, response.status_code, body.get("market") or body.get("inputs") or body))
    return out


def test_yahoo_dies_mid_session_and_comes_back(client, live):
    switch, service, clock, session = live
    before = sweep(client)
    assert [code for _, code, _ in before] == [200, 200, 200], before
    assert {block["provider"] for _, _, block in before} == {"yfinance"}
    assert before[0][2]["chain_provider"] == "yfinance" and before[0][2]["market_open"] is True

    switch.down = True
    portfolio_services.clear_memos()
    during = [sweep(client) for _ in range(3)]
    codes = [code for s in during for _, code, _ in s]
    assert all(code == 200 for code in codes), during  # 0 x 5xx
    last = during[-1]
    assert {block["provider"] for _, _, block in last} == {"cboe"}
    assert last[0][2]["chain_provider"] == "cboe"
    assert not any(block["stale"] for _, _, block in last)  # fresh, from the second provider
    assert all(block["age_s"] >= 0 and block["as_of"] for _, _, block in last)

    health = client.get("/health").json()["checks"]["market_data"]
    by_name = {p["name"]: p for p in health["providers"]}
    assert by_name["yfinance"]["breaker"] == "open" and by_name["cboe"]["breaker"] == "closed"
    assert health["serving"] == "cboe" and health["provider"] == "yfinance,cboe"

    switch.down = False
    clock.t += 31
    portfolio_services.clear_memos()
    after = sweep(client)
    assert [code for _, code, _ in after] == [200, 200, 200]
    assert {block["provider"] for _, _, block in after} == {"yfinance"}
    health = client.get("/health").json()["checks"]["market_data"]
    assert health["providers"][0]["breaker"] == "closed" and health["serving"] == "yfinance"
