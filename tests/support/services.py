"""Reachability probes for the real services the suite talks to."""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

REQUIRE_SERVICES = os.environ.get("VAULT_REQUIRE_SERVICES") == "1"


def redis_problem(url: str) -> str | None:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        client.close()
    return None


def postgres_problem(url: str) -> str | None:
    import psycopg

    try:
        with psycopg.connect(_libpq(url), connect_timeout=2) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}".splitlines()[0]
    return None


def _libpq(url: str) -> str:
    parts = urlsplit(url)
    return url.replace(f"{parts.scheme}://", "postgresql://", 1)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
