"""The dashboard updates itself from /ws/updates in a real browser and survives a restart."""

from __future__ import annotations

import contextlib
import subprocess
import sys

import pytest

from tests.support.server import ROOT, run_app_server
from tests.support.services import free_port

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
]

CHANGED_TS = (
    "old => document.querySelector('#kpis') && document.querySelector('#kpis').dataset.ts !== old"
)


def test_value_changes_without_reload_and_recovers_after_restart(tmp_path, browser):
    # Quotes tick every 5 s in the synthetic provider; a 1 s quote cache lets the page see it.
    env = {
        "DATA_DIR": str(tmp_path / "data"),
        "APP_PORT": str(free_port()),
        "WEBSOCKET_INTERVAL_SECONDS": "0.5",
        "QUOTE_CACHE_TTL": "1",
    }
    errors: list[str] = []
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(run_app_server(env, seed=True))
        # The demo holds GLD; 100 SLV shares make SLV a symbol with live figures too (a symbol
        # not held shows an empty state, without KPIs to update).
        subprocess.run(
            [sys.executable, "manage.py", "import_positions", "-", "--portfolio", "1"],
            cwd=ROOT,
            env=server.env,
            input=b"symbol,quantity,cost_basis\nSLV,100,30\n",
            check=True,
            capture_output=True,
        )
        page = browser.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(f"{server.url}/")
        page.wait_for_selector("#live-conn.live", timeout=15_000)
        page.evaluate("window.__sameDocument = true")
        first_ts = page.get_attribute("#kpis", "data-ts")
        first_value = page.get_attribute("#kpi-value", "data-value")
        page.wait_for_function(CHANGED_TS, arg=first_ts, timeout=20_000)
        assert page.get_attribute("#kpi-value", "data-value") != first_value
        assert page.get_attribute("#kpis", "data-symbol") == "GLD"

        # HTMX swaps in another symbol: the socket follows it, live updates are for SLV now.
        page.click("#symbol-slv")
        page.wait_for_selector("#kpis[data-symbol='SLV']", timeout=15_000)
        last = page.get_attribute("#live-conn", "data-last-update")
        page.wait_for_function(
            "old => document.querySelector('#live-conn').dataset.lastUpdate !== old",
            arg=last,
            timeout=15_000,
        )
        assert page.get_attribute("#kpis", "data-symbol") == "SLV"
        assert page.evaluate("window.__sameDocument") is True

        # Restart the server on the same port: the page notices, backs off, reconnects.
        stack.close()
        page.wait_for_selector("#live-conn:not(.live)", timeout=10_000)
        stack.enter_context(run_app_server(env, migrate=False))
        page.wait_for_selector("#live-conn.live", timeout=30_000)
        after_restart = page.get_attribute("#kpis", "data-ts")
        page.wait_for_function(CHANGED_TS, arg=after_restart, timeout=20_000)
        assert page.evaluate("window.__sameDocument") is True  # never reloaded
    assert not [e for e in errors if "Content Security Policy" in e], errors
