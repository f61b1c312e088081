"""Live updates in a real browser: every panel from one snapshot, marked changes, and an honest
offline state (countdown, data age, stale marks) when the server goes away."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.support.browser import log_in, page_errors, wait_for_htmx_idle
from tests.support.server import manage, run_app_server, stop_process

pytestmark = [pytest.mark.browser]


@pytest.fixture(scope="module")
def ticking_server(tmp_path_factory):
    env = {"DATA_DIR": str(tmp_path_factory.mktemp("live")), "WEBSOCKET_INTERVAL_SECONDS": "1"}
    with run_app_server(env, seed=True) as srv:
        yield srv


@pytest.fixture
def doomed_server(tmp_path):
    """A server of the test's own, which the test stops."""
    env = {"DATA_DIR": str(tmp_path / "data"), "WEBSOCKET_INTERVAL_SECONDS": "1"}
    with run_app_server(env, seed=True) as srv:
        yield srv


def _number(text: str) -> float:
    return float(text.replace("\u2212", "-").replace("$", "").replace(",", "").split()[0])


def test_an_update_refreshes_every_panel_from_one_snapshot(ticking_server, browser):
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    errors = page_errors(page)
    page.goto(f"{ticking_server.url}/")
    page.wait_for_selector('#live-conn[data-state="live"]', timeout=15_000)
    first = page.get_attribute("#kpis", "data-ts")
    # The synthetic market ticks every few seconds; each update re-renders the panels.
    page.wait_for_function(
        "(ts) => document.querySelector('#kpis').dataset.ts !== ts", arg=first, timeout=30_000
    )
    wait_for_htmx_idle(page)
    ts = page.get_attribute("#kpis", "data-ts")
    for panel in ("#panel-kpis", "#panel-hedge", "#panel-positions", "#panel-scenarios"):
        assert page.get_attribute(panel, "data-ts") == ts, panel
    assert page.get_attribute("#data-age", "data-ts") == ts

    # The same numbers wherever they appear.
    kpi_value = float(page.get_attribute("#kpi-value", "data-value") or "nan")
    total = float(page.get_attribute("#positions-total-value", "data-value") or "nan")
    assert kpi_value == total
    assert page.inner_text("#kpi-value .value") == page.inner_text("#positions-total-value")
    assert page.inner_text("#kpi-hedge-ratio") == page.inner_text("#hedge-ratio")
    first_floor = page.locator("#hedge-expiries tbody tr").first.locator("td").nth(5)
    assert page.inner_text("#kpi-floor .value") == first_floor.inner_text()
    assert re.search(r"\$[\d,]+", page.inner_text("#panel-scenarios p.small"))
    scen_base = page.inner_text("#panel-scenarios p.small").rsplit("$", 1)[1].rstrip(".")
    assert _number(scen_base) == pytest.approx(total, abs=0.5)
    assert errors == []
    page.close()


def test_changed_values_are_marked(ticking_server, browser):
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(f"{ticking_server.url}/")
    page.wait_for_selector('#live-conn[data-state="live"]', timeout=15_000)
    # A market tick moves the value; the cell that changed flashes.
    page.wait_for_selector("[data-live].changed", timeout=30_000)
    page.close()


def test_lost_connection_counts_down_and_marks_values_stale(doomed_server, browser):
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.goto(f"{doomed_server.url}/")
    page.wait_for_selector('#live-conn[data-state="live"]', timeout=15_000)
    stop_process(doomed_server.process)
    page.wait_for_selector('#live-conn[data-state="offline"]', timeout=15_000)
    assert page.evaluate("document.body.classList.contains('is-stale')")

    def seconds_left() -> int | None:
        m = re.search(r"reconnecting in (\d+) s", page.inner_text("#live-conn"))
        return int(m.group(1)) if m else None

    # Backoff grows: wait for an attempt with a wait long enough to watch it count down.
    page.wait_for_function(
        "() => { const m = /reconnecting in (\\d+) s/.exec(document.querySelector('#live-conn').textContent);"
        " return m && +m[1] >= 3; }",
        timeout=60_000,
    )
    # Sample for 3 s: the figure must go down one second at a time (a reconnect attempt in
    # between may start a new, longer wait; what counts is that it counts down).
    samples = []
    for _ in range(13):
        samples.append(seconds_left())
        page.wait_for_timeout(250)
    steps_down = sum(
        1
        for a, b in zip(samples, samples[1:], strict=False)
        if a is not None and b is not None and b == a - 1
    )
    assert steps_down >= 2, samples
    assert re.search(r"data \d+ (s|min) old", page.inner_text("#live-conn"))
    assert re.search(r"\d+ (s|min) old", page.inner_text("#data-age"))
    # The symbol tabs still try HTTP and say so when the server cannot be reached.
    page.click("#symbol-slv")
    page.wait_for_selector("#notice:not([hidden])", timeout=10_000)
    assert "Could not reach the server" in page.inner_text("#notice")
    page.close()


def test_logging_out_elsewhere_ends_live_updates_and_the_bell_socket(ticking_server, browser):
    """socket.js, shared by live.js and bell.js: a 4401 (the session ended) stops both sockets,
    and the dashboard says to log in again instead of counting down to a reconnect."""
    env = {**ticking_server.env, "DJANGO_SUPERUSER_PASSWORD": "e2e-live-Passw0rd!"}
    manage(env, "createsuperuser", "--noinput", "--username", "e2e-live", "--email", "l@x.invalid")
    context = browser.new_context()
    page, other = context.new_page(), context.new_page()
    log_in(page, ticking_server.url, "e2e-live", "e2e-live-Passw0rd!")
    sockets: list[Any] = []
    page.on("websocket", lambda ws: sockets.append(ws))
    page.goto(f"{ticking_server.url}/")
    page.wait_for_selector('#live-conn[data-state="live"]', timeout=15_000)
    bell_page = context.new_page()  # no live.js here: the header's bell holds the socket
    bell_sockets: list[Any] = []
    bell_page.on("websocket", lambda ws: bell_sockets.append(ws))
    with bell_page.expect_websocket():
        bell_page.goto(f"{ticking_server.url}/options/?symbol=GLD")

    other.goto(f"{ticking_server.url}/")  # the same session in another tab logs out
    other.click("form[action$='/logout/'] button")
    page.wait_for_selector('#live-conn[data-state="offline"]', timeout=15_000)
    assert page.inner_text("#live-conn") == "log in again for live updates"
    opened = len(sockets)
    page.wait_for_timeout(4_000)  # longer than the first backoff step (0.5–2.5 s)
    assert len(sockets) == opened, "the dashboard reconnected after its session ended"
    assert bell_sockets[0].is_closed() and len(bell_sockets) == 1, "the bell reconnected"
    assert page.inner_text("#live-conn") == "log in again for live updates"
    context.close()
