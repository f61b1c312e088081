"""A new user's first run in a real browser: invitation → first portfolio → first position →
a partial close with realised P&L, each step checked against /api/portfolio.

Hand-computed case: buy 100 GLD at $180 with a $1 fee → one lot costing $18,001 ($180.01 a
share). Close 40 at $190 with a $1 fee → realised 40 × (190 − 180.01) − 1 = $398.60; left 60
shares costing 60 × 180.01 = $10,800.60.
"""

from __future__ import annotations

import pytest

from tests.support.browser import page_errors
from tests.support.server import manage

pytestmark = [pytest.mark.browser]

PASSWORD = "gold is heavy 2026"


def invitation_path(server) -> str:
    done = manage(server.env, "invite", "--email", "new@example.com")
    return done.stdout.strip()


def api(page, server, portfolio_id: int) -> dict:
    resp = page.request.get(f"{server.url}/api/portfolio?portfolio={portfolio_id}&symbol=GLD")
    assert resp.status == 200
    return resp.json()


def submit_trade(page, form: str, quantity: str, price: str, day: str, portfolio_id: int) -> None:
    """Fill the open trade form (a $1 fee) and send it; it lands on the ledger."""
    page.fill("#id_quantity", quantity)
    page.fill("#id_price", price)
    page.fill("#id_fees", "1")
    page.fill("#id_traded_on", day)
    page.click(f"{form} button[type=submit]")
    page.wait_for_url(f"**/portfolios/{portfolio_id}/trades/")


def test_invitation_to_partial_close(server, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    errors = page_errors(page)

    # The invitation: choose a name and a password, land on the first-run page, logged in.
    page.goto(server.url + invitation_path(server))
    assert page.input_value("#id_email") == "new@example.com"
    page.fill("#id_username", "newcomer")
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.click("#signup-form button[type=submit]")
    page.wait_for_url("**/welcome/")

    # Until they have one, the dashboard shows the demo, labelled as not theirs.
    page.goto(server.url + "/")
    assert "it is not yours" in page.inner_text("#demo-banner")
    page.click("#demo-banner #create-portfolio")
    page.wait_for_url("**/welcome/")

    # The first portfolio.
    page.fill("#id_name", "Gold book")
    page.fill("#id_default_symbol", "gld")
    page.click("#new-portfolio-form button[type=submit]")
    page.wait_for_url("**/start/")
    portfolio_id = int(page.url.rstrip("/").split("/")[-2])
    assert page.locator("#chain-rows tbody tr").count() > 3  # the live chain to pick from
    body = api(page, server, portfolio_id)
    assert body["portfolio"]["name"] == "Gold book" and body["portfolio"]["is_demo"] is False
    assert body["positions"] == []

    # The first position: 100 shares.
    page.click("#add-shares")
    submit_trade(page, "#trade-form", "100", "180", "2026-01-05", portfolio_id)
    body = api(page, server, portfolio_id)
    [row] = body["positions"]
    assert row["quantity"] == 100
    assert body["totals"]["cost"] == pytest.approx(18001.00)
    assert body["realised"]["symbol_pnl"] == 0.0

    # A partial close: 40 at $190 with a $1 fee.
    page.click("#open-positions a:has-text('Close')")
    submit_trade(page, "#close-form", "40", "190", "2026-02-01", portfolio_id)
    assert float(page.get_attribute("#realised-total", "data-value") or "nan") == pytest.approx(
        398.60
    )
    position_row = page.locator("#open-positions tbody tr")
    assert position_row.count() == 1
    assert float(position_row.locator("td").nth(1).get_attribute("data-value") or "0") == 60
    assert float(position_row.locator("td").nth(2).get_attribute("data-value") or "0") == (
        pytest.approx(180.01)
    )

    body = api(page, server, portfolio_id)
    [row] = body["positions"]
    assert row["quantity"] == 60
    assert body["totals"]["cost"] == pytest.approx(10800.60)
    assert body["realised"] == {"lot_method": "fifo", "symbol_pnl": 398.6, "total_pnl": 398.6}
    assert page.locator("#trade-list tbody tr").count() == 2
    assert errors == []
