"""Alerts end to end in a real browser: a rule made through the form, the synthetic market
steered across it, and the bell, the e-mail (a real aiosmtpd server) and the push (a loopback
stand-in for ntfy) each arriving exactly once. axe-core on the alerts pages."""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.alerts.receivers import http_server, smtp_server
from tests.support.a11y import page_problems, screenshot
from tests.support.browser import log_in, page_errors
from tests.support.server import AppServer, app_env, manage, serving
from tests.support.services import free_port

pytestmark = [pytest.mark.browser]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}
USER, PASSWORD = "alice", "e2e-alerts-Passw0rd!"  # a throwaway account in the test's database

SETUP = """
from django.contrib.auth import get_user_model
from market.calendar import market_date
from portfolio.models import Portfolio, Position
user = get_user_model().objects.create_user({user!r}, "alice@example.invalid", {password!r})
p = Portfolio.objects.create(owner=user, name="Gold hedge", default_symbol="GLD")
Position.objects.create(portfolio=p, symbol="GLD", kind="underlying", quantity=100,
                        cost_basis=180, opened_on=market_date())
from market.providers.synthetic import listed_expiries
expiry = [d for d in listed_expiries(market_date()) if 15 <= d.day <= 21][3]
Position.objects.create(portfolio=p, symbol="GLD", kind="option", right="P", quantity=1,
                        strike=190, expiry=expiry, cost_basis=4, opened_on=market_date())
print(p.pk)
"""


class Steer:
    """Moves the served synthetic market: the spot of a symbol, read by the server per quote."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def spot(self, symbol: str, value: float) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({symbol: value}))
        tmp.replace(self.path)  # atomic: the server never reads half a file


@contextlib.contextmanager
def steered_server(data: Path, extra: dict[str, str]) -> Iterator[tuple[AppServer, Steer]]:
    steer = Steer(data / "steer.json")
    steer.spot("GLD", 200.0)
    port = free_port()
    env = app_env(
        {
            "DATA_DIR": str(data),
            "APP_PORT": str(port),
            "STEER_FILE": str(steer.path),
            "WEBSOCKET_INTERVAL_SECONDS": "1",
            "QUOTE_CACHE_TTL": "0",
            "CACHE_TTL": "1",
            **extra,
        }
    )
    manage(env, "migrate", "--noinput", "-v0")
    log_path = data / "daphne.log"
    argv = [sys.executable, "-m", "tests.support.steered_server", "-b", "127.0.0.1"]
    argv += ["-p", str(port), "--websocket_connect_timeout", "30", "vault_dash.asgi:application"]
    with serving(argv, env, log_path, f"http://127.0.0.1:{port}/health/live") as process:
        yield AppServer("127.0.0.1", port, env, process, log_path), steer


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_rule_fires_once_to_the_bell_the_mail_and_the_push(browser, tmp_path):
    with (
        smtp_server() as (smtp_port, mail),
        http_server() as (ntfy_port, push),
        steered_server(
            tmp_path,
            {
                "EMAIL_HOST": "127.0.0.1",
                "EMAIL_PORT": str(smtp_port),
                "EMAIL_USE_TLS": "false",
                "DEFAULT_FROM_EMAIL": "vault@example.invalid",
            },
        ) as (server, steer),
    ):
        made = manage(server.env, "shell", "-c", SETUP.format(user=USER, password=PASSWORD))
        pk = int(made.stdout.strip().splitlines()[-1])
        context = browser.new_context(viewport=DESKTOP)
        page = context.new_page()
        errors = page_errors(page)
        log_in(page, server.url, USER, PASSWORD)
        assert page.get_attribute("#alert-bell", "data-unread") == "0"
        assert page.get_attribute("#alert-bell", "aria-label") == "Alerts: none unread"

        # The rule, through the form: GLD at or above $210, re-armed below $205.
        page.goto(f"{server.url}/portfolios/{pk}/alerts/")
        page.select_option("#id_kind", "spot")
        page.select_option("#id_op", "above")
        page.fill("#id_level", "210")
        page.fill("#id_reset_band", "5")
        page.fill("#id_email", "alice@example.invalid")
        page.fill("#id_apprise_urls", f"ntfy://127.0.0.1:{ntfy_port}/gold")
        page.click("#alert-new button[type=submit]")
        page.wait_for_selector(".messages .success")
        assert "Spot price crosses a level" in page.inner_text("#alert-rules")
        # Armed at $200: the publisher (started by the bell's socket) evaluates it each tick.
        page.wait_for_function(
            "() => /evaluated/.test(document.querySelector('#alert-rules tbody').textContent)"
            " || location.reload()",
            timeout=20_000,
            polling=1000,
        )
        assert mail.messages == [] and push.requests == []

        # Across the level: one fire. Then it wobbles above the level and inside the band.
        steer.spot("GLD", 215.0)
        page.wait_for_selector('#alert-bell[data-unread="1"]', timeout=20_000)
        assert page.get_attribute("#alert-bell", "aria-label") == "Alerts: 1 unread"
        assert page.inner_text("#alert-bell .bell-count") == "1"
        assert "New alert" in page.inner_text("#alert-bell-status")
        wait_until(lambda: len(mail.messages) >= 1 and len(push.requests) >= 1, 30, "delivery")
        for spot in (213.0, 216.0, 207.0):
            steer.spot("GLD", spot)
            time.sleep(2.5)  # a couple of ticks at each
        assert len(mail.messages) == 1, [m[1]["Subject"] for m in mail.messages]
        assert len(push.requests) == 1, push.requests
        rcpts, message = mail.messages[0]
        assert rcpts == ["alice@example.invalid"] and "GLD" in str(message["Subject"])
        body = json.loads(push.requests[0]["body"])  # ntfy's JSON publish: topic in the body
        assert body["topic"] == "gold" and "215" in body["message"], body
        assert page.get_attribute("#alert-bell", "data-unread") == "1"

        # The bell leads to the log, which reads the alert: the count goes to 0.
        page.click("#alert-bell")
        page.wait_for_url(f"{server.url}/alerts/")
        assert page.locator("#alert-inbox tbody tr.unread").count() == 1
        assert page.get_attribute("#alert-bell", "data-unread") == "0"
        assert errors == []
        context.close()

        # axe, layout, screenshots: the alerts pages at a phone's and a desktop's width.
        problems: list[str] = []
        for viewport in (PHONE, DESKTOP):
            for scheme in ("dark", "light"):
                ctx = browser.new_context(viewport=viewport, color_scheme=scheme)
                # Still pages for axe: with no socket there is no live refresh (a refresh dims
                # the dashboard body to 60 % for its duration, which axe reads as low contrast).
                ctx.add_init_script("delete window.WebSocket;")
                p = ctx.new_page()
                log_in(p, server.url, USER, PASSWORD)
                for name, path in (
                    ("alerts-rules", f"/portfolios/{pk}/alerts/"),
                    ("alerts-log", "/alerts/"),
                    ("dashboard-backing", f"/?portfolio={pk}"),
                ):
                    p.goto(f"{server.url}{path}")
                    p.wait_for_load_state("load")
                    where = f"{name} at {viewport['width']} px, {scheme}"
                    problems += page_problems(p, where, text=True)
                    screenshot(p, f"{name}-{viewport['width']}-{scheme}")
                ctx.close()
        assert not problems, "\n".join(problems)
