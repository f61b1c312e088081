"""Each environment variable's effect on the typed configuration, and the production refusals."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from vault_dash.config import ConfigError, load_config

STRONG_SECRET = "x7Gk2pQ9vLm4Rt8Wz1Yc6Nb3Hd5Jf0Sa-Ue_Io2Pq7Lk9Mn4Bv8Cx"


@pytest.fixture
def base_env(tmp_path: Path) -> dict[str, str]:
    return {"DATA_DIR": str(tmp_path / "data")}


def test_defaults_are_the_embedded_mode(base_env: dict[str, str], tmp_path: Path) -> None:
    cfg = load_config(base_env)
    assert cfg.app_env == "development"
    assert cfg.app_name == "Vault Dashboard"
    assert (cfg.app_bind_address, cfg.app_port) == ("127.0.0.1", 8000)
    assert cfg.default_symbol == "GLD"
    assert cfg.cache_ttl == 300
    assert cfg.websocket_interval_seconds == 5.0
    assert cfg.mount_path == "/" and cfg.mount_prefix == ""
    assert cfg.market_data_provider == "synthetic"
    assert 0 < cfg.risk_free_rate < 0.1
    assert cfg.redis_url == ""
    assert cfg.database_url == f"sqlite:///{tmp_path / 'data' / 'vault_dash.sqlite3'}"
    assert cfg.debug is False
    assert "localhost" in cfg.allowed_hosts and "127.0.0.1" in cfg.allowed_hosts
    assert cfg.cors_origins == []
    assert cfg.websocket_publisher == "auto" and cfg.websocket_channel_layer == "pubsub"


@pytest.mark.parametrize(
    ("name", "value", "attribute", "expected"),
    [
        ("APP_NAME", "Gold Vault", "app_name", "Gold Vault"),
        ("APP_PORT", "9123", "app_port", 9123),
        ("APP_BIND_ADDRESS", "0.0.0.0", "app_bind_address", "0.0.0.0"),  # noqa: S104
        ("DEFAULT_SYMBOL", "slv", "default_symbol", "SLV"),
        ("CACHE_TTL", "60", "cache_ttl", 60),
        ("QUOTE_CACHE_TTL", "2", "quote_cache_ttl", 2),
        ("WEBSOCKET_INTERVAL_SECONDS", "1.5", "websocket_interval_seconds", 1.5),
        ("NICEGUI_MOUNT_PATH", "/vault", "mount_path", "/vault/"),
        ("NICEGUI_MOUNT_PATH", "vault/app/", "mount_prefix", "vault/app/"),
        ("REDIS_URL", "redis://127.0.0.1:6379/2", "redis_url", "redis://127.0.0.1:6379/2"),
        ("MARKET_DATA_PROVIDER", "YFinance", "market_data_provider", "yfinance"),
        ("RISK_FREE_RATE", "0.0525", "risk_free_rate", 0.0525),
        (
            "DATABASE_URL",
            "postgres://u@db:5432/vault",
            "database_url",
            "postgres://u@db:5432/vault",
        ),
        (
            "ALLOWED_HOSTS",
            "vault.example.com, 10.0.0.5",
            "allowed_hosts",
            ["vault.example.com", "10.0.0.5"],
        ),
        ("DEBUG", "true", "debug", True),
        ("APP_IMAGE", "registry/x:abc", "app_image", "registry/x:abc"),
        ("LOG_LEVEL", "debug", "log_level", "DEBUG"),
        ("WEBSOCKET_PUBLISHER", "External", "websocket_publisher", "external"),
        ("WEBSOCKET_CHANNEL_LAYER", "core", "websocket_channel_layer", "core"),
        ("WEBSOCKET_REDIS_PREFIX", "vault-staging", "websocket_redis_prefix", "vault-staging"),
        ("DATABASE_POOL_SIZE", "8", "database_pool_size", 8),
        ("DATABASE_POOL_SIZE", "0", "database_pool_size", 0),
        ("DATABASE_POOL_TIMEOUT", "2.5", "database_pool_timeout", 2.5),
        ("STATIC_ROOT", "/srv/static", "static_root", Path("/srv/static")),
    ],
)
def test_each_variable_is_read(base_env, name, value, attribute, expected) -> None:
    cfg = load_config({**base_env, name: value})
    assert getattr(cfg, attribute) == expected


def test_cors_origins_are_parsed_and_validated(base_env) -> None:
    cfg = load_config(
        {**base_env, "CORS_ORIGINS": "https://vault.example.com/, http://10.0.0.5:8000"}
    )
    assert cfg.cors_origins == ["https://vault.example.com", "http://10.0.0.5:8000"]
    for bad in ("*", "vault.example.com", "https://vault.example.com/path"):
        with pytest.raises(ConfigError, match="CORS_ORIGINS"):
            load_config({**base_env, "CORS_ORIGINS": bad})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("APP_PORT", "eighty"),
        ("APP_PORT", "70000"),
        ("CACHE_TTL", "-1"),
        ("WEBSOCKET_INTERVAL_SECONDS", "0"),
        ("WEBSOCKET_INTERVAL_SECONDS", "fast"),
        ("DEFAULT_SYMBOL", "gold bars"),
        ("MARKET_DATA_PROVIDER", "bloomberg"),
        ("RISK_FREE_RATE", "4%"),
        ("RISK_FREE_RATE", "4"),
        ("APP_ENV", "staging-ish"),
        ("NICEGUI_MOUNT_PATH", "/a b"),
        ("REDIS_URL", "http://redis:6379"),
        ("DATABASE_URL", "nosuchdb://x"),
        ("LOG_LEVEL", "LOUD"),
        ("WEBSOCKET_PUBLISHER", "sometimes"),
        ("WEBSOCKET_CHANNEL_LAYER", "kafka"),
        ("WEBSOCKET_REDIS_PREFIX", "a b"),
        ("DATABASE_POOL_SIZE", "-1"),
        ("DATABASE_POOL_SIZE", "many"),
        ("DATABASE_POOL_TIMEOUT", "0"),
    ],
)
def test_bad_values_name_the_variable(base_env, name, value) -> None:
    with pytest.raises(ConfigError) as excinfo:
        load_config({**base_env, name: value})
    message = str(excinfo.value)
    assert name in message
    assert "\n" not in message


def test_replay_provider_needs_a_file(base_env) -> None:
    with pytest.raises(ConfigError, match="MARKET_REPLAY_FILE"):
        load_config({**base_env, "MARKET_DATA_PROVIDER": "replay"})
    cfg = load_config(
        {**base_env, "MARKET_DATA_PROVIDER": "replay", "MARKET_REPLAY_FILE": "/x.json"}
    )
    assert cfg.market_replay_file == "/x.json"


def test_secret_key_is_an_alias_and_storage_secret_wins(base_env) -> None:
    assert load_config({**base_env, "SECRET_KEY": "a" * 10}).secret_key == "a" * 10
    cfg = load_config({**base_env, "SECRET_KEY": "a" * 10, "NICEGUI_STORAGE_SECRET": "b" * 10})
    assert (cfg.secret_key, cfg.secret_key_source) == ("b" * 10, "NICEGUI_STORAGE_SECRET")


def test_embedded_mode_generates_a_private_persistent_secret(base_env, tmp_path) -> None:
    first = load_config(base_env)
    second = load_config(base_env)
    key_file = tmp_path / "data" / "secret_key"
    assert first.secret_key == second.secret_key
    assert len(first.secret_key) >= 50 and first.secret_key_source == "generated"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def _production(base_env, **overrides: str) -> dict[str, str]:
    env = {
        **base_env,
        "APP_ENV": "production",
        "NICEGUI_STORAGE_SECRET": STRONG_SECRET,
        "ALLOWED_HOSTS": "vault.example.com",
    }
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None}


def test_sane_production_config_loads(base_env) -> None:
    cfg = load_config(_production(base_env))
    assert cfg.is_production and cfg.secure_ssl_redirect and cfg.secure_hsts_seconds > 0
    # Production never invents a secret file.
    assert not (Path(base_env["DATA_DIR"]) / "secret_key").exists()


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"NICEGUI_STORAGE_SECRET": ""}, "NICEGUI_STORAGE_SECRET"),
        ({"NICEGUI_STORAGE_SECRET": "replace-with-long-random-secret"}, "NICEGUI_STORAGE_SECRET"),
        ({"NICEGUI_STORAGE_SECRET": "short-secret"}, "NICEGUI_STORAGE_SECRET"),
        ({"NICEGUI_STORAGE_SECRET": "a" * 64}, "NICEGUI_STORAGE_SECRET"),
        ({"NICEGUI_STORAGE_SECRET": "", "SECRET_KEY": "tooshort"}, "SECRET_KEY"),
        ({"DEBUG": "1"}, "DEBUG"),
        ({"ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS"),
        ({"ALLOWED_HOSTS": "*"}, "ALLOWED_HOSTS"),
    ],
)
def test_production_refuses_unsafe_values(base_env, overrides, named) -> None:
    env = _production(base_env)
    env.update(overrides)
    with pytest.raises(ConfigError) as excinfo:
        load_config(env)
    assert named in str(excinfo.value)
    assert "\n" not in str(excinfo.value)
