"""Start-up and the cold path: a production server's first requests against the same requests
warm (issue 16: "the first request after start is under 1 s", "cold production login →
dashboard is under 1 s").

    python -m bench startup

Each round starts daphne in production mode (``APP_ENV=production``, collected static files,
a seeded demo and a real user with the production password hasher) on an SQLite file, then
times, from the moment ``/health/live`` answers:

- the first ``GET /login/`` (the first request of the process);
- the login itself (``POST /login/``, the password hash check) and the dashboard it redirects to;
- the first option chain page;
- the first WebSocket handshake on ``/ws/updates`` and its first message.

The same sequence again in the same process, with a new session, is the warm reference, so the
ratio cold / warm says what the cold start still costs.
"""

from __future__ import annotations

import http.client
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from websockets.sync.client import connect

from tests.support.server import app_env, server_command, stop_process, wait_for_http
from tests.support.services import free_port

T = TypeVar("T")
ROOT = Path(__file__).resolve().parent.parent
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
USERNAME = "bench-user"
# Behind Caddy in production: without the header the server redirects to HTTPS.
PROXY_HEADERS = {"X-Forwarded-Proto": "https", "Host": "127.0.0.1"}


@dataclass
class Timings:
    first_request: float
    login: float
    dashboard: float
    chain: float
    websocket: float

    @property
    def login_to_dashboard(self) -> float:
        return self.login + self.dashboard


class Client:
    """A tiny HTTP client that keeps its cookies itself: the production cookies are Secure,
    which ``http.cookiejar`` would never send over the loopback's plain HTTP."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}

    def request(
        self, method: str, path: str, body: dict[str, str] | None = None
    ) -> tuple[int, str, str]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        headers = dict(PROXY_HEADERS)
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        data = None
        if body is not None:
            data = urllib.parse.urlencode(body)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Referer"] = "https://127.0.0.1/login/"
            headers["Origin"] = "https://127.0.0.1"
        connection.request(method, path, body=data, headers=headers)
        response = connection.getresponse()
        text = response.read().decode(errors="replace")
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name.strip()] = rest.split(";", 1)[0]
        location = response.getheader("Location", "")
        connection.close()
        return response.status, location, text


def timed(call: Callable[[], T]) -> tuple[float, T]:
    start = time.perf_counter()
    result = call()
    return time.perf_counter() - start, result


def sequence(port: int, password: str) -> Timings:
    client = Client(port)
    first, (status, _, page) = timed(lambda: client.request("GET", "/login/"))
    assert status == 200, status
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token, page[:300]
    form = {"username": USERNAME, "password": password, "csrfmiddlewaretoken": token.group(1)}
    login, (status, location, _) = timed(lambda: client.request("POST", "/login/", form))
    assert status == 302, (status, location)
    dashboard, (status, _, page) = timed(lambda: client.request("GET", location or "/"))
    assert status == 200 and "<h1" in page, status
    chain, (status, _, _) = timed(lambda: client.request("GET", "/options/"))
    assert status == 200, status
    socket, message = timed(lambda: first_message(client))
    assert message, message
    return Timings(first, login, dashboard, chain, socket)


def first_message(client: Client) -> str:
    headers = {
        "Origin": "https://127.0.0.1",
        "Cookie": "; ".join(f"{k}={v}" for k, v in client.cookies.items()),
    }
    url = f"ws://127.0.0.1:{client.port}/ws/updates"
    with connect(url, additional_headers=headers, open_timeout=60) as socket:
        return str(socket.recv(timeout=60))


def prepare(directory: Path, password: str) -> dict[str, str]:
    env = app_env(
        {
            "APP_ENV": "production",
            "NICEGUI_STORAGE_SECRET": secrets.token_urlsafe(48),
            "ALLOWED_HOSTS": "127.0.0.1",
            "CSRF_TRUSTED_ORIGINS": "https://127.0.0.1",
            "DATA_DIR": str(directory),
            "DATABASE_URL": f"sqlite:///{directory / 'bench.sqlite3'}",
            "STATIC_ROOT": str(directory / "static"),
            "LOG_LEVEL": "WARNING",
        }
    )
    manage = [sys.executable, "manage.py"]
    for argv in (
        ["migrate", "--noinput", "-v0"],
        ["seed_demo"],
        ["collectstatic", "--noinput", "-v0"],
    ):
        subprocess.run(manage + argv, cwd=ROOT, env=env, check=True, capture_output=True)
    subprocess.run(
        [*manage, "create_user", USERNAME, "--password-stdin"],
        cwd=ROOT,
        env=env,
        input=password.encode(),
        check=True,
        capture_output=True,
    )
    return env


def one_round(env: dict[str, str], password: str) -> tuple[float, Timings, Timings]:
    port = free_port()
    env = {**env, "APP_PORT": str(port)}
    log = open(Path(env["DATA_DIR"]) / f"daphne-{port}.log", "wb")  # noqa: SIM115
    start = time.perf_counter()
    process = subprocess.Popen(
        server_command("daphne", port), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/health/live", 120, process)
        ready = time.perf_counter() - start
        cold = sequence(port, password)
        warm = sequence(port, password)
    finally:
        stop_process(process)
        log.close()
    return ready, cold, warm


def main() -> None:
    password = secrets.token_urlsafe(18)
    with tempfile.TemporaryDirectory(prefix="vault-bench-startup-") as tmp:
        env = prepare(Path(tmp), password)
        rounds = [one_round(env, password) for _ in range(ROUNDS)]
    print(f"{ROUNDS} rounds, daphne, APP_ENV=production, SQLite, synthetic data, seeded demo")
    print(f"{'':34} {'cold (median)':>14} {'warm (median)':>14} {'ratio':>7}")
    rows = [
        ("start -> /health/live answers", [r[0] for r in rounds], None),
        (
            "first request (GET /login/)",
            [r[1].first_request for r in rounds],
            [r[2].first_request for r in rounds],
        ),
        (
            "POST /login/ (password check)",
            [r[1].login for r in rounds],
            [r[2].login for r in rounds],
        ),
        (
            "GET / after login (dashboard)",
            [r[1].dashboard for r in rounds],
            [r[2].dashboard for r in rounds],
        ),
        (
            "login -> dashboard",
            [r[1].login_to_dashboard for r in rounds],
            [r[2].login_to_dashboard for r in rounds],
        ),
        ("first GET /options/", [r[1].chain for r in rounds], [r[2].chain for r in rounds]),
        (
            "WebSocket handshake + 1st message",
            [r[1].websocket for r in rounds],
            [r[2].websocket for r in rounds],
        ),
    ]
    for label, cold, warm in rows:
        cold_ms = statistics.median(cold) * 1000
        if warm is None:
            print(f"{label:34} {cold_ms:11.0f} ms")
            continue
        warm_ms = statistics.median(warm) * 1000
        print(f"{label:34} {cold_ms:11.0f} ms {warm_ms:11.0f} ms {cold_ms / warm_ms:6.1f}×")
    worst = max(r[1].first_request for r in rounds), max(r[1].login_to_dashboard for r in rounds)
    print(
        f"worst of {ROUNDS}: first request {worst[0] * 1000:.0f} ms, login -> dashboard {worst[1] * 1000:.0f} ms (targets: < 1000 ms each)"
    )
