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
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from websockets.sync.client import connect

from tests.support.server import app_env, manage, serving
from tests.support.services import free_port

T = TypeVar("T")
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
    manage(env, "migrate", "--noinput", "-v0")
    manage(env, "seed_demo")
    manage(env, "collectstatic", "--noinput", "-v0")
    manage(env, "create_user", USERNAME, "--password-stdin", input=password)
    return env


def one_round(env: dict[str, str], password: str, warm_up: bool) -> tuple[float, Timings, Timings]:
    """Start the image's server command (``python -m deploy.serve``: migrations, the warm-up
    unless ``WARMUP_TIMEOUT_S=0``, daphne), then time the cold steps and the same steps warm."""
    port = free_port()
    env = {
        **env,
        "APP_PORT": str(port),
        "APP_BIND_ADDRESS": "127.0.0.1",
        "WARMUP_TIMEOUT_S": "10" if warm_up else "0",
    }
    log_path = Path(env["DATA_DIR"]) / f"serve-{port}.log"
    start = time.perf_counter()
    argv = [sys.executable, "-m", "deploy.serve"]
    with serving(argv, env, log_path, f"http://127.0.0.1:{port}/health/live", 120):
        ready = time.perf_counter() - start
        cold = sequence(port, password)
        warm = sequence(port, password)
    return ready, cold, warm


def _ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def main() -> None:
    password = secrets.token_urlsafe(18)
    with tempfile.TemporaryDirectory(prefix="vault-bench-startup-") as tmp:
        env = prepare(Path(tmp), password)
        # Alternate, so both kinds of start see the same machine load.
        plain = []
        warmed = []
        for _ in range(ROUNDS):
            plain.append(one_round(env, password, warm_up=False))
            warmed.append(one_round(env, password, warm_up=True))
    print(
        f"{ROUNDS} rounds of each, `python -m deploy.serve`, APP_ENV=production, SQLite, synthetic data"
    )
    print(
        f"{'median of rounds':36} {'no warm-up':>11} {'warm-up':>11} {'warm':>9} {'warm-up/warm':>13}"
    )
    steps: list[tuple[str, Callable[[Timings], float]]] = [
        ("first request (GET /login/)", lambda t: t.first_request),
        ("POST /login/ (password check)", lambda t: t.login),
        ("GET / after login (dashboard)", lambda t: t.dashboard),
        ("login -> dashboard", lambda t: t.login_to_dashboard),
        ("first GET /options/", lambda t: t.chain),
        ("WebSocket handshake + 1st message", lambda t: t.websocket),
    ]
    ready = (_ms([r[0] for r in plain]), _ms([r[0] for r in warmed]))
    print(f"{'start -> /health/live answers':36} {ready[0]:8.0f} ms {ready[1]:8.0f} ms")
    for label, step in steps:
        cold = _ms([step(r[1]) for r in plain])
        cold_warmed = _ms([step(r[1]) for r in warmed])
        warm = _ms([step(r[2]) for r in plain + warmed])
        print(
            f"{label:36} {cold:8.0f} ms {cold_warmed:8.0f} ms {warm:6.0f} ms {cold_warmed / warm:12.1f}×"
        )
    worst_first = max(r[1].first_request for r in warmed) * 1000
    worst_login = max(r[1].login_to_dashboard for r in warmed) * 1000
    print(
        f"with the warm-up, worst of {ROUNDS}: first request {worst_first:.0f} ms, "
        f"login -> dashboard {worst_login:.0f} ms (targets: < 1000 ms each)"
    )
