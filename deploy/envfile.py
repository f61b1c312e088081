"""The remote ``.env``: parse, assemble from variables, render, and know which values are secret.

The file is read by ``docker compose`` twice: as ``--env-file`` (interpolation of
``${APP_IMAGE}``, ``${APP_PORT}`` ...) and as the app service's ``env_file``. Both follow the
Compose dotenv rules, so values are written either bare (a conservative character set) or in
single quotes, which Compose takes literally (no ``$`` interpolation, no escapes). A value that
cannot be written that way (a newline, or a single quote next to other special characters) is
refused rather than written in a form Compose would read differently.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
BARE_VALUE_RE = re.compile(r"^[A-Za-z0-9_./:@,+=%\-\[\]]*$")

# Variables copied into an assembled .env when set in the deploy environment. The app reads
# them through vault_dash/config.py; the last group is read by the optional compose profiles.
APP_VARIABLES: tuple[str, ...] = (
    "APP_ENV",
    "APP_NAME",
    "APP_PORT",
    "APP_BIND_ADDRESS",
    "APP_VERSION",
    "ALLOWED_HOSTS",
    "DEBUG",
    "NICEGUI_STORAGE_SECRET",
    "SECRET_KEY",
    "DATABASE_URL",
    "REDIS_URL",
    "DEFAULT_SYMBOL",
    "CACHE_TTL",
    "QUOTE_CACHE_TTL",
    "WEBSOCKET_INTERVAL_SECONDS",
    "NICEGUI_MOUNT_PATH",
    "CORS_ORIGINS",
    "MARKET_DATA_PROVIDER",
    "MARKET_REPLAY_FILE",
    "MARKET_SEED",
    "RISK_FREE_RATE",
    "LOG_LEVEL",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "HEALTH_TOKEN",
    "API_DOCS_PUBLIC",
    "TRUSTED_PROXIES",
    "OIDC_ISSUER",
    "OIDC_CLIENT_ID",
    "OIDC_CLIENT_SECRET",
    "OIDC_PROVIDER_NAME",
    "OIDC_CREATE_USERS",
    "OIDC_SCOPES",
    "OIDC_SIGN_ALGO",
    # compose profiles
    "POSTGRES_DB",
    "POSTGRES_USER",
    "POSTGRES_PASSWORD",
    "CADDY_DOMAIN",
    "CADDY_EMAIL",
    "CADDY_HTTP_UPSTREAM",
    "CADDY_WS_UPSTREAM",
    "CADDY_BIND_ADDRESS",
    "CADDY_HTTP_PORT",
    "CADDY_HTTPS_PORT",
    "WEB_CONCURRENCY",
    # images replacing the official ones (CI builds them from Debian packages)
    "REDIS_IMAGE",
    "POSTGRES_IMAGE",
    "CADDY_IMAGE",
)

# Names whose values are secret whatever they contain; URL-valued variables are checked for an
# embedded password as well (see secret_values).
SECRET_NAME_RE = re.compile(r"(SECRET|PASSWORD|PASSWD|TOKEN|PRIVATE_KEY|API_KEY|CREDENTIALS)")

DEFAULTS: dict[str, str] = {
    "APP_ENV": "production",
    "APP_PORT": "8000",
    "APP_BIND_ADDRESS": "127.0.0.1",
}

MIN_SECRET_LENGTH = 50


class EnvFileError(ValueError):
    """The .env content is malformed or a value cannot be written safely."""


def parse(text: str) -> dict[str, str]:
    """Parse dotenv text the way Compose does for the subset this tool writes and accepts.

    ``KEY=value``, ``KEY='literal'``, ``KEY="value"`` (no escapes processed), ``export KEY=...``,
    blank lines and ``#`` comments. Anything else is an error naming the line number, never the
    line itself (it may hold a secret).
    """
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not KEY_RE.match(key):
            raise EnvFileError(f"line {number}: expected KEY=value")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        values[key] = value
    return values


def quote(value: str) -> str:
    """One value in a form Compose reads back unchanged."""
    if "\n" in value or "\r" in value or "\x00" in value:
        raise EnvFileError("values cannot contain newlines or NUL bytes")
    if BARE_VALUE_RE.match(value):
        return value
    if "'" in value:
        raise EnvFileError(
            "values with a single quote and other special characters are not supported"
        )
    return f"'{value}'"


def render(values: Mapping[str, str], header: str = "") -> str:
    lines = [f"# {line}" for line in header.splitlines()] if header else []
    for key, value in values.items():
        if not KEY_RE.match(key):
            raise EnvFileError(f"{key!r} is not a valid variable name")
        try:
            lines.append(f"{key}={quote(value)}")
        except EnvFileError as exc:
            raise EnvFileError(f"{key}: {exc}") from None
    return "\n".join(lines) + "\n"


def assemble(environ: Mapping[str, str], names: Iterable[str] = APP_VARIABLES) -> dict[str, str]:
    """The app's variables taken from the deploy environment, with production defaults."""
    values = dict(DEFAULTS)
    for name in names:
        if name in environ:
            values[name] = environ[name]
    return values


def with_image(values: Mapping[str, str], image: str) -> dict[str, str]:
    """``values`` with ``APP_IMAGE`` set (first, so a reader sees it at the top)."""
    out = {"APP_IMAGE": image}
    out.update({k: v for k, v in values.items() if k != "APP_IMAGE"})
    return out


def secret_values(values: Mapping[str, str]) -> set[str]:
    """Every value in ``values`` that must never be printed: secret-named ones and URL passwords."""
    found: set[str] = set()
    for key, value in values.items():
        if not value:
            continue
        if SECRET_NAME_RE.search(key):
            found.add(value)
        if "://" in value:
            try:
                password = urlsplit(value).password
            except ValueError:
                password = None
            if password:
                found.add(password)
                found.add(value)
    return found


def production_problems(values: Mapping[str, str]) -> list[str]:
    """The app refuses to start in production with these; catch them before touching the host."""
    if values.get("APP_ENV", "development").strip().lower() != "production":
        return []
    problems = []
    secret = values.get("NICEGUI_STORAGE_SECRET") or values.get("SECRET_KEY") or ""
    if len(secret.strip()) < MIN_SECRET_LENGTH:
        problems.append(
            f"NICEGUI_STORAGE_SECRET must be set to at least {MIN_SECRET_LENGTH} random characters"
        )
    if not [h for h in values.get("ALLOWED_HOSTS", "").split(",") if h.strip()]:
        problems.append("ALLOWED_HOSTS must list the host names the app is served under")
    if values.get("DEBUG", "").strip().lower() in ("1", "true", "yes", "on"):
        problems.append("DEBUG must be off in production")
    return problems
