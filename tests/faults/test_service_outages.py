"""Redis and PostgreSQL dying under a running app: no 5xx from Redis, clear 503s from the DB.

Each test starts its own Redis / PostgreSQL on a free port so it can kill and restart it
without touching the shared services.
"""

from __future__ import annotations

import json
import shutil
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.support.private_services import private_postgres, private_redis
from tests.support.server import app_env, manage, run_app_server
from tests.support.services import REQUIRE_SERVICES

pytestmark = [pytest.mark.slow, pytest.mark.services]

ENDPOINTS = [
    "/",
    "/api/portfolio?symbol=GLD",
    "/api/options?symbol=GLD",
    "/api/strategies?symbol=GLD",
    "/health/live",
]


def _need(binary: str) -> None:
    if shutil.which(binary) or list(Path("/usr/lib/postgresql").glob(f"*/bin/{binary}")):
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"{binary} is required (VAULT_REQUIRE_SERVICES=1)")
    pytest.skip(f"{binary} is not installed")


def get(url: str, timeout: float = 30) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def health(server) -> tuple[int, dict]:
    status, body = get(f"{server.url}/health")
    return status, json.loads(body)


def wait_for_health(server, expected: str, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    body: dict = {}
    while time.monotonic() < deadline:
        _, body = health(server)
        if body["status"] == expected:
            return body
        time.sleep(0.3)
    raise AssertionError(f"health never became {expected}: {body}")


def sweep(server, rounds: int = 3) -> list[tuple[str, int]]:
    return [(path, get(f"{server.url}{path}")[0]) for _ in range(rounds) for path in ENDPOINTS]


def test_redis_stopped_mid_run_degrades_without_5xx_and_recovers(tmp_path) -> None:
    _need("redis-server")
    with private_redis() as redis:
        overrides = {"DATA_DIR": str(tmp_path), "REDIS_URL": redis.url}
        with run_app_server(overrides, seed=True) as server:
            before = sweep(server, rounds=1)
            assert all(code < 500 for _, code in before), before
            assert wait_for_health(server, "ok", 10)["checks"]["cache"]["backend"] == "redis"

            redis.stop()
            during = sweep(server)
            body = wait_for_health(server, "degraded", 10)
            assert body["checks"]["cache"]["ok"] is False
            assert body["checks"]["database"]["ok"] is True

            redis.start()  # same port
            after_body = wait_for_health(server, "ok", 20)
            after = sweep(server, rounds=1)
    errors = [(path, code) for path, code in during + after if code >= 500]
    assert errors == [], errors
    assert after_body["checks"]["cache"]["ok"] is True


def test_postgres_unavailable_at_start_up_then_mid_run(tmp_path) -> None:
    _need("initdb")
    with private_postgres() as pg:
        env = app_env({"DATA_DIR": str(tmp_path), "DATABASE_URL": pg.url})
        pg.stop()
        # Start-up: migrate fails with a clear one-line reason, not a hang.
        migrate = manage(env, "migrate", "--noinput", check=False, timeout=60)
        assert migrate.returncode != 0
        assert "connection" in migrate.stderr.lower()

        pg.start()
        with run_app_server(
            {"DATA_DIR": str(tmp_path), "DATABASE_URL": pg.url}, seed=True
        ) as server:
            assert get(f"{server.url}/api/portfolio?symbol=GLD")[0] == 200
            assert health(server)[1]["status"] == "ok"

            pg.stop()
            status, body = health(server)
            assert (status, body["status"]) == (503, "error")
            api_status, api_body = get(f"{server.url}/api/portfolio?symbol=GLD")
            page_status, _ = get(f"{server.url}/")
            assert api_status == 503
            assert json.loads(api_body)["error"]["code"] == "database_unavailable"
            assert page_status == 503
            assert get(f"{server.url}/health/live")[0] == 200

            pg.start()
            wait_for_health(server, "ok", 30)
            assert get(f"{server.url}/api/portfolio?symbol=GLD")[0] == 200
