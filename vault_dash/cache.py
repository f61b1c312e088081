"""A Redis cache backend that degrades to no-cache mode instead of failing requests.

Django's ``RedisCache`` raises ``redis.exceptions.ConnectionError`` from every call when the
server is down. Here each call catches Redis errors, logs once per outage, answers as an empty
cache would (a miss, a write that did not happen) and skips Redis entirely for a short back-off
so that a dead server does not add a connect timeout to every request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

RETRY_AFTER_SECONDS = 2.0


def _degrade(default: Any) -> Callable[[F], F]:
    def decorator(method: F) -> F:
        @wraps(method)
        def wrapper(self: ResilientRedisCache, *args: Any, **kwargs: Any) -> Any:
            if self._down_until > time.monotonic():
                return default(args, kwargs) if callable(default) else default
            try:
                result = method(self, *args, **kwargs)
            except (RedisError, OSError) as exc:
                self._mark_down(exc)
                return default(args, kwargs) if callable(default) else default
            if self._down_since is not None:
                logger.warning("Redis cache is reachable again; caching resumed")
                self._down_since = None
            return result

        return wrapper  # type: ignore[return-value]

    return decorator


def _get_default(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if "default" in kwargs:
        return kwargs["default"]
    return args[1] if len(args) > 1 else None


class ResilientRedisCache(RedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._down_until = 0.0
        self._down_since: float | None = None

    def _mark_down(self, exc: Exception) -> None:
        now = time.monotonic()
        if self._down_since is None:
            self._down_since = now
            logger.warning("Redis cache unreachable, serving without cache: %s", exc)
        self._down_until = now + RETRY_AFTER_SECONDS

    @property
    def degraded(self) -> bool:
        return self._down_since is not None

    def ping(self) -> None:
        """Raise if the server cannot be reached (used by the health check, never degraded)."""
        self._cache.get_client(write=False).ping()

    get = _degrade(_get_default)(RedisCache.get)
    set = _degrade(None)(RedisCache.set)
    add = _degrade(False)(RedisCache.add)
    touch = _degrade(False)(RedisCache.touch)
    delete = _degrade(False)(RedisCache.delete)
    get_many = _degrade({})(RedisCache.get_many)
    set_many = _degrade(lambda args, kwargs: list(args[0]) if args else [])(RedisCache.set_many)
    delete_many = _degrade(None)(RedisCache.delete_many)
    has_key = _degrade(False)(RedisCache.has_key)
    clear = _degrade(None)(RedisCache.clear)
