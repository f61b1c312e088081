"""deploy/docker-compose.deploy.yml on the real engine with every profile (app, redis,
postgres, publisher, web, caddy), each service healthy by its own health check, and one
path end to end through Caddy: a page, an API call (served by gunicorn) and a WebSocket
``portfolio_update`` (daphne, fed by the publisher through Redis). Run with ``-m engine``.

Redis, PostgreSQL and Caddy are the stand-ins of deploy/images/ (no image registry here).
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import re
import secrets
import shutil
import subprocess
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import websockets
from websockets.typing import Origin

from deploy import envfile
from tests.deploy.engine import ROOT, Engine, http_get, wait_http
from tests.support.services import free_port
from tests.support.websocket import portfolio_updates

pytestmark = [pytest.mark.engine, pytest.mark.slow, pytest.mark.timeout(900)]

SERVICES = ("app", "redis", "postgres", "publisher", "web", "caddy")
PROFILES = ("redis", "postgres", "publisher", "web", "caddy")

HEALTH_TOKEN = secrets.token_urlsafe(32)


@dataclass
class Stack:
    directory: Path
    project: str
    caddy_port: int
    env: dict[str, str]

    def compose(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        command = ["docker-compose", "-p", self.project, "-f", "docker-compose.deploy.yml"]
        command += ["--env-file", ".env"]
        for profile in PROFILES:
            command += ["--profile", profile]
        return subprocess.run(
            [*command, *args],
            cwd=self.directory,
            env={**os.environ, "REMOTE_ENV_FILE": str(self.directory / ".env")},
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def container(self, service: str) -> str:
        ids = self.compose("ps", "-q", service).stdout.split()
        assert len(ids) == 1, (service, ids)
        return ids[0]


@pytest.fixture(scope="module")
def stack(
    engine: Engine, app_image: str, service_images: dict[str, str], tmp_path_factory
) -> Iterator[Stack]:
    directory = tmp_path_factory.mktemp("compose")
    for name in ("docker-compose.deploy.yml", "Caddyfile"):
        shutil.copy(ROOT / "deploy" / name, directory / name)
    password = secrets.token_urlsafe(24)
    caddy_port = free_port()
    values = {
        "APP_IMAGE": app_image,
        **service_images,
        "APP_ENV": "production",
        "APP_PORT": str(free_port()),
        "APP_BIND_ADDRESS": "127.0.0.1",
        "ALLOWED_HOSTS": "localhost,127.0.0.1",
        "NICEGUI_STORAGE_SECRET": secrets.token_urlsafe(48),
        "SECURE_SSL_REDIRECT": "false",
        "HEALTH_TOKEN": HEALTH_TOKEN,  # the host is not the container's loopback
        "MARKET_DATA_PROVIDER": "synthetic",
        "WEBSOCKET_INTERVAL_SECONDS": "1",
        "DATABASE_URL": f"postgres://vault:{password}@postgres:5432/vault",
        "POSTGRES_PASSWORD": password,
        "REDIS_URL": "redis://redis:6379/0",
        "CADDY_DOMAIN": "http://localhost",
        "CADDY_EMAIL": "ops@example.com",
        "CADDY_HTTP_UPSTREAM": "web:8000",
        "CADDY_BIND_ADDRESS": "127.0.0.1",
        "CADDY_HTTP_PORT": str(caddy_port),
        "CADDY_HTTPS_PORT": str(free_port()),
    }
    (directory / ".env").write_text(envfile.render(values))
    (directory / ".env").chmod(0o600)
    s = Stack(directory, f"vault-ci-stack-{secrets.token_hex(3)}", caddy_port, values)
    try:
        up = s.compose("up", "-d")
        assert up.returncode == 0, up.stderr[-2000:] + s.compose("logs", "--tail=30").stdout
        for service in SERVICES:
            engine.wait_healthy(s.container(service), timeout=180)
        yield s
    finally:
        s.compose("down", "-v", "--remove-orphans", timeout=300)


def test_every_service_is_healthy_by_its_own_check(engine: Engine, stack: Stack) -> None:
    checks = {}
    for service in SERVICES:
        container = stack.container(service)
        assert engine.health(container) == "healthy", service
        state = engine.inspect(container)["State"]
        assert isinstance(state, dict)
        assert state["Health"]["Log"][-1]["ExitCode"] == 0, service
        config = engine.inspect(container)["Config"]
        assert isinstance(config, dict)
        checks[service] = " ".join(config["Healthcheck"]["Test"])
    # Each check is about the service itself: the publisher serves no HTTP.
    assert "deploy.publisher_health" in checks["publisher"]
    assert "/health/live" not in checks["publisher"]
    assert "redis-cli ping" in checks["redis"]
    assert "pg_isready" in checks["postgres"]
    assert "2019/config" in checks["caddy"]
    for service in ("app", "web"):
        assert "/health/live" in checks[service]


def test_the_app_runs_on_postgres_and_redis(stack: Stack) -> None:
    status, _, body = http_get(
        f"http://127.0.0.1:{stack.env['APP_PORT']}/health", headers={"X-Health-Token": HEALTH_TOKEN}
    )
    report = json.loads(body)
    assert status == 200 and report["status"] == "ok", report
    assert report["checks"]["database"]["backend"] == "postgresql"
    assert "redis" in report["checks"]["cache"]["backend"].lower()
    assert report["checks"]["channel_layer"]["ok"] is True


def test_web_runs_without_control_server_errors(engine: Engine, stack: Stack) -> None:
    logs = engine.logs(stack.container("web"))
    assert "Read-only file system" not in logs
    assert "Control server error" not in logs


PASSWORD = secrets.token_urlsafe(18)


@pytest.fixture(scope="module")
def api_token(engine: Engine, stack: Stack) -> str:
    """A user and an API token made inside the app container, as an operator would."""
    app = stack.container("app")
    engine.run(
        "exec",
        f"--env=DJANGO_SUPERUSER_PASSWORD={PASSWORD}",
        app,
        *("python", "manage.py", "createsuperuser", "--noinput"),
        *("--username=ci", "--email=ci@example.com"),
    )
    token = engine.run("exec", app, "python", "manage.py", "api_token", "create", "ci")
    assert len(token.stdout.strip()) > 20
    return token.stdout.strip()


def cookies(response: http.client.HTTPResponse) -> dict[str, str]:
    found = {}
    for header in response.headers.get_all("Set-Cookie") or []:
        name, _, rest = header.partition("=")
        found[name.strip()] = rest.split(";", 1)[0]
    return found


def log_in(host: str, port: int) -> str:
    """Log in through the login form (via Caddy); the Cookie header of the session."""
    conn = http.client.HTTPConnection(host, port, timeout=30)
    conn.request("GET", "/login/")
    response = conn.getresponse()
    page = response.read().decode()
    assert response.status == 200, page[:500]
    csrf = cookies(response)["csrftoken"]
    field = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert field is not None
    form = urllib.parse.urlencode(
        {"username": "ci", "password": PASSWORD, "csrfmiddlewaretoken": field.group(1)}
    )
    conn.request(
        "POST",
        "/login/",
        body=form,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"csrftoken={csrf}",
            "Referer": f"http://{host}:{port}/login/",
        },
    )
    response = conn.getresponse()
    response.read()
    assert response.status == 302, response.status
    session = cookies(response)["sessionid"]
    conn.close()
    return f"sessionid={session}"


def test_a_page_and_an_api_call_through_caddy(engine: Engine, stack: Stack, api_token: str) -> None:
    base = f"http://localhost:{stack.caddy_port}"
    wait_http(f"{base}/health/live", timeout=60)
    status, headers, page = http_get(f"{base}/")
    assert status == 200, page[:500]
    assert headers["Content-Type"].startswith("text/html")
    assert b"<html" in page.lower()
    assert headers["X-Frame-Options"] == "DENY"
    probe = secrets.token_hex(4)
    url = f"{base}/api/portfolio?symbol=GLD&probe={probe}"
    assert http_get(url)[0] == 401  # production: the API wants a token
    status, _, body = http_get(url, Authorization=f"Bearer {api_token}")
    assert status == 200, body[:500]
    assert json.loads(body)["symbol"] == "GLD"
    # CADDY_HTTP_UPSTREAM=web:8000: gunicorn served it (its access log has the request).
    assert f"probe={probe}" in engine.logs(stack.container("web"))


def test_websocket_updates_through_caddy_from_the_publisher(stack: Stack, api_token: str) -> None:
    address = f"localhost:{stack.caddy_port}"
    session = log_in("localhost", stack.caddy_port)

    async def first_update() -> dict[str, object]:
        url = f"ws://{address}/ws/updates?symbol=GLD"
        async with websockets.connect(
            url, origin=Origin(f"http://{address}"), additional_headers={"Cookie": session}
        ) as ws:
            assert json.loads(await ws.recv())["type"] == "connected"
            (update,) = await portfolio_updates(ws, 1, 60)
            return update

    update = asyncio.run(first_update())
    assert update["symbol"] == "GLD"
    assert float(str(update["spot"])) > 0
    assert "kpis_html" in update
