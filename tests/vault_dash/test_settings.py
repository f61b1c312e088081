"""The settings module as a process sees it: start-up refusals, Redis wiring, URLs, logging."""

from __future__ import annotations

import json

import pytest

from tests.support.server import app_env, manage, run_python
from tests.vault_dash.test_config import STRONG_SECRET

PROBE = """
import json, django
django.setup()
from django.conf import settings
from django.urls import reverse
print(json.dumps({
    "cache": settings.CACHES["default"]["BACKEND"],
    "layer": settings.CHANNEL_LAYERS["default"]["BACKEND"],
    "csrf_trusted": settings.CSRF_TRUSTED_ORIGINS,
    "cors": settings.CORS_ALLOWED_ORIGINS,
    "dashboard": reverse("portfolio:dashboard"),
    "health": reverse("health"),
    "ssl_redirect": getattr(settings, "SECURE_SSL_REDIRECT", False),
    "session_secure": settings.SESSION_COOKIE_SECURE,
    "db": settings.DATABASES["default"]["ENGINE"],
}))
"""


def probe(tmp_path, **overrides: str) -> dict:
    result = run_python(
        app_env({"DATA_DIR": str(tmp_path), **overrides}), "-c", PROBE, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def production_env(tmp_path, **overrides: str) -> dict[str, str]:
    return app_env(
        {
            "DATA_DIR": str(tmp_path),
            "APP_ENV": "production",
            "NICEGUI_STORAGE_SECRET": STRONG_SECRET,
            "ALLOWED_HOSTS": "vault.example.com",
            "CORS_ORIGINS": "https://vault.example.com",
            **overrides,
        }
    )


def test_embedded_default_uses_local_memory_and_warns_once(tmp_path) -> None:
    result = run_python(app_env({"DATA_DIR": str(tmp_path)}), "-c", PROBE, check=False, timeout=60)
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert data["cache"].endswith("LocMemCache")
    assert data["layer"].endswith("InMemoryChannelLayer")
    assert data["db"] == "django.db.backends.sqlite3"
    assert result.stderr.count("REDIS_URL is empty") == 1


def test_redis_url_switches_cache_and_channel_layer(tmp_path) -> None:
    data = probe(tmp_path, REDIS_URL="redis://127.0.0.1:6379/3")
    assert data["cache"] == "vault_dash.cache.ResilientRedisCache"
    assert data["layer"].startswith("channels_redis.")


def test_cors_origins_drive_csrf_trusted_origins(tmp_path) -> None:
    data = probe(tmp_path, CORS_ORIGINS="https://vault.example.com")
    assert data["cors"] == data["csrf_trusted"] == ["https://vault.example.com"]


def test_mount_path_prefixes_the_dashboard_only(tmp_path) -> None:
    data = probe(tmp_path, NICEGUI_MOUNT_PATH="/vault")
    assert data["dashboard"] == "/vault/"
    assert data["health"] == "/health"


def test_database_url_selects_postgres(tmp_path) -> None:
    data = probe(tmp_path, DATABASE_URL="postgres://postgres@127.0.0.1:5432/postgres")
    assert data["db"] == "django.db.backends.postgresql"


POOL_PROBE = """
import json, django
django.setup()
from django.conf import settings
db = settings.DATABASES["default"]
print(json.dumps({"max_age": db["CONN_MAX_AGE"], "pool": db["OPTIONS"].get("pool")}))
"""


@pytest.mark.parametrize(("size", "pool"), [("", 4), ("9", 9), ("0", None)])
def test_postgres_connections_are_pooled_per_process(tmp_path, size, pool) -> None:
    env = app_env(
        {
            "DATA_DIR": str(tmp_path),
            "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres",
            "DATABASE_POOL_TIMEOUT": "7",
        }
    )
    if size:
        env["DATABASE_POOL_SIZE"] = size
    result = run_python(env, "-c", POOL_PROBE, check=False, timeout=60)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout.strip().splitlines()[-1])
    # Never persistent: under daphne a kept connection stays with a dead request thread.
    assert data["max_age"] == 0
    if pool is None:
        assert data["pool"] is None
    else:
        assert data["pool"] == {"min_size": 1, "max_size": pool, "timeout": 7.0}


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("NICEGUI_STORAGE_SECRET", ""),
        ("NICEGUI_STORAGE_SECRET", "replace-with-long-random-secret"),
        ("NICEGUI_STORAGE_SECRET", "short"),
        ("DEBUG", "on"),
        ("ALLOWED_HOSTS", ""),
    ],
)
def test_production_start_up_refusal_is_one_line(tmp_path, variable, value) -> None:
    """One unsafe production value: the start-up refuses it in one line that names it."""
    result = manage(production_env(tmp_path, **{variable: value}), "check", check=False, timeout=60)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert variable in lines[0]
    assert "Traceback" not in result.stderr


def test_invalid_value_stops_any_command_with_one_line(tmp_path) -> None:
    result = manage(
        app_env({"DATA_DIR": str(tmp_path), "APP_PORT": "http"}), "check", check=False, timeout=60
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "APP_PORT" in result.stderr


def test_check_deploy_is_clean_for_a_sane_production_env(tmp_path) -> None:
    deploy_check = ("check", "--deploy", "--fail-level", "WARNING")
    result = manage(production_env(tmp_path), *deploy_check, check=False, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_cookies_are_secure_behind_tls(tmp_path) -> None:
    result = run_python(production_env(tmp_path), "-c", PROBE, check=False, timeout=60)
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert data["ssl_redirect"] is True and data["session_secure"] is True
