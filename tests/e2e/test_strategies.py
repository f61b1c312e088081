"""Options chain, builder and adopt in a real browser (Debian's Chromium via Playwright)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.support.browser import page_errors, wait_for_htmx_idle
from tests.support.server import ROOT

ARTIFACTS = ROOT / "test-artifacts"

pytestmark = [
    pytest.mark.browser,
]


@pytest.fixture
def page(browser):
    p = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors = page_errors(p)
    yield p
    p.close()
    assert not errors, errors


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"strategies-{name}.png"), full_page=True)


def test_chain_expiry_switch(server, page):
    page.goto(f"{server.url}/options/?symbol=GLD")
    first = page.get_attribute("#chain-table", "data-expiry")
    tabs = page.locator("#expiry-tabs a")
    assert tabs.count() > 3
    target = tabs.nth(tabs.count() - 2)
    href = target.get_attribute("href")
    wanted = href.split("expiry=")[1][:10]
    assert wanted != first
    page.evaluate("window.__marker = 1")  # survives only if HTMX swapped, not reloaded
    target.click()
    page.wait_for_selector(f"#chain-table[data-expiry='{wanted}']")
    assert page.evaluate("window.__marker") == 1
    assert wanted in page.url
    assert page.locator("#expiry-tabs a.active").get_attribute("href") == href
    assert page.locator("#chain-table tbody tr.atm").count() == 1
    assert page.locator("#iv-smile polyline").count() >= 1
    shot(page, "chain")


def test_builder_adding_a_leg_updates_payoff(server, page):
    page.goto(f"{server.url}/strategies/builder/?symbol=GLD")
    assert page.locator("#payoff-chart").count() == 0
    page.click("#add-leg")
    page.wait_for_selector("#payoff-chart polyline")
    first = page.locator("#payoff-chart polyline").first.get_attribute("points")
    debit1 = page.inner_text("#m-debit")
    page.click("#add-leg")
    page.wait_for_selector("#leg-1")
    wait_for_htmx_idle(page)
    # Make the second leg a short call: the expiry payoff must change shape.
    page.locator("#leg-1 select[name=side]").select_option("sell")
    page.wait_for_selector(
        "#leg-1 select[name=side] option[value=sell][selected]", state="attached"
    )
    wait_for_htmx_idle(page)
    page.locator("#leg-1 select[name=right]").select_option("C")
    page.wait_for_selector("#leg-1 select[name=right] option[value=C][selected]", state="attached")
    expect(page.locator("#payoff-chart polyline").first).not_to_have_attribute("points", first)
    assert page.inner_text("#m-debit") != debit1
    shot(page, "builder")


def test_adopting_a_hedge_shows_on_dashboard(server, page):
    page.goto(f"{server.url}/strategies/?symbol=GLD&rank=floor")
    page.wait_for_selector("#strategies-table")
    page.wait_for_selector("#payoff-chart polyline")
    shot(page, "strategies")
    holding = page.inner_text("#holding-shares")
    assert holding.replace(",", "") not in ("0", "")
    page.click("#adopt-link")
    page.wait_for_selector("#adopt-confirm")
    legs = page.locator("#adopt-legs tbody tr").count()
    assert legs >= 1
    strikes = page.locator("#adopt-legs tbody tr td:nth-child(3)").all_inner_texts()
    shot(page, "adopt-confirm")
    page.click("#adopt-confirm-button")
    page.wait_for_url(lambda u: "/strategies/" not in u)
    body = page.inner_text("main")
    assert "Adopted" in body
    for k in strikes:
        assert k.split(".")[0] in body
    shot(page, "adopted-dashboard")
