"""A weekend in the browser: the market is closed and every page still shows numbers.

The app runs on the replay provider with a snapshot of GLD taken at the last Friday close and
marked the way a live provider marks it at a weekend (``marketState: CLOSED``); the dashboard,
the chain and the strategies say "market closed" and show values as of that close.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from market.calendar import NEW_YORK
from market.providers.replay import snapshot_dict, write_snapshots
from market.providers.synthetic import SyntheticProvider
from tests.support.browser import get_json, page_errors
from tests.support.server import ROOT, run_app_server

ARTIFACTS = ROOT / "test-artifacts"

pytestmark = [pytest.mark.browser]


def last_friday_close(now: datetime) -> datetime:
    local = now.astimezone(NEW_YORK)
    days_back = (local.weekday() - 4) % 7 or (7 if local.hour < 16 else 0)
    friday = (local - timedelta(days=days_back)).date()
    return datetime(friday.year, friday.month, friday.day, 16, 0, tzinfo=NEW_YORK)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("closed")
    close = last_friday_close(datetime.now(UTC))
    synthetic = SyntheticProvider(seed=7, clock=lambda: close)
    quote = synthetic.quote("GLD")
    chain = synthetic.chain("GLD")
    snap = snapshot_dict(quote, chain)
    snap["quote"]["market_state"] = "CLOSED"
    snap["chain"]["meta"]["market_state"] = "CLOSED"
    path = data / "weekend.json"
    write_snapshots(path, [snap])
    env = {"DATA_DIR": str(data), "MARKET_DATA_PROVIDER": "replay", "MARKET_REPLAY_FILE": str(path)}
    with run_app_server(env, seed=True) as srv:
        yield srv, close


def test_weekend_pages_say_closed_and_show_the_close(server, browser):
    srv, close = server
    options = get_json(f"{srv.url}/api/options?symbol=GLD")
    assert options["inputs"]["market_open"] is False
    assert options["inputs"]["market_state"] == "CLOSED"
    assert datetime.fromisoformat(options["inputs"]["as_of"]) == close
    health = get_json(f"{srv.url}/health")["checks"]["market_data"]
    assert health["market_open"] is False and health["market_state"] == "CLOSED"

    page = browser.new_page(viewport={"width": 390, "height": 900})
    errors = page_errors(page)

    page.goto(f"{srv.url}/")
    assert page.locator("#market-closed").is_visible()
    value = float(page.get_attribute("#kpi-value", "data-value") or "nan")
    assert math.isfinite(value) and value > 0

    page.goto(f"{srv.url}/options/?symbol=GLD")
    assert page.locator("#market-closed").is_visible()
    rows = page.locator("#chain-table tbody tr")
    assert rows.count() > 5
    assert page.locator("#iv-smile polyline").count() >= 1  # IVs solved from the close

    page.goto(f"{srv.url}/strategies/?symbol=GLD")
    assert page.locator("#market-closed").is_visible()
    assert "market closed" in page.locator("#market-closed").inner_text()
    assert page.locator("#strategies-table tbody tr").count() >= 3  # hedges priced at the close
    assert page.locator("#payoff-panel svg").count() >= 1
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "market-closed-strategies.png"), full_page=True)
    page.close()
    assert errors == []
