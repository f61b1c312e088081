"""deploy/publisher_health.py (the publisher container's health check) against real Redis."""

from __future__ import annotations

import secrets

import pytest
import redis

from deploy.publisher_health import check, lock_key

pytestmark = pytest.mark.services


def test_lock_key_is_the_one_the_publisher_takes(settings) -> None:
    from portfolio.publisher import key_prefix

    assert lock_key(settings.WEBSOCKET_REDIS_PREFIX) == f"{key_prefix()}:publisher-lock"


def test_healthy_only_while_a_publisher_holds_the_lock(redis_url: str) -> None:
    prefix = f"vault-ci-{secrets.token_hex(4)}"
    client = redis.Redis.from_url(redis_url)
    try:
        ok, message = check(redis_url, prefix)
        assert not ok and "no publisher holds" in message
        client.set(lock_key(prefix), "token", px=3000)  # what a running publisher keeps renewed
        ok, message = check(redis_url, prefix)
        assert ok and "lock held" in message
        client.delete(lock_key(prefix))  # stopped, or stopped renewing and it expired
        assert check(redis_url, prefix)[0] is False
    finally:
        client.delete(lock_key(prefix))
        client.close()


def test_unreachable_or_missing_redis_is_unhealthy() -> None:
    ok, message = check("redis://127.0.0.1:9/0", "vault-dash")
    assert not ok and "Redis unreachable" in message
    ok, message = check("", "vault-dash")
    assert not ok and "REDIS_URL is empty" in message
