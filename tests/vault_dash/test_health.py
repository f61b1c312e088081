"""/health and /health/live against real dependencies: ok, Redis down → degraded, DB down → 503."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from django.core.cache import caches
from django.db import connection
from django.test import override_settings

from tests.support.server import run_app_server
from tests.support.services import free_port

pytestmark = pytest.mark.django_db

DEAD_REDIS = f"redis://127.0.0.1:{free_port()}/0"


def redis_settings(url: str) -> dict:
    return {
        "CACHES": {
            "default": {
                "BACKEND": "vault_dash.cache.ResilientRedisCache",
                "LOCATION": url,
                "OPTIONS": {"socket_connect_timeout": 0.3, "socket_timeout": 0.3},
            }
        },
        "CHANNEL_LAYERS": {
            "default": {
                "BACKEND": "channels_redis.core.RedisChannelLayer",
                "CONFIG": {"hosts": [url]},
            }
        },
        "REDIS_URL": url,
    }


@pytest.fixture
def fresh_layers():
    """Channel layers are cached per process; drop them around a test that swaps settings."""
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


def test_health_ok_in_embedded_mode(client) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert {"app", "env", "version", "image", "uptime_s"} <= body.keys()
    assert set(body["checks"]) == {"database", "cache", "channel_layer", "market_data"}
    for name, check in body["checks"].items():
        assert check["ok"] is True, name
        assert check["latency_ms"] >= 0
    # The backend the suite runs on (SQLite by default, PostgreSQL in .ci/run's second pass).
    assert body["checks"]["database"]["backend"] == connection.vendor
    assert body["checks"]["cache"]["backend"] == "locmem"
    assert body["checks"]["channel_layer"]["backend"].endswith("InMemoryChannelLayer")
    assert response["Cache-Control"].startswith("max-age=0")


def test_health_accepts_trailing_slash_and_rejects_post(client) -> None:
    assert client.get("/health/").status_code == 200
    assert client.post("/health").status_code == 405


def test_liveness_makes_no_dependency_calls(client, django_assert_num_queries) -> None:
    with django_assert_num_queries(0):
        response = client.get("/health/live")
    assert response.status_code == 200 and response.json()["status"] == "ok"


def test_health_ok_with_real_redis(client, redis_url, fresh_layers) -> None:
    with override_settings(**redis_settings(redis_url)):
        body = client.get("/health").json()
    assert body["status"] == "ok", body
    assert body["checks"]["cache"]["backend"] == "redis"
    assert body["checks"]["channel_layer"]["backend"].startswith("Redis")


def test_redis_down_degrades_but_serves(client, fresh_layers) -> None:
    with override_settings(**redis_settings(DEAD_REDIS)):
        cache = caches["default"]
        # The cache answers like an empty cache instead of raising.
        cache.set("k", "v")
        assert cache.get("k", "fallback") == "fallback"
        assert cache.get_many(["a", "b"]) == {}
        assert cache.add("k", 1) is False
        response = client.get("/health")
        page = client.get("/")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["cache"]["ok"] is False
    assert body["checks"]["channel_layer"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True
    assert page.status_code == 200


def test_resilient_cache_recovers_when_redis_returns(redis_url, fresh_layers, monkeypatch) -> None:
    from vault_dash import cache as cache_module

    with override_settings(**redis_settings(redis_url)):
        cache = caches["default"]
        assert isinstance(cache, cache_module.ResilientRedisCache)
        cache.set("probe", "1", 30)
        assert cache.get("probe") == "1"
        # Simulate an outage window, then its end: the backend retries after the back-off.
        cache._mark_down(ConnectionError("simulated"))
        assert cache.get("probe") is None
        monkeypatch.setattr(cache_module, "RETRY_AFTER_SECONDS", 0)
        cache._down_until = 0
        assert cache.get("probe") == "1"
        assert cache.degraded is False


def _get_json(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.mark.slow
def test_database_unreachable_is_error_503(tmp_path) -> None:
    dead_pg = f"postgres://postgres@127.0.0.1:{free_port()}/vault"
    overrides = {"DATA_DIR": str(tmp_path), "DATABASE_URL": dead_pg}
    with run_app_server(overrides, migrate=False) as server:
        status, body = _get_json(f"{server.url}/health")
        live_status, _ = _get_json(f"{server.url}/health/live")
    assert status == 503
    assert body["status"] == "error"
    assert body["checks"]["database"]["ok"] is False
    assert "error" in body["checks"]["database"]
    assert live_status == 200


@pytest.mark.slow
def test_health_ok_on_postgres_and_redis(tmp_path, postgres_url, redis_url) -> None:
    overrides = {"DATA_DIR": str(tmp_path), "DATABASE_URL": postgres_url, "REDIS_URL": redis_url}
    with run_app_server(overrides, migrate=False) as server:
        status, body = _get_json(f"{server.url}/health")
    assert status == 200 and body["status"] == "ok", body
    assert body["checks"]["database"]["backend"] == "postgresql"
    assert body["checks"]["cache"]["backend"] == "redis"
