"""/health and /health/live against real dependencies: ok, Redis down → degraded, DB down → 503."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from django.core.cache import caches
from django.db import connection
from django.test import override_settings

from accounts.models import ApiToken
from deploy.healthcheck import fetch_status
from tests.support.server import run_app_server
from tests.support.services import free_port
from tests.vault_dash.test_config import STRONG_SECRET

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


def _get_json(url: str, **headers: str) -> tuple[int, dict]:
    request = urllib.request.Request(url, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


# --- who sees the details ------------------------------------------------------------------
OUTSIDE = {"REMOTE_ADDR": "203.0.113.7"}
HEALTH_TOKEN = "h" * 12 + "T0k3n-for-monitoring"


def test_anonymous_caller_from_outside_gets_the_status_only(client) -> None:
    response = client.get("/health", **OUTSIDE)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_a_same_host_proxy_does_not_make_its_clients_local(client) -> None:
    # Caddy on the same host connects from loopback but says whom it forwards for.
    for header in ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP"):
        response = client.get("/health", REMOTE_ADDR="127.0.0.1", **{header: "198.51.100.4"})
        assert response.json() == {"status": "ok"}, header
    direct = client.get("/health", REMOTE_ADDR="::1")
    assert "checks" in direct.json()


@override_settings(HEALTH_TOKEN=HEALTH_TOKEN)
def test_health_token_opens_the_details(client) -> None:
    right = client.get("/health", HTTP_X_HEALTH_TOKEN=HEALTH_TOKEN, **OUTSIDE)
    assert set(right.json()["checks"]) == {"database", "cache", "channel_layer", "market_data"}
    for wrong in (HEALTH_TOKEN[:-1], HEALTH_TOKEN + "x", "", HEALTH_TOKEN.upper()):
        refused = client.get("/health", HTTP_X_HEALTH_TOKEN=wrong, **OUTSIDE)
        assert refused.json() == {"status": "ok"}, wrong


def test_no_token_configured_means_no_token_accepted(client) -> None:
    with override_settings(HEALTH_TOKEN=""):
        response = client.get("/health", HTTP_X_HEALTH_TOKEN="", **OUTSIDE)
    assert response.json() == {"status": "ok"}


def test_logged_in_users_and_api_tokens_see_the_details(client, django_user_model) -> None:
    alice = django_user_model.objects.create_user("alice", password="correct horse battery")
    _, plain = ApiToken.issue(alice, "monitor")
    assert "checks" in client.get("/health", HTTP_AUTHORIZATION=f"Bearer {plain}", **OUTSIDE).json()
    bad = client.get("/health", HTTP_AUTHORIZATION="Bearer vd_0000_wrong", **OUTSIDE)
    assert bad.json() == {"status": "ok"}
    client.force_login(alice)
    assert "checks" in client.get("/health", **OUTSIDE).json()


@pytest.mark.slow
def test_production_hides_the_database_error_from_anonymous_callers(tmp_path) -> None:
    """The attack run's finding: the driver's error text (host, port, database) was public."""
    dead_port = free_port()
    overrides = {
        "DATA_DIR": str(tmp_path),
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{dead_port}/vault_secret_name",
        "APP_ENV": "production",
        "NICEGUI_STORAGE_SECRET": STRONG_SECRET,
        "ALLOWED_HOSTS": "127.0.0.1",
        "HEALTH_TOKEN": HEALTH_TOKEN,
    }
    with run_app_server(overrides, migrate=False) as server:
        url = f"{server.url}/health"
        proxied = {"X-Forwarded-For": "198.51.100.4", "X-Forwarded-Proto": "https"}
        anon_status, anon_body = _get_json(url, **proxied)
        token_status, token_body = _get_json(url, **proxied, **{"X-Health-Token": HEALTH_TOKEN})
        local_status, local_body = _get_json(url)
        poller = fetch_status(url, 10)  # the deploy's poller: loopback, no proxy, no token
    assert (anon_status, anon_body) == (503, {"status": "error"})
    assert "vault_secret_name" not in json.dumps(anon_body)
    for status, body in ((token_status, token_body), (local_status, local_body)):
        assert status == 503 and body["status"] == "error"
        error = body["checks"]["database"]["error"]
        # The driver's error, or the pool's when no connection came in DATABASE_POOL_TIMEOUT.
        assert (
            str(dead_port) in error
            or "vault_secret_name" in error
            or "couldn't get a connection" in error
        ), error
    assert poller[0] == "error"


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
