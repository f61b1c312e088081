"""The dashboard in a real browser (Debian's Chromium via Playwright) against daphne."""

from __future__ import annotations

import pytest

from tests.support.browser import load_with_api, page_errors, wait_for_htmx_idle
from tests.support.server import ROOT

ARTIFACTS = ROOT / "test-artifacts"

pytestmark = [
    pytest.mark.browser,
]


def test_dashboard_matches_api_and_switches_symbol(server, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    errors = page_errors(page)
    # Quotes tick every few seconds: compare page and API computed from the same data instant.
    names = ("value", "pnl", "day-pnl", "floor", "hedge-cost", "delta")
    api_url = f"{server.url}/api/portfolio?symbol=GLD"
    body, shown = load_with_api(page, f"{server.url}/", api_url, *names)
    t, h = body["totals"], body["hedge"]
    assert shown["value"] == pytest.approx(t["value"], rel=1e-12)
    assert shown["pnl"] == pytest.approx(t["pnl"], rel=1e-12)
    assert shown["day-pnl"] == pytest.approx(t["day_change"], rel=1e-12)
    assert shown["delta"] == pytest.approx(t["greeks"]["delta_shares"], rel=1e-12)
    assert shown["floor"] == pytest.approx(h["floor"]["floor_value"], rel=1e-12)
    assert shown["hedge-cost"] == pytest.approx(h["cost"]["paid_pct_per_year"], rel=1e-12)
    assert page.locator("#heatmap-spot-vol rect").count() == 5 * 13
    assert page.locator("#positions-table tbody tr").count() == 2

    # Switch symbol through HTMX: the document survives (no full navigation), URL is pushed.
    page.evaluate("window.__marker = 'same-document'")
    page.click("#symbol-slv")
    page.wait_for_selector("#symbol-not-held", timeout=15_000)
    assert page.evaluate("window.__marker") == "same-document"
    assert "symbol=SLV" in page.url
    assert page.locator("#symbol-tabs a.active").inner_text() == "SLV"
    # No SLV holdings: an empty state that says so, never a page of $0 figures.
    assert "You hold no SLV" in (page.locator("#symbol-not-held h2").text_content() or "")
    assert page.locator("#kpi-value").count() == 0
    page.go_back()
    page.wait_for_selector('#kpis[data-symbol="GLD"]', timeout=15_000)
    wait_for_htmx_idle(page)

    # One panel refreshes on its own.
    with page.expect_response(lambda r: "panel=hedge" in r.url):
        page.click("#panel-hedge a.refresh")
    assert page.locator("#panel-hedge #hedge-ratio").inner_text() == "1.00"

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "dashboard.png"
    page.goto(f"{server.url}/")
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    assert errors == []
    page.close()


def test_dashboard_works_without_javascript(server, browser):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{server.url}/")
    assert page.locator("#kpi-value").count() == 1
    page.fill("#symbol-input", "IAU")
    page.click("#symbol-switcher button[type=submit]")
    page.wait_for_selector("#symbol-not-held")
    assert "symbol=IAU" in page.url
    context.close()
