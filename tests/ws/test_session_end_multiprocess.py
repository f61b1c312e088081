"""Logout on one app process closes the session's socket held by another (Redis layer).

Each process re-validates its own sockets against the shared database, so no signal has to
travel between processes: here the socket is on daphne B, the logout goes to daphne A.
"""

from __future__ import annotations

import asyncio
import http.cookiejar
import json
import time
import urllib.parse
import urllib.request
import uuid
from contextlib import ExitStack

import pytest
from websockets.asyncio.client import connect
from websockets.typing import Origin

from tests.support.server import AppServer, app_env, run_app_server
from tests.support.sessions import PASSWORD, session_cookie
from tests.ws.test_multiprocess import _ws_redis_url, publisher_process, ws_url

pytestmark = [pytest.mark.services, pytest.mark.slow]

INTERVAL_S = 1.0


class Browser:
    def __init__(self) -> None:
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def cookie(self, name: str) -> str:
        return next(c.value for c in self.jar if c.name == name and c.value is not None)

    def open(self, server: AppServer, path: str, fields: dict[str, str] | None = None) -> int:
        data = None
        if fields is not None:
            fields = {**fields, "csrfmiddlewaretoken": self.cookie("csrftoken")}
            data = urllib.parse.urlencode(fields).encode()
        with self.opener.open(f"{server.url}{path}", data=data, timeout=30) as response:
            return int(response.status)


async def _close_after_logout(a: AppServer, b: AppServer, browser: Browser) -> tuple[int, float]:
    headers = {"Cookie": f"sessionid={browser.cookie('sessionid')}"}
    async with connect(ws_url(b), origin=Origin(b.url), additional_headers=headers) as ws:
        async with asyncio.timeout(30):
            while json.loads(await ws.recv())["type"] != "portfolio_update":
                pass
        await asyncio.to_thread(browser.open, a, "/logout/", {})
        logged_out = time.perf_counter()
        try:
            async with asyncio.timeout(INTERVAL_S * 5):
                while True:
                    await ws.recv()
        except Exception:  # closed (expected) or timed out (then close_code is None)
            pass
        return ws.close_code or 0, time.perf_counter() - logged_out


def test_logout_on_one_process_closes_the_socket_on_another(redis_url, tmp_path):
    env = {
        "REDIS_URL": _ws_redis_url(redis_url),
        "WEBSOCKET_REDIS_PREFIX": f"test-ws-{uuid.uuid4().hex[:8]}",
        "WEBSOCKET_INTERVAL_SECONDS": str(INTERVAL_S),
        "DATA_DIR": str(tmp_path / "data"),  # one SQLite file shared by both processes
    }
    with ExitStack() as stack:
        a = stack.enter_context(run_app_server(env, seed=True))
        b = stack.enter_context(run_app_server(env, migrate=False))
        stack.enter_context(publisher_process(env, tmp_path / "publisher.log"))
        session_cookie(app_env(env), username="ana")  # creates ana with the helper's password
        browser = Browser()
        browser.open(a, "/login/")
        browser.open(a, "/login/", {"username": "ana", "password": PASSWORD})
        code, elapsed = asyncio.run(_close_after_logout(a, b, browser))
    assert code == 4401
    assert elapsed <= INTERVAL_S, f"closed {elapsed:.2f}s after the logout"
