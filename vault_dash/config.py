"""Typed runtime configuration, read from the environment through django-environ.

Settings modules call :func:`load_config` once; everything that reads the environment lives
here so that each variable is parsed, validated and documented in one place (the README's
configuration table mirrors :data:`VARIABLES`). A bad value raises :class:`ConfigError` with a
one-line message naming the variable; the settings module turns that into a clean exit.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import environ

from market.providers import PROVIDER_NAMES, parse_provider_list

BASE_DIR = Path(__file__).resolve().parent.parent

APP_ENVS = ("development", "production", "test")
SUPPORTED_DATABASE_SCHEMES = ("sqlite", "postgres", "postgresql", "pgsql")
MIN_SECRET_LENGTH = 50

# Values that ship in examples and docs; a production secret must be none of them.
PLACEHOLDER_SECRETS = frozenset(
    {
        "replace-with-long-random-secret",
        "change-me",
        "changeme",
        "secret",
        "!!!set nicegui_storage_secret!!!",
    }
)

SYMBOL_RE = re.compile(r"^[A-Z][A-Z0-9.\-]{0,9}$")


class ConfigError(Exception):
    """A configuration value is missing or unusable. ``str(exc)`` is one line."""


@dataclass(frozen=True)
class OidcConfig:
    """OpenID Connect sign-in (docs/authentication.md); present only when OIDC_ISSUER is set."""

    issuer: str
    client_id: str
    client_secret: str = field(repr=False)  # never in a repr, a log line or a traceback
    provider_name: str
    create_users: bool
    scopes: str
    sign_algo: str


@dataclass(frozen=True)
class AccessConfig:
    """Who may see what beyond the login: health details, API docs, proxies, OIDC."""

    health_token: str = field(repr=False)
    api_docs_public: bool
    trusted_proxies: tuple[str, ...]
    oidc: OidcConfig | None


@dataclass(frozen=True)
class Config:
    app_env: str
    app_name: str
    app_port: int
    app_bind_address: str
    debug: bool
    secret_key: str
    secret_key_source: str
    allowed_hosts: list[str]
    database_url: str
    database_pool_size: int
    database_pool_timeout: float
    data_dir: Path
    static_root: Path
    redis_url: str
    default_symbol: str
    cache_ttl: int
    quote_cache_ttl: int
    websocket_interval_seconds: float
    mount_path: str
    cors_origins: list[str]
    market_data_provider: str
    market_replay_file: str
    market_seed: int
    risk_free_rate: float
    app_image: str
    app_version: str
    log_level: str
    secure_ssl_redirect: bool
    secure_hsts_seconds: int
    websocket_publisher: str
    websocket_channel_layer: str
    websocket_redis_prefix: str
    access: AccessConfig
    open_signup: bool = False

    @property
    def is_production(self) -> bool:
        return self.app_env == "production"

    @property
    def mount_prefix(self) -> str:
        """The mount path as a Django URL prefix: ``"/"`` → ``""``, ``"/vault"`` → ``"vault/"``."""
        stripped = self.mount_path.strip("/")
        return f"{stripped}/" if stripped else ""


def _env(environ_map: Mapping[str, str]) -> environ.Env:
    env = environ.Env()
    env.ENVIRON = environ_map
    return env


def _read(env: environ.Env, name: str, reader: str, default: Any) -> Any:
    try:
        return getattr(env, reader)(name, default=default)
    except (ValueError, TypeError) as exc:
        raw = env.ENVIRON.get(name, "")
        raise ConfigError(f"{name}={raw!r} is not a valid {reader} ({exc})") from None


def normalise_mount_path(raw: str) -> str:
    """``""``/``"/"`` → ``"/"``; ``"vault"``, ``"/vault/"`` → ``"/vault/"``."""
    parts = [p for p in raw.strip().split("/") if p]
    for part in parts:
        if not re.fullmatch(r"[A-Za-z0-9._~\-]+", part):
            raise ConfigError(
                f"NICEGUI_MOUNT_PATH={raw!r} contains characters not allowed in a URL path"
            )
    return "/" + "".join(f"{p}/" for p in parts)


def _origins(values: list[str]) -> list[str]:
    origins = []
    for value in values:
        value = value.strip().rstrip("/")
        if not value:
            continue
        if value == "*":
            raise ConfigError("CORS_ORIGINS='*' is not allowed; list the trusted origins")
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path:
            raise ConfigError(
                f"CORS_ORIGINS entry {value!r} is not an origin like https://vault.example.com"
            )
        origins.append(value)
    return origins


def _dev_secret(data_dir: Path) -> str:
    """A random secret kept under the data directory (mode 0600) for embedded runs."""
    path = data_dir / "secret_key"
    try:
        existing = path.read_text().strip()
    except FileNotFoundError:
        existing = ""
    if len(existing) >= MIN_SECRET_LENGTH:
        return existing
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(64)
    fd = path.open("w", encoding="ascii")
    with fd:
        path.chmod(0o600)
        fd.write(key)
    return key


def _production_problems(cfg: Config, raw_secret: str) -> list[str]:
    problems = []
    if not raw_secret:
        problems.append("NICEGUI_STORAGE_SECRET (or SECRET_KEY) is not set")
    elif raw_secret.lower() in PLACEHOLDER_SECRETS or raw_secret.startswith("django-insecure"):
        problems.append(f"{cfg.secret_key_source} is a default/example value")
    elif len(raw_secret) < MIN_SECRET_LENGTH or len(set(raw_secret)) < 5:
        problems.append(
            f"{cfg.secret_key_source} is too short or too simple "
            f"(need at least {MIN_SECRET_LENGTH} random characters)"
        )
    if cfg.debug:
        problems.append("DEBUG must be off")
    if not cfg.allowed_hosts:
        problems.append("ALLOWED_HOSTS is not set")
    elif "*" in cfg.allowed_hosts:
        problems.append("ALLOWED_HOSTS must list host names, not '*'")
    return problems


MIN_HEALTH_TOKEN_LENGTH = 24
OIDC_SIGN_ALGOS = ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")


def _trusted_proxies(values: list[str]) -> tuple[str, ...]:
    networks = []
    for value in (v.strip() for v in values):
        if not value:
            continue
        try:
            networks.append(str(ipaddress.ip_network(value, strict=False)))
        except ValueError:
            raise ConfigError(
                f"TRUSTED_PROXIES entry {value!r} is not an IP address or CIDR network"
            ) from None
    return tuple(networks)


def _oidc_config(env: environ.Env, production: bool) -> OidcConfig | None:
    # Kept as written: the provider's discovery document must name exactly this issuer.
    issuer = _read(env, "OIDC_ISSUER", "str", "").strip()
    if not issuer:
        return None
    parts = urlsplit(issuer)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"OIDC_ISSUER={issuer!r} is not an http(s) URL")
    if production and parts.scheme != "https" and parts.hostname not in LOOPBACK_HOSTS:
        raise ConfigError("OIDC_ISSUER must be an https:// URL in production")
    client_id = _read(env, "OIDC_CLIENT_ID", "str", "").strip()
    client_secret = _read(env, "OIDC_CLIENT_SECRET", "str", "").strip()
    if not client_id or not client_secret:
        raise ConfigError("OIDC_ISSUER is set: OIDC_CLIENT_ID and OIDC_CLIENT_SECRET are required")
    algo = _read(env, "OIDC_SIGN_ALGO", "str", "RS256").strip().upper()
    if algo not in OIDC_SIGN_ALGOS:
        raise ConfigError(f"OIDC_SIGN_ALGO={algo!r} must be one of {', '.join(OIDC_SIGN_ALGOS)}")
    scopes = _read(env, "OIDC_SCOPES", "str", "openid email profile").split()
    if "openid" not in scopes or "email" not in scopes:
        raise ConfigError("OIDC_SCOPES must include openid and email")
    name = _read(env, "OIDC_PROVIDER_NAME", "str", "").strip() or "single sign-on"
    return OidcConfig(
        issuer=issuer,
        client_id=client_id,
        client_secret=client_secret,
        provider_name=name[:60],
        create_users=_read(env, "OIDC_CREATE_USERS", "bool", False),
        scopes=" ".join(scopes),
        sign_algo=algo,
    )


def _access_config(env: environ.Env, production: bool) -> AccessConfig:
    health_token = _read(env, "HEALTH_TOKEN", "str", "").strip()
    if health_token and len(health_token) < MIN_HEALTH_TOKEN_LENGTH:
        raise ConfigError(
            f"HEALTH_TOKEN is too short (need at least {MIN_HEALTH_TOKEN_LENGTH} random characters)"
        )
    return AccessConfig(
        health_token=health_token,
        api_docs_public=_read(env, "API_DOCS_PUBLIC", "bool", False),
        trusted_proxies=_trusted_proxies(_read(env, "TRUSTED_PROXIES", "list", [])),
        oidc=_oidc_config(env, production),
    )


def load_config(environ_map: Mapping[str, str]) -> Config:
    """Parse and validate the whole configuration from an environment mapping."""
    env = _env(environ_map)

    app_env = _read(env, "APP_ENV", "str", "development").strip().lower()
    if app_env not in APP_ENVS:
        raise ConfigError(f"APP_ENV={app_env!r} must be one of {', '.join(APP_ENVS)}")
    production = app_env == "production"

    data_dir = Path(_read(env, "DATA_DIR", "str", str(BASE_DIR / "data"))).expanduser()

    app_port = _read(env, "APP_PORT", "int", 8000)
    if not 1 <= app_port <= 65535:
        raise ConfigError(f"APP_PORT={app_port} must be between 1 and 65535")

    cache_ttl = _read(env, "CACHE_TTL", "int", 300)
    if cache_ttl < 0:
        raise ConfigError(f"CACHE_TTL={cache_ttl} must be >= 0 seconds")
    quote_cache_ttl = _read(env, "QUOTE_CACHE_TTL", "int", min(5, cache_ttl))
    if quote_cache_ttl < 0:
        raise ConfigError(f"QUOTE_CACHE_TTL={quote_cache_ttl} must be >= 0 seconds")

    interval = _read(env, "WEBSOCKET_INTERVAL_SECONDS", "float", 5.0)
    if not 0.1 <= interval <= 3600:
        raise ConfigError(
            f"WEBSOCKET_INTERVAL_SECONDS={interval} must be between 0.1 and 3600 seconds"
        )

    symbol = _read(env, "DEFAULT_SYMBOL", "str", "GLD").strip().upper()
    if not SYMBOL_RE.match(symbol):
        raise ConfigError(f"DEFAULT_SYMBOL={symbol!r} is not a ticker symbol")

    raw_provider = _read(env, "MARKET_DATA_PROVIDER", "str", "synthetic")
    try:
        providers = parse_provider_list(raw_provider)  # an ordered failover list: yfinance,cboe
    except ValueError as exc:
        raise ConfigError(
            f"MARKET_DATA_PROVIDER: {exc}; use one or more of {', '.join(PROVIDER_NAMES)}"
        ) from None
    provider = ",".join(providers)
    replay_file = _read(env, "MARKET_REPLAY_FILE", "str", "")
    if "replay" in providers and not replay_file:
        raise ConfigError(
            "MARKET_REPLAY_FILE must name a snapshot file when MARKET_DATA_PROVIDER=replay"
        )

    rate = _read(env, "RISK_FREE_RATE", "float", 0.04)
    if not -0.05 <= rate <= 0.25:
        raise ConfigError(f"RISK_FREE_RATE={rate} must be a decimal rate between -0.05 and 0.25")

    log_level = _read(env, "LOG_LEVEL", "str", "INFO").upper()
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ConfigError(f"LOG_LEVEL={log_level!r} is not a logging level")

    raw_secret = _read(env, "NICEGUI_STORAGE_SECRET", "str", "").strip()
    source = "NICEGUI_STORAGE_SECRET"
    if not raw_secret:
        raw_secret = _read(env, "SECRET_KEY", "str", "").strip()
        source = "SECRET_KEY"

    default_hosts = [] if production else ["localhost", "127.0.0.1", "[::1]", "testserver"]
    allowed_hosts = [
        h.strip() for h in _read(env, "ALLOWED_HOSTS", "list", default_hosts) if h.strip()
    ]

    database_url = _read(env, "DATABASE_URL", "str", f"sqlite:///{data_dir / 'vault_dash.sqlite3'}")
    scheme = urlsplit(database_url).scheme
    if scheme not in SUPPORTED_DATABASE_SCHEMES:
        raise ConfigError(
            f"DATABASE_URL scheme {scheme!r} is not supported; use sqlite:/// or postgres://"
        )

    pool_size = _read(env, "DATABASE_POOL_SIZE", "int", 4)
    if not 0 <= pool_size <= 100:
        raise ConfigError(f"DATABASE_POOL_SIZE={pool_size} must be between 0 and 100")
    pool_timeout = _read(env, "DATABASE_POOL_TIMEOUT", "float", 10.0)
    if not 0.1 <= pool_timeout <= 300:
        raise ConfigError(
            f"DATABASE_POOL_TIMEOUT={pool_timeout} must be between 0.1 and 300 seconds"
        )

    redis_url = _read(env, "REDIS_URL", "str", "").strip()
    if redis_url and urlsplit(redis_url).scheme not in ("redis", "rediss", "unix"):
        raise ConfigError("REDIS_URL must start with redis://, rediss:// or unix://")

    publisher = _read(env, "WEBSOCKET_PUBLISHER", "str", "auto").strip().lower() or "auto"
    if publisher not in ("auto", "embedded", "external"):
        raise ConfigError(
            f"WEBSOCKET_PUBLISHER={publisher!r} must be one of auto, embedded, external"
        )
    layer = _read(env, "WEBSOCKET_CHANNEL_LAYER", "str", "pubsub").strip().lower()
    if layer not in ("pubsub", "core"):
        raise ConfigError(f"WEBSOCKET_CHANNEL_LAYER={layer!r} must be pubsub or core")
    redis_prefix = _read(env, "WEBSOCKET_REDIS_PREFIX", "str", "vault-dash").strip() or "vault-dash"
    if not re.fullmatch(r"[A-Za-z0-9_.\-]{1,40}", redis_prefix):
        raise ConfigError(
            f"WEBSOCKET_REDIS_PREFIX={redis_prefix!r} may hold letters, digits, '.', '_', '-'"
        )

    cfg = Config(
        app_env=app_env,
        app_name=_read(env, "APP_NAME", "str", "Vault Dashboard").strip() or "Vault Dashboard",
        app_port=app_port,
        app_bind_address=_read(env, "APP_BIND_ADDRESS", "str", "127.0.0.1").strip(),
        debug=_read(env, "DEBUG", "bool", False),
        secret_key=raw_secret,
        secret_key_source=source,
        allowed_hosts=allowed_hosts,
        database_url=database_url,
        database_pool_size=pool_size,
        database_pool_timeout=pool_timeout,
        data_dir=data_dir,
        static_root=Path(
            _read(env, "STATIC_ROOT", "str", str(BASE_DIR / "staticfiles"))
        ).expanduser(),
        redis_url=redis_url,
        default_symbol=symbol,
        cache_ttl=cache_ttl,
        quote_cache_ttl=quote_cache_ttl,
        websocket_interval_seconds=interval,
        mount_path=normalise_mount_path(_read(env, "NICEGUI_MOUNT_PATH", "str", "/")),
        cors_origins=_origins(_read(env, "CORS_ORIGINS", "list", [])),
        market_data_provider=provider,
        market_replay_file=replay_file,
        market_seed=_read(env, "MARKET_SEED", "int", 7),
        risk_free_rate=rate,
        app_image=_read(env, "APP_IMAGE", "str", ""),
        app_version=_read(env, "APP_VERSION", "str", ""),
        log_level=log_level,
        secure_ssl_redirect=_read(env, "SECURE_SSL_REDIRECT", "bool", production),
        open_signup=_read(env, "OPEN_SIGNUP", "bool", False),
        secure_hsts_seconds=_read(env, "SECURE_HSTS_SECONDS", "int", 31536000 if production else 0),
        websocket_publisher=publisher,
        websocket_channel_layer=layer,
        websocket_redis_prefix=redis_prefix,
        access=_access_config(env, production),
    )

    if production:
        problems = _production_problems(cfg, raw_secret)
        if problems:
            raise ConfigError("APP_ENV=production refused: " + "; ".join(problems))
        return cfg
    if not raw_secret:
        cfg = replace(cfg, secret_key=_dev_secret(data_dir), secret_key_source="generated")  # nosec B106
    return cfg
