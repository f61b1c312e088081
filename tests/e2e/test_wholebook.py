"""Whole-book hedging walked through as a person would, in a real browser against daphne.

The seeded demo holds 1,000 GLD and 10 long puts: the strategies page ranks with those puts
included, a second full put hedge shows the book before/after with an over-hedge warning (and
is cancelled), a collar built in the builder is adopted through the same confirmation, the roll
panel rolls the original puts out one expiry, and at every step the dashboard shows what
``/api/portfolio`` says. Axe on every page visited;
screenshots of the strategies and adopt pages at 390 and 1440 px.
"""

from __future__ import annotations

import re

import pytest

from tests.support.a11y import page_problems, screenshot
from tests.support.browser import load_with_api, page_errors, wait_for_htmx_idle

pytestmark = [pytest.mark.browser]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}


def check_page(page, where: str) -> None:
    if page.evaluate("() => !!window.htmx"):
        wait_for_htmx_idle(page)
    problems = page_problems(page, where)
    assert not problems, "\n".join(problems)


def shots(page, name: str) -> None:
    """Full-page and first-screen screenshots at 390 and 1440 px (left at 1440 px)."""
    for vp in (PHONE, DESKTOP):
        page.set_viewport_size(vp)
        shot = screenshot(page, f"wholebook-{name}-{vp['width']}")
        page.screenshot(path=str(shot.with_name(f"{shot.stem}-top.png")))


def dashboard_matches_api(server, page) -> dict:
    """Open the dashboard and compare its figures with /api/portfolio at the same instant."""
    page_url, api_url = f"{server.url}/?symbol=GLD", f"{server.url}/api/portfolio?symbol=GLD"
    body, value = load_with_api(page, page_url, api_url, "delta", "floor", "hedge-cost")
    h, g = body["hedge"], body["totals"]["greeks"]
    assert value["delta"] == pytest.approx(g["delta_shares"], rel=1e-12)
    assert value["floor"] == pytest.approx(h["floor"]["floor_value"], rel=1e-12)
    assert value["hedge-cost"] == pytest.approx(h["cost"]["paid_pct_per_year"], rel=1e-12)
    assert page.inner_text("#kpi-hedge-ratio") == f"{h['hedge_ratio']:.2f}"
    shown = page.locator("#hedge-warnings li").evaluate_all("els => els.map(e => e.dataset.code)")
    assert shown == [w["code"] for w in h["warnings"]]
    check_page(page, "dashboard")
    return body


def test_whole_book_hedging_walkthrough(server, browser):
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    errors = page_errors(page)

    # 1. The book: 1,000 shares and a put hedge; nothing to warn about the book.
    start = dashboard_matches_api(server, page)
    assert start["hedge"]["hedge_ratio"] == 1.0
    codes = {w["code"] for w in start["hedge"]["warnings"]}
    assert not codes & {"over_hedged", "net_short", "stacked_expiry"}

    # 2. Strategies rank with the held puts included (the toggle is on by default).
    page.goto(f"{server.url}/strategies/?symbol=GLD")
    page.wait_for_selector("#strategies-table")
    assert page.is_checked("#include-held")
    assert "Ranked on the whole book" in page.inner_text("#held-options")
    check_page(page, "strategies")
    shots(page, "strategies")
    # Turning it off ranks on the shares alone; the ratio column drops the held puts.
    page.uncheck("#include-held")
    page.click("#strategy-filters button[type=submit]")
    page.wait_for_function(
        "() => document.querySelector('#held-options').textContent.includes('left out')"
    )
    assert "include_held=0" in page.url
    page.check("#include-held")
    page.click("#strategy-filters button[type=submit]")
    page.wait_for_function(
        "() => document.querySelector('#held-options').textContent.includes('whole book')"
    )
    wait_for_htmx_idle(page)

    # 3. A second full hedge: ATM puts on top of the held ones. Over-hedged books have no floor
    #    and rank low, so show them all; the row warns already.
    if page.locator("#show-all").count():
        page.click("#show-all")
        page.wait_for_function("() => !document.querySelector('#show-all')")
        wait_for_htmx_idle(page)
    row = page.locator("#strategies-table tbody tr[data-family=protective_put]").filter(
        has_text="Protective put ATM"
    )
    row = row.first
    assert row.locator(".hedge-ratio").inner_text() == "2.00"
    assert row.locator(".book-warnings [data-code=over_hedged]").count() == 1
    row.locator("a.show-payoff").click()
    page.wait_for_function(
        "() => document.querySelector('#payoff-name').textContent.includes('Protective put ATM')"
    )
    page.click("#adopt-link")
    page.wait_for_selector("#book-before-after")
    ratio = page.locator("#ba-hedge-ratio td")
    assert ratio.nth(0).inner_text() == "1.00" and ratio.nth(1).inner_text() == "2.00"
    assert page.locator("#adopt-warnings li[data-code=over_hedged]").count() == 1
    before_delta = float(page.locator("#ba-delta td").nth(0).get_attribute("data-value") or 0)
    after_delta = float(page.locator("#ba-delta td").nth(1).get_attribute("data-value") or 0)
    assert after_delta < before_delta  # more puts, less delta
    check_page(page, "adopt (second put hedge)")
    shots(page, "adopt")
    # Not this one: cancel. Nothing changed.
    page.click("#adopt-form a")
    page.wait_for_selector("#strategies-table")
    assert dashboard_matches_api(server, page)["hedge"]["hedge_ratio"] == 1.0

    # 4. A collar from the builder (the preset sized to the holding), with the whole book.
    page.goto(f"{server.url}/strategies/builder/?symbol=GLD")
    page.click("#preset-collar")
    page.wait_for_selector("#builder-adopt")
    assert page.is_checked("#b-holding") and page.is_checked("#b-held")
    assert "option position" in page.inner_text("#builder-held")
    check_page(page, "builder")
    assert page.locator("#m-book").count() == 1
    shots(page, "builder")
    page.click("#builder-adopt")
    page.wait_for_selector("#book-before-after")
    assert "Custom:" in (page.text_content("#adopt-confirm h2") or "")
    after = {
        k: page.locator(f"#ba-{k} td").nth(1).get_attribute("data-value")
        for k in ("hedge-ratio", "floor", "delta", "cap")
    }
    assert after["cap"], "a collar caps the book"
    check_page(page, "adopt (builder collar)")
    screenshot(page, "wholebook-adopt-builder-1440")
    page.click("#adopt-confirm-button")
    page.wait_for_url(lambda u: "/strategies/" not in u)
    assert "Adopted" in page.inner_text("main")

    # 5. The dashboard shows the adopted book, as /api/portfolio does, and as the adopt page
    #    said it would (same figures; the quote may have ticked: delta within 1 %).
    end = dashboard_matches_api(server, page)
    shots(page, "dashboard")
    h = end["hedge"]
    assert h["hedge_ratio"] == pytest.approx(float(after["hedge-ratio"] or 0))
    assert h["floor"]["floor_value"] == pytest.approx(float(after["floor"] or 0))
    assert h["cap_value"] == pytest.approx(float(after["cap"] or 0))
    delta = end["totals"]["greeks"]["delta_shares"]
    assert delta == pytest.approx(float(after["delta"] or 0), rel=1e-2)

    # 6. The roll panel rolls the original puts out one expiry (every leg of that expiry
    #    moves, same strikes); the ledger does it in one confirmation.
    (put,) = [p for p in start["positions"] if p["inputs"].get("right") == "P"]
    old_expiry = put["inputs"]["expiry"]

    def legs_at(body: dict, expiry: str) -> set[tuple[str, float, float]]:
        return {
            (p["inputs"]["right"], p["inputs"]["strike"], p["quantity"])
            for p in body["positions"]
            if p["inputs"].get("expiry") == expiry
        }

    rolling = legs_at(end, old_expiry)
    assert ("P", put["inputs"]["strike"], put["quantity"]) in rolling
    page.click("#roll-link")
    section = f"#roll-{old_expiry}"
    page.wait_for_selector(f"{section} table.roll-candidates")
    later = [
        e
        for e in page.locator("#roll-to-expiry option").all_inner_texts()
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", e) and e > old_expiry
    ]
    next_expiry = min(later)
    page.locator("#roll-to-expiry").select_option(next_expiry)
    page.click("#roll-filters button[type=submit]")
    wait_for_htmx_idle(page)
    page.locator(f'{section} table.roll-candidates tbody tr[data-shift="0.0"]').locator(
        "a.roll-review"
    ).click()
    page.wait_for_selector("#roll-confirm")
    check_page(page, "roll confirmation")
    page.click("#roll-confirm-button")
    page.wait_for_url(lambda u: "/strategies/roll/" not in u)
    assert "Rolled" in page.inner_text("main")
    rolled = dashboard_matches_api(server, page)
    assert legs_at(rolled, old_expiry) == set()
    assert rolling <= legs_at(rolled, next_expiry)
    assert errors == []
    context.close()
