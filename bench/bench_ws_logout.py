"""Time from an HTTP logout to the close of the session's WebSocket, on a real daphne (issue 13).

One daphne process (embedded publisher, SQLite, ``WEBSOCKET_INTERVAL_SECONDS`` from
``BENCH_LOGOUT_INTERVAL``, default 5 as in production). ``BENCH_LOGOUT_ROUNDS`` times: log in
through the login form, open ``/ws/updates`` with the session cookie, wait for an update, log
out through ``POST /logout/``, and time the socket's close (expected: code 4401 within one
interval; the guard checks twice per interval). Also counts updates received after the logout.

    python -m bench ws_logout
"""

from __future__ import annotations

import asyncio
import http.cookiejar
import json
import os
import re
import statistics
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

from bench.http_load import bench_env
from tests.support.server import manage, serving
from tests.support.services import free_port

INTERVAL = float(os.environ.get("BENCH_LOGOUT_INTERVAL", "5"))
ROUNDS = int(os.environ.get("BENCH_LOGOUT_ROUNDS", "5"))
PASSWORD = "bench-password-0123456789"


class Browser:
    """A cookie-keeping HTTP client that logs in and out through the real forms."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def cookie(self, name: str) -> str:
        return next(c.value for c in self.jar if c.name == name and c.value is not None)

    def post(self, path: str, fields: dict[str, str]) -> int:
        data = urllib.parse.urlencode({**fields, "csrfmiddlewaretoken": self.cookie("csrftoken")})
        request = urllib.request.Request(  # noqa: S310
            self.base + path, data=data.encode(), headers={"Referer": self.base + path}
        )
        with self.opener.open(request, timeout=30) as response:
            return int(response.status)

    def login(self, username: str) -> str:
        with self.opener.open(f"{self.base}/login/", timeout=30) as response:
            assert re.search(rb"csrfmiddlewaretoken", response.read())
        self.post("/login/", {"username": username, "password": PASSWORD})
        return self.cookie("sessionid")


async def _round(base: str, browser: Browser) -> tuple[float, int, int | None]:
    from websockets.asyncio.client import connect
    from websockets.typing import Origin

    session = browser.login("bench")
    url = base.replace("http://", "ws://") + "/ws/updates"
    async with connect(
        url, origin=Origin(base), additional_headers={"Cookie": f"sessionid={session}"}
    ) as ws:
        while json.loads(await ws.recv())["type"] != "portfolio_update":
            pass
        await asyncio.to_thread(browser.post, "/logout/", {})
        logged_out = time.perf_counter()
        after = 0
        try:
            while True:
                message = json.loads(await asyncio.wait_for(ws.recv(), INTERVAL * 4))
                after += message["type"] == "portfolio_update"
        except Exception:  # ConnectionClosed (expected) or a timeout (reported as no code)
            pass
        return time.perf_counter() - logged_out, after, ws.close_code


def main() -> None:
    data_dir = tempfile.mkdtemp(prefix="vault-bench-logout-")
    env = bench_env(data_dir, {"WEBSOCKET_INTERVAL_SECONDS": str(INTERVAL), "REDIS_URL": ""})
    manage(env, "migrate", "--noinput", "-v0")
    manage(env, "seed_demo")
    create = (
        "from django.contrib.auth import get_user_model as m; "
        f"m().objects.create_user('bench', password={PASSWORD!r})"
    )
    manage(env, "shell", "-c", create)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port)]
    argv.append("vault_dash.asgi:application")
    with serving(argv, env, Path(os.devnull), f"{base}/health/live", 120):
        rounds = [asyncio.run(_round(base, Browser(base))) for _ in range(ROUNDS)]
    closes = [elapsed for elapsed, _, _ in rounds]
    print(
        f"\nlogout → socket close, daphne, WEBSOCKET_INTERVAL_SECONDS={INTERVAL:g}, {ROUNDS} rounds"
    )
    print(f"close codes: {sorted({code for _, _, code in rounds}, key=str)}")
    print(
        f"seconds to close: median {statistics.median(closes):.2f}, max {max(closes):.2f} "
        f"(interval {INTERVAL:g}); updates after logout: {sum(a for _, a, _ in rounds)}"
    )


if __name__ == "__main__":
    main()
