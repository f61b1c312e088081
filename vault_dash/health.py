"""Dependency checks behind ``/health``.

Each check returns ``{"ok": bool, "backend": str, "latency_ms": float, ...}`` and never raises.
The overall status is ``error`` when the database is down (nothing works without it),
``degraded`` when anything else is (the app still serves, e.g. without cache), else ``ok``.

The checks' details (backends, latencies, error texts naming hosts and ports) go only to
callers who may see them (:func:`may_see_details`); anyone else gets the status alone, which
is all a load balancer or the deploy's poller needs.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import time
from collections.abc import Callable
from typing import Any, cast

from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connection
from django.http import HttpRequest

import vault_dash
from accounts.auth import is_authenticated_caller
from accounts.clientip import is_direct_loopback

STARTED_AT = time.monotonic()

CheckResult = dict[str, Any]


def _timed(check: Callable[[], CheckResult]) -> CheckResult:
    start = time.perf_counter()
    try:
        result = check()
        result.setdefault("ok", True)
    except Exception as exc:  # a health check reports failures, it never raises them
        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}".strip()[:300]}
    result["latency_ms"] = round((time.perf_counter() - start) * 1000, 2)
    return result


# With a connection pool, a request waits DATABASE_POOL_TIMEOUT (10 s) for a connection; /health
# must answer sooner than the deploy's poller gives up on it, so it asks the pool with its own.
DB_CHECK_TIMEOUT_S = 3.0


def check_database() -> CheckResult:
    def run() -> CheckResult:
        pool = getattr(connection, "pool", None) if connection.vendor == "postgresql" else None
        if pool is not None and connection.connection is None:
            pool.open()  # a no-op once open; Django opens it on the first query otherwise
            conn = pool.getconn(timeout=DB_CHECK_TIMEOUT_S)
            try:
                conn.execute("SELECT 1")
            finally:
                pool.putconn(conn)
            return {"backend": connection.vendor}
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return {"backend": connection.vendor}

    result = _timed(run)
    result.setdefault("backend", connection.vendor)
    if not result["ok"]:
        # Drop the broken connection so the next request reconnects instead of reusing it.
        with contextlib.suppress(Exception):  # closing a dead connection may itself fail
            connection.close()
    return result


def check_cache() -> CheckResult:
    backend = type(cache).__name__

    def run() -> CheckResult:
        ping = getattr(cache, "ping", None)
        if ping is not None:
            ping()
            return {"backend": "redis"}
        key = "health:probe"
        cache.set(key, "1", 5)
        if cache.get(key) != "1":
            return {"ok": False, "backend": "locmem", "error": "value written was not read back"}
        return {"backend": "locmem"}

    result = _timed(run)
    result.setdefault("backend", "redis" if settings.REDIS_URL else backend)
    return result


def check_channel_layer() -> CheckResult:
    layer = get_channel_layer()
    name = type(layer).__name__ if layer is not None else "none"

    def run() -> CheckResult:
        if layer is None:
            return {"ok": False, "backend": name, "error": "no channel layer configured"}
        if "Redis" not in name:
            return {"backend": name, "scope": "single process"}
        import redis

        layer_config = cast(dict[str, Any], settings.CHANNEL_LAYERS["default"].get("CONFIG", {}))
        hosts = layer_config.get("hosts") or [settings.REDIS_URL]
        for host in hosts:
            address = host["address"] if isinstance(host, dict) else host
            client = redis.Redis.from_url(address, socket_connect_timeout=0.5, socket_timeout=0.5)
            try:
                client.ping()
            finally:
                client.close()
        return {"backend": name, "scope": "shared"}

    result = _timed(run)
    result.setdefault("backend", name)
    return result


def check_market_data() -> CheckResult:
    from marketdata.service import get_market_service

    return _timed(lambda: get_market_service().health())


def health_report() -> tuple[dict[str, Any], int]:
    """The ``/health`` body and its HTTP status."""
    checks = {
        "database": check_database(),
        "cache": check_cache(),
        "channel_layer": check_channel_layer(),
        "market_data": check_market_data(),
    }
    if not checks["database"]["ok"]:
        status, http_status = "error", 503
    elif all(c["ok"] for c in checks.values()):
        status, http_status = "ok", 200
    else:
        status, http_status = "degraded", 200
    body = {
        "status": status,
        "app": settings.APP_NAME,
        "env": settings.APP_ENV,
        "version": settings.APP_VERSION or vault_dash.__version__,
        "image": settings.APP_IMAGE or None,
        "uptime_s": round(time.monotonic() - STARTED_AT, 1),
        "checks": checks,
    }
    return body, http_status


def may_see_details(request: HttpRequest) -> bool:
    """Loopback callers (not through a proxy), ``X-Health-Token`` holders, and logged-in users
    or API-token holders. Checked in that order: the first two need no database, which may be
    the very thing that is down."""
    if is_direct_loopback(request):
        return True
    expected = getattr(settings, "HEALTH_TOKEN", "")
    offered = request.headers.get("X-Health-Token", "")
    # Digests of equal length, so the comparison's time says nothing about the token's length.
    if expected and offered and hmac.compare_digest(_digest(offered), _digest(expected)):
        return True
    try:
        return is_authenticated_caller(request)
    except DatabaseError:
        return False


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


def public_body(body: dict[str, Any]) -> dict[str, Any]:
    """What an anonymous caller learns: the status, nothing about the infrastructure."""
    return {"status": body["status"]}
