"""Rolling the demo's put hedge out one expiry in a real browser, as a person would: from the
dashboard's hedge panel to the roll page, its confirmation, the ledger and back to the
dashboard, whose numbers must match /api/portfolio. axe-core at a phone's and a desktop's width."""

from __future__ import annotations

import re

import pytest

from tests.support.a11y import page_problems, screenshot
from tests.support.browser import get_json, load_with_api, page_errors, wait_for_htmx_idle
from tests.support.server import manage

pytestmark = [pytest.mark.browser]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}


@pytest.fixture(scope="module")
def server(server):
    manage(server.env, "backfill_history", "--days", "60")
    return server


def test_roll_the_puts_out_one_expiry(server, browser):
    page = browser.new_page(viewport=DESKTOP)
    errors = page_errors(page)
    problems: list[str] = []

    before = get_json(f"{server.url}/api/portfolio?symbol=GLD")
    (put,) = [p for p in before["positions"] if p["inputs"].get("right") == "P"]
    old_expiry = put["inputs"]["expiry"]
    contracts = put["quantity"]

    # The dashboard: the value history has daily points; the hedge panel links to the rolls.
    page.goto(f"{server.url}/")
    assert page.locator("#history-chart polyline").count() == 1
    problems += page_problems(page, "dashboard before")
    page.click("#roll-link")
    page.wait_for_selector(f"#roll-{old_expiry} table.roll-candidates")
    problems += page_problems(page, "roll page")
    screenshot(page, "roll-1440")

    # Roll into the next listed expiry, same strike.
    options = page.locator("#roll-to-expiry option").all_inner_texts()
    next_expiry = next(e for e in options if re.fullmatch(r"\d{4}-\d{2}-\d{2}", e))
    assert next_expiry > old_expiry
    page.locator("#roll-to-expiry").select_option(next_expiry)
    page.evaluate("window.__marker = 1")  # survives only if HTMX swapped, not reloaded
    page.click("#roll-filters button[type=submit]")
    wait_for_htmx_idle(page)
    assert page.evaluate("window.__marker") == 1
    rows = page.locator("table.roll-candidates tbody tr")
    assert rows.count() >= 1
    assert set(page.locator("table.roll-candidates tbody tr").evaluate_all(
        "rs => rs.map(r => r.dataset.to)")) == {next_expiry}  # fmt: skip
    same = page.locator('table.roll-candidates tbody tr[data-shift="0.0"]')
    assert same.count() == 1
    same.locator("a.roll-review").click()
    page.wait_for_selector("#roll-confirm")
    problems += page_problems(page, "roll confirmation")
    screenshot(page, "roll-confirm-1440")
    legs = page.locator("#roll-legs tbody tr")
    assert legs.count() == 2
    assert "close" in legs.nth(0).inner_text() and "open" in legs.nth(1).inner_text()
    page.click("#roll-confirm-button")
    page.wait_for_url(lambda u: "/strategies/roll/" not in u)
    assert "Rolled" in page.inner_text("main")

    # The ledger: the close of the old puts and the open of the new ones, source "roll".
    page.click("#trades-link")
    page.wait_for_load_state("load")
    rolled = [
        r.replace("\u2212", "-").split("\t")  # the page writes a true minus sign
        for r in page.locator("tr[id^=trade-]").all_inner_texts()
        if "Rolled hedge" in r
    ]
    assert sorted((r[1], r[3]) for r in rolled) == sorted(
        [("Close", f"-{contracts:g}"), ("Open", f"{contracts:g}")]
    ), rolled
    by_action = {r[1]: r[2] for r in rolled}
    assert old_expiry in by_action["Close"] and next_expiry in by_action["Open"]
    problems += page_problems(page, "trades")

    # The dashboard against /api/portfolio, from one data instant.
    api_url = f"{server.url}/api/portfolio?symbol=GLD"
    after, shown = load_with_api(page, f"{server.url}/", api_url, "value", "pnl", "floor", "delta")
    t = after["totals"]
    assert shown["value"] == pytest.approx(t["value"], rel=1e-12)
    assert shown["pnl"] == pytest.approx(t["pnl"], rel=1e-12)
    assert shown["delta"] == pytest.approx(t["greeks"]["delta_shares"], rel=1e-12)
    assert shown["floor"] == pytest.approx(after["hedge"]["floor"]["floor_value"], rel=1e-12)
    (new_put,) = [p for p in after["positions"] if p["inputs"].get("right") == "P"]
    assert new_put["inputs"]["expiry"] == next_expiry and new_put["quantity"] == contracts
    assert new_put["inputs"]["strike"] == put["inputs"]["strike"]
    # The roll is marked on the value history chart (today's trades sit on the last point).
    page.locator("#history-presets a", has_text="All").click()
    wait_for_htmx_idle(page)
    assert page.locator("#history-chart polygon.marker").count() == 1
    assert page.locator("#history-events tr.roll").count() == 2
    problems += page_problems(page, "dashboard after")
    screenshot(page, "roll-dashboard-1440")

    # A phone's width: the roll page and the dashboard.
    page.set_viewport_size(PHONE)
    page.goto(f"{server.url}/strategies/roll/?symbol=GLD")
    page.wait_for_selector("#roll-body")
    problems += page_problems(page, "roll page at 390 px")
    screenshot(page, "roll-390")
    page.goto(f"{server.url}/")
    problems += page_problems(page, "dashboard at 390 px")
    screenshot(page, "roll-dashboard-390")
    assert not errors, errors
    assert not problems, "\n".join(problems)
