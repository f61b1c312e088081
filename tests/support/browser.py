"""Debian's Chromium driven by Playwright (no downloaded browser builds on these machines)."""

from __future__ import annotations

import os
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
