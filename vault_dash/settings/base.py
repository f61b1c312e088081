"""Django settings for Vault Dashboard.

Every value comes from the environment (and an optional ``.env`` file) through
:mod:`vault_dash.config`; this module only maps the typed config onto Django's names. A bad or
unsafe value stops start-up with one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from typing import Any

import django_stubs_ext
import environ
from csp.constants import NONE, SELF, UNSAFE_INLINE

from vault_dash.config import BASE_DIR, ConfigError, load_config

# Lets typed generics such as ``admin.TabularInline[Position, Portfolio]`` work at runtime.
django_stubs_ext.monkeypatch()

_env_file = os.environ.get("ENV_FILE", str(BASE_DIR / ".env"))
if os.path.isfile(_env_file):
    # Real environment variables win over the file (12-factor).
    environ.Env.read_env(_env_file, overwrite=False)

try:
    CONFIG = load_config(os.environ)
except ConfigError as exc:
    sys.stderr.write(f"vault-dash: configuration error: {exc}\n")
    raise SystemExit(2) from None

APP_ENV = CONFIG.app_env
APP_NAME = CONFIG.app_name
DEBUG = CONFIG.debug
SECRET_KEY = CONFIG.secret_key
ALLOWED_HOSTS = CONFIG.allowed_hosts
DATA_DIR = CONFIG.data_dir

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "corsheaders",
    "channels",
    "django_htmx",
    "template_partials",
    "ninja",
    "axes",
    "vault_dash",
    "core",
    "accounts",
    "marketdata",
    "portfolio",
    "strategies",
    "alerts",
]

MIDDLEWARE = [
    # Outermost, so every error under /api/ leaves as JSON, whichever layer made it.
    "vault_dash.middleware.ApiErrorMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Sync-only, so deep in the stack: under daphne (ASGI) Django then runs every middleware
    # above it synchronously in one request thread. Near the top it left the ones below in
    # async mode, each hopping to a thread and back per hook: 280 → 460 req/s on a bare view.
    "vault_dash.middleware.DatabaseUnavailableMiddleware",
    # Last, as django-axes asks: it turns lockouts raised during login into responses.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "vault_dash.urls"
WSGI_APPLICATION = "vault_dash.wsgi.application"
ASGI_APPLICATION = "vault_dash.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "vault_dash.context_processors.app",
            ],
        },
    }
]

# --- Database ---------------------------------------------------------------------------
# https://docs.djangoproject.com/en/5.2/ref/settings/#databases
DATABASES = {"default": environ.Env.db_url_config(CONFIG.database_url)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    # WAL lets the publisher read while a request writes; busy timeout instead of "locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 10, "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"}
    )
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    _pg_options = DATABASES["default"].setdefault("OPTIONS", {})
    _pg_options.setdefault("connect_timeout", 3)
    # Under daphne every request runs in a thread of its own, so persistent connections
    # (CONN_MAX_AGE > 0) were left behind one per finished thread: 45 from 4 clients, then
    # "too many clients". A psycopg pool per process bounds them at DATABASE_POOL_SIZE; a
    # request waits up to DATABASE_POOL_TIMEOUT for a free one, then gets a 503. Size 0 opens
    # and closes one connection per request (for an external pooler such as PgBouncer).
    # Measured in bench/bench_db_pool.py (docs/benchmarks.md#database-connections).
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # With a pool: a connection broken by a PostgreSQL restart is replaced, not handed out.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    if CONFIG.database_pool_size:
        _pg_options["pool"] = {
            "min_size": 1,
            "max_size": CONFIG.database_pool_size,
            "timeout": CONFIG.database_pool_timeout,
        }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and channel layer ------------------------------------------------------------
REDIS_URL = CONFIG.redis_url
CACHE_TTL = CONFIG.cache_ttl
QUOTE_CACHE_TTL = CONFIG.quote_cache_ttl
# Live-update publisher (docs/websocket.md): "embedded" runs it inside the server process,
# "external" expects `manage.py run_publisher`; "auto" = embedded without Redis, else external.
WEBSOCKET_PUBLISHER = CONFIG.websocket_publisher
# Namespace of the channel layer, publisher lock and subscription registry in a shared Redis.
WEBSOCKET_REDIS_PREFIX = CONFIG.websocket_redis_prefix
WEBSOCKET_CHANNEL_LAYER = CONFIG.websocket_channel_layer
CHANNEL_LAYERS: dict[str, dict[str, Any]]
if REDIS_URL:
    CACHES = {
        "default": {
            # Redis that is down must not fail requests: this backend degrades to no-cache.
            "BACKEND": "vault_dash.cache.ResilientRedisCache",
            "LOCATION": REDIS_URL,
            "TIMEOUT": CACHE_TTL,
            "KEY_PREFIX": "vault-dash",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    # redis-py 8 defaults socket_timeout to 5 s, which aborts the core layer's blocking 5 s
    # BZPOPMIN and tears every consumer down (django/channels_redis#422): read timeout above
    # that. The pub/sub layer polls with 0.1 s reads, so the value only bounds a hung Redis.
    _layer_host = {"address": REDIS_URL, "socket_timeout": 15, "socket_connect_timeout": 2}
    if WEBSOCKET_CHANNEL_LAYER == "pubsub":
        # Measured side by side in bench/bench_ws.py (docs/websocket.md#channel-layer): pub/sub
        # costs 9-17 µs CPU per recipient against 63-106 µs for core, its group_send is one
        # PUBLISH whatever the audience, and its consumers survive a Redis restart (core's
        # close with 1011). At-most-once delivery: a tick lost in a blip is replaced by the
        # next; no per-consumer capacity, but consumers never block and daphne's ping timeout
        # closes clients that stop reading.
        CHANNEL_LAYERS = {
            "default": {
                "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
                "CONFIG": {"hosts": [_layer_host], "prefix": f"{WEBSOCKET_REDIS_PREFIX}:asgi"},
            }
        }
    else:
        # The core layer batches one message per server process per group_send. `capacity`
        # bounds what a stuck consumer holds (older messages dropped); `expiry` drops updates
        # nobody picked up within 10 s (stale by then); `group_expiry` is short because
        # consumers re-join every minute, so a crashed process's members stop costing sends
        # within 5 minutes.
        CHANNEL_LAYERS = {
            "default": {
                "BACKEND": "channels_redis.core.RedisChannelLayer",
                "CONFIG": {
                    "hosts": [_layer_host],
                    "prefix": f"{WEBSOCKET_REDIS_PREFIX}:asgi",
                    "capacity": 100,
                    "expiry": 10,
                    "group_expiry": 300,
                },
            }
        }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "vault-dash",
            "TIMEOUT": CACHE_TTL,
        }
    }
    # Single process only: the embedded publisher runs inside the server (docs/websocket.md).
    # Channels' in-memory layer with an O(N) instead of O(N²) broadcast (portfolio/layers.py).
    CHANNEL_LAYERS = {"default": {"BACKEND": "portfolio.layers.FanoutInMemoryChannelLayer"}}

# Sessions live in the database so a Redis outage never logs anyone out.
SESSION_ENGINE = "django.contrib.sessions.backends.db"

# --- App settings -----------------------------------------------------------------------
DEFAULT_SYMBOL = CONFIG.default_symbol
WEBSOCKET_INTERVAL_SECONDS = CONFIG.websocket_interval_seconds
NICEGUI_MOUNT_PATH = CONFIG.mount_path
MARKET_DATA_PROVIDER = CONFIG.market_data_provider
MARKET_REPLAY_FILE = CONFIG.market_replay_file
MARKET_SEED = CONFIG.market_seed
RISK_FREE_RATE = CONFIG.risk_free_rate
APP_IMAGE = CONFIG.app_image
APP_VERSION = CONFIG.app_version

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "portfolio:dashboard"
LOGOUT_REDIRECT_URL = "login"
# Private pages need a login in production; the embedded default shows the demo anonymously.
LOGIN_REQUIRED = CONFIG.is_production
# Anyone may create an account at /accounts/signup/ only when this is on; otherwise accounts come
# from invitation links (accounts.Invitation) or manage.py commands.
OPEN_SIGNUP = CONFIG.open_signup

# --- Security ---------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    # django-axes first: it refuses logins while an IP/username pair is locked out.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Login throttling: 5 failures for the same username from the same IP lock that pair out for
# 15 minutes; attempts are kept in the database (a Redis outage must not disable the lock).
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
# Behind a proxy the client is what a trusted proxy forwarded, never what a client claims.
AXES_CLIENT_IP_CALLABLE = "accounts.clientip.client_ip"
TRUSTED_PROXIES = CONFIG.access.trusted_proxies
# /health details for callers without a login (monitoring); compared in constant time.
HEALTH_TOKEN = CONFIG.access.health_token
API_DOCS_PUBLIC = CONFIG.access.api_docs_public
# Optional OpenID Connect sign-in beside local accounts (accounts/oidc.py, mozilla-django-oidc).
if CONFIG.access.oidc is not None:
    AUTHENTICATION_BACKENDS.append("accounts.oidc.OidcBackend")
    OIDC_ISSUER = CONFIG.access.oidc.issuer
    OIDC_PROVIDER_NAME = CONFIG.access.oidc.provider_name
    OIDC_RP_CLIENT_ID = CONFIG.access.oidc.client_id
    OIDC_RP_CLIENT_SECRET = CONFIG.access.oidc.client_secret
    OIDC_RP_SIGN_ALGO = CONFIG.access.oidc.sign_algo
    OIDC_RP_SCOPES = CONFIG.access.oidc.scopes
    OIDC_CREATE_USER = CONFIG.access.oidc.create_users
    OIDC_USE_PKCE = True
    OIDC_STORE_ID_TOKEN = True  # the id_token_hint of the logout at the provider
    OIDC_TIMEOUT = 10

# Content Security Policy (django-csp): no inline script anywhere; the pages load htmx and the
# live-update script from /static/. Inline style attributes are allowed for the SVG charts.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
CORS_ALLOWED_ORIGINS = CONFIG.cors_origins
CORS_ALLOW_CREDENTIALS = bool(CONFIG.cors_origins)
CSRF_TRUSTED_ORIGINS = CONFIG.cors_origins
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
if CONFIG.is_production:
    # TLS terminates at the reverse proxy (Caddy), which sets X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = CONFIG.secure_ssl_redirect
    # The deploy health check talks plain HTTP to the container on loopback.
    SECURE_REDIRECT_EXEMPT = [r"^health(/live)?$"]
    SECURE_HSTS_SECONDS = CONFIG.secure_hsts_seconds
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # HSTS preload is a public, hard-to-undo commitment that makes no sense for a host behind
    # a VPN; the deployment guide explains how to opt in.
    SILENCED_SYSTEM_CHECKS = ["security.W021"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- I18N, static -----------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = CONFIG.static_root
# Embedded runs serve straight from static/ without collectstatic; the image collects at build.
WHITENOISE_USE_FINDERS = not CONFIG.is_production
if not CONFIG.is_production:
    STATIC_ROOT.mkdir(
        parents=True, exist_ok=True
    )  # WhiteNoise warns about a missing root otherwise
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if CONFIG.is_production
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# --- E-mail ------------------------------------------------------------------------------
# Alert e-mail (docs/alerts.md): Django's SMTP backend, configured from the environment.
_mail = environ.Env()
EMAIL_BACKEND = _mail.str("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = _mail.str("EMAIL_HOST", default="")  # empty: e-mail alerts report "not configured"
EMAIL_PORT = _mail.int("EMAIL_PORT", default=587)
EMAIL_HOST_USER = _mail.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = _mail.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = _mail.bool("EMAIL_USE_TLS", default=True)
EMAIL_USE_SSL = _mail.bool("EMAIL_USE_SSL", default=False)
EMAIL_TIMEOUT = _mail.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = _mail.str("DEFAULT_FROM_EMAIL", default="vault-dash@localhost")

# --- Logging ----------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": CONFIG.log_level},
    "loggers": {
        "django.request": {"level": "ERROR"},
        "daphne": {"level": "WARNING"},
    },
}
