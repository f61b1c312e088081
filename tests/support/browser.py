"""Debian's Chromium driven by Playwright (no downloaded browser builds on these machines)."""

from __future__ import annotations

import json
import os
import urllib.request
from typing import Any

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
# Without the background-networking flags Chromium keeps dialling Google hosts that this
# closed network refuses.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def wait_for_htmx_idle(page: Any) -> None:
    """Wait until no htmx request, swap or settle is under way on the page.

    htmx binds its triggers to swapped-in content only after the settle step (20 ms); an
    event fired before that reaches no listener.
    """
    page.wait_for_function(
        "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"
    )
    page.wait_for_timeout(50)


def chromium_problem() -> str | None:
    if not os.path.exists(CHROMIUM):
        return f"{CHROMIUM} is not installed (tools/system-deps.sh installs it)"
    return None


def page_errors(page: Any) -> list[str]:
    """The uncaught script errors of ``page`` from now on, as they happen."""
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    return errors


def log_in(page: Any, base_url: str, username: str, password: str) -> None:
    """Sign in through the login form and wait until it has sent the browser on."""
    page.goto(f"{base_url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("form button[type=submit]")
    page.wait_for_url(lambda u: "/login/" not in u)


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=20) as response:  # noqa: S310 (a loopback server)
        return json.load(response)


def load_with_api(
    page: Any, page_url: str, api_url: str, *names: str
) -> tuple[dict[str, Any], dict[str, float]]:
    """Load the dashboard at ``page_url`` and GET ``api_url`` until both come from one quote
    instant (quotes tick every few seconds): the API's body and the KPIs ``names`` as shown,
    read before the API was asked (a live update may come in after)."""
    for _ in range(5):
        page.goto(page_url)
        shown = page.get_attribute("#kpis", "data-ts")
        values = kpis(page, *names)
        body: dict[str, Any] = get_json(api_url)
        if body["as_of"] == shown:
            return body, values
    raise AssertionError("could not catch one quote in both")


def kpis(page: Any, *names: str) -> dict[str, float]:
    """The dashboard's KPI figures by name, from their ``data-value`` (NaN where empty)."""
    raw = {name: page.get_attribute(f"#kpi-{name}", "data-value") for name in names}
    return {name: float(value) if value else float("nan") for name, value in raw.items()}
