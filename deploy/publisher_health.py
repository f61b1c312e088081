"""Health check of the ``publisher`` container (it serves no HTTP, so the image's probe of
``/health/live`` would always fail for it).

Healthy when Redis answers and some publisher holds the leader lock
(``<WEBSOCKET_REDIS_PREFIX>:ws:publisher-lock``, renewed every second, expiring after three):
that is the observable effect of a working publisher. A standby replica beside a healthy
leader is healthy too; a publisher that lost Redis or stopped renewing is not.

    python -m deploy.publisher_health        # exit 0 healthy, 1 not, with one line either way

Reads REDIS_URL and WEBSOCKET_REDIS_PREFIX from the environment (the container's .env), no
Django start-up: it runs every health-check interval.
"""

from __future__ import annotations

import os
import sys


def lock_key(prefix: str) -> str:
    # Must match portfolio.publisher.key_prefix() + ":publisher-lock".
    return f"{prefix}:ws:publisher-lock"


def check(url: str, prefix: str) -> tuple[bool, str]:
    if not url:
        return False, "REDIS_URL is empty: the publisher needs Redis"
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
        ttl_ms = client.pttl(lock_key(prefix))
    except redis.RedisError as exc:
        return False, f"Redis unreachable: {type(exc).__name__}: {exc}"
    finally:
        client.close()
    if ttl_ms is None or ttl_ms < 0:
        return False, f"no publisher holds {lock_key(prefix)}"
    return True, f"publisher lock held ({ttl_ms} ms left)"


def main() -> int:
    ok, message = check(
        os.environ.get("REDIS_URL", ""), os.environ.get("WEBSOCKET_REDIS_PREFIX", "vault-dash")
    )
    print(f"publisher health: {message}", file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
