"""Every page at a phone's and a desktop's width, in both themes, in Debian's Chromium.

For each page, size and theme: no horizontal scrolling of the document, an ``h1``, no text drawn
below 11 px (SVG text measured as rendered), 0 serious or critical axe-core violations, and a
screenshot under ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import re
import urllib.request

import pytest

from tests.support.a11y import page_problems, screenshot
from tests.support.browser import log_in, page_errors, wait_for_htmx_idle
from tests.support.server import manage

pytestmark = [pytest.mark.browser]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}
ADMIN_USER = "e2e-admin"
ADMIN_PASSWORD = "e2e-pages-Passw0rd!"  # a throwaway account in the test's own database
EMAIL = "e2e@example.invalid"


@pytest.fixture(scope="module")
def server(server):
    env = {**server.env, "DJANGO_SUPERUSER_PASSWORD": ADMIN_PASSWORD}
    manage(env, "createsuperuser", "--noinput", "--username", ADMIN_USER, "--email", EMAIL)
    # A year of IV30, so the IV history page draws its chart.
    manage(server.env, "backfill_iv_history", "--symbol", "GLD")
    return server


@pytest.fixture(scope="module")
def logged_in_state(server, browser, tmp_path_factory):
    context = browser.new_context()
    log_in(context.new_page(), server.url, ADMIN_USER, ADMIN_PASSWORD)
    path = tmp_path_factory.mktemp("state") / "state.json"
    context.storage_state(path=str(path))
    context.close()
    return str(path)


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=20) as r:  # noqa: S310
        return r.read().decode()


@pytest.fixture(scope="module")
def pages(server) -> dict[str, tuple[str, bool]]:
    """name → (path, needs a logged-in user)."""
    strategies = _get(f"{server.url}/strategies/?symbol=GLD")
    adopt = re.search(r'id="adopt-link" href="([^"]+)"', strategies)
    assert adopt, "the strategies page offers no candidate to adopt"
    builder = _get(f"{server.url}/strategies/builder/?symbol=GLD")
    collar = re.search(r'id="preset-collar" href="([^"]+)"', builder)
    assert collar, "the builder offers no collar preset"
    unescape = lambda s: s.replace("&amp;", "&")  # noqa: E731
    return {
        "dashboard": ("/", False),
        "options": ("/options/?symbol=GLD", False),
        "iv-history": ("/options/iv-history/?symbol=GLD", False),
        "strategies": ("/strategies/?symbol=GLD", False),
        "builder": (unescape(collar.group(1)), False),
        "adopt": (unescape(adopt.group(1)), True),
        "roll": ("/strategies/roll/?symbol=GLD", False),
        "import": ("/portfolios/1/import/", True),
        "alerts-rules": ("/portfolios/1/alerts/", True),
        "alerts-log": ("/alerts/", True),
        "login": ("/login/", False),
        "not-found": ("/no-such-page/", False),
        "admin": ("/admin/", True),
    }


@pytest.mark.parametrize("scheme", ["dark", "light"])
@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_every_page_fits_reads_and_passes_axe(
    server, browser, pages, logged_in_state, size, scheme
):
    viewport = PHONE if size == "phone" else DESKTOP
    problems: list[str] = []
    for name, (path, login) in pages.items():
        context = browser.new_context(
            viewport=viewport,
            color_scheme=scheme,
            storage_state=logged_in_state if login else None,
        )
        page = context.new_page()
        errors = page_errors(page)
        page.goto(f"{server.url}{path}")
        page.wait_for_load_state("load")
        if page.evaluate("() => !!window.htmx"):
            wait_for_htmx_idle(page)
        where = f"{name} at {viewport['width']} px, {scheme}"
        if page.locator("h1").count() < 1:
            problems.append(f"{where}: no h1")
        problems += page_problems(page, where, text=not name.startswith("admin"))
        problems += [f"{where}: script error {e}" for e in errors]
        screenshot(page, f"{name}-{viewport['width']}-{scheme}")
        context.close()
    assert not problems, "\n".join(problems)


def test_navigation_marks_the_current_page(server, browser):
    page = browser.new_page(viewport=DESKTOP)
    for path, label in (
        ("/", "Portfolio"),
        ("/options/", "Options"),
        ("/strategies/", "Strategies"),
    ):
        page.goto(f"{server.url}{path}")
        current = page.locator('.mainnav a[aria-current="page"]')
        assert current.count() == 1
        assert current.inner_text() == label
    page.close()


def test_phone_menu_collapses_and_opens(server, browser):
    page = browser.new_page(viewport=PHONE)
    page.goto(f"{server.url}/")
    options = page.locator(".mainnav a", has_text="Options")
    assert not options.is_visible()
    page.click("#menu > summary")
    assert options.is_visible()
    options.click()
    page.wait_for_url(re.compile(r"/options/"))
    page.close()


def test_chain_shows_one_side_at_a_time_on_a_phone(server, browser):
    page = browser.new_page(viewport=PHONE)
    page.goto(f"{server.url}/options/?symbol=GLD")
    put_bid = page.locator("#chain-table thead th.put-col").first
    call_head = page.locator("#chain-table thead th.call-col").first
    assert put_bid.is_visible() and not call_head.is_visible()
    page.check("#side-calls")
    assert call_head.is_visible() and not put_bid.is_visible()
    page.check("#side-both")
    assert call_head.is_visible() and put_bid.is_visible()
    page.close()


def test_theme_choice_is_remembered_and_shared_with_the_admin(server, browser, logged_in_state):
    context = browser.new_context(
        viewport=DESKTOP, color_scheme="dark", storage_state=logged_in_state
    )
    page = context.new_page()
    page.goto(f"{server.url}/")
    dark_bg = page.evaluate("getComputedStyle(document.body).backgroundColor")
    page.goto(f"{server.url}/admin/")
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == dark_bg
    page.goto(f"{server.url}/")
    page.select_option("#theme-select", "light")
    page.reload()
    assert page.get_attribute("html", "data-theme") == "light"
    light_bg = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert light_bg != dark_bg
    assert page.input_value("#theme-select") == "light"
    page.goto(f"{server.url}/admin/")
    assert page.get_attribute("html", "data-theme") == "light"
    admin_bg = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert admin_bg == light_bg  # the admin wears the dashboard's palette
    context.close()


def test_builder_works_from_the_keyboard(server, browser):
    page = browser.new_page(viewport=DESKTOP)
    page.goto(f"{server.url}/strategies/builder/?symbol=GLD")
    page.focus("#preset-protective_put")
    page.keyboard.press("Enter")
    page.wait_for_selector("#leg-0")
    wait_for_htmx_idle(page)
    debit = page.inner_text("#m-debit")
    # Change the side with the keyboard: the form re-renders and the focus stays on the control.
    page.focus("#leg-0-side")
    page.keyboard.press("ArrowDown")
    page.wait_for_selector("#leg-0-side option[value=sell][selected]", state="attached")
    wait_for_htmx_idle(page)
    assert page.evaluate("document.activeElement.id") == "leg-0-side"
    assert page.inner_text("#m-debit") != debit
    assert "credit" in page.inner_text("#m-debit")  # selling the put brings premium in
    page.focus("#add-leg")
    page.keyboard.press("Enter")
    page.wait_for_selector("#leg-1")
    page.close()
