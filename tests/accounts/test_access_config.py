"""The access variables: HEALTH_TOKEN, API_DOCS_PUBLIC, TRUSTED_PROXIES and the OIDC_* group."""

from __future__ import annotations

from pathlib import Path

import pytest

from vault_dash.config import ConfigError, load_config

OIDC = {
    "OIDC_ISSUER": "https://auth.example.com/",
    "OIDC_CLIENT_ID": "vault",
    "OIDC_CLIENT_SECRET": "s3cr3t-value-from-the-provider",
}


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"DATA_DIR": str(tmp_path / "data")}


def test_defaults_open_nothing(env) -> None:
    access = load_config(env).access
    assert access.health_token == ""
    assert access.api_docs_public is False
    assert access.trusted_proxies == ()
    assert access.oidc is None


def test_trusted_proxies_are_networks(env) -> None:
    access = load_config({**env, "TRUSTED_PROXIES": "127.0.0.1, 172.16.0.0/12,::1"}).access
    assert access.trusted_proxies == ("127.0.0.1/32", "172.16.0.0/12", "::1/128")
    with pytest.raises(ConfigError, match="TRUSTED_PROXIES entry 'caddy'"):
        load_config({**env, "TRUSTED_PROXIES": "caddy"})


def test_health_token_must_be_long(env) -> None:
    with pytest.raises(ConfigError, match="HEALTH_TOKEN is too short"):
        load_config({**env, "HEALTH_TOKEN": "short"})
    token = "a" * 24
    config = load_config({**env, "HEALTH_TOKEN": token})
    assert config.access.health_token == token
    assert token not in repr(config)


def test_oidc_config(env) -> None:
    oidc = load_config({**env, **OIDC, "OIDC_PROVIDER_NAME": "Authelia"}).access.oidc
    assert oidc is not None
    assert oidc.issuer == "https://auth.example.com/"
    assert (oidc.client_id, oidc.provider_name, oidc.create_users) == ("vault", "Authelia", False)
    assert oidc.scopes == "openid email profile" and oidc.sign_algo == "RS256"
    assert OIDC["OIDC_CLIENT_SECRET"] not in repr(load_config({**env, **OIDC}))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"OIDC_CLIENT_SECRET": ""}, "OIDC_CLIENT_ID and OIDC_CLIENT_SECRET are required"),
        ({"OIDC_ISSUER": "auth.example.com"}, "is not an http"),
        ({"OIDC_SIGN_ALGO": "HS256"}, "OIDC_SIGN_ALGO='HS256'"),
        ({"OIDC_SCOPES": "openid profile"}, "must include openid and email"),
    ],
)
def test_oidc_config_errors_are_one_line(env, extra, message) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        load_config({**env, **OIDC, **extra})
    assert "\n" not in str(caught.value)
    assert OIDC["OIDC_CLIENT_SECRET"] not in str(caught.value)


def test_production_wants_https_issuer_except_on_loopback(env) -> None:
    production = {
        **env,
        "APP_ENV": "production",
        "NICEGUI_STORAGE_SECRET": "x7Gk2pQ9vLm4Rt8Wz1Yc6Nb3Hd5Jf0Sa-Ue_Io2Pq7Lk9Mn4Bv8Cx",
        "ALLOWED_HOSTS": "vault.example.com",
    }
    with pytest.raises(ConfigError, match="https:// URL in production"):
        load_config({**production, **OIDC, "OIDC_ISSUER": "http://auth.example.com"})
    local = load_config({**production, **OIDC, "OIDC_ISSUER": "http://127.0.0.1:9000/openid"})
    assert local.access.oidc is not None
