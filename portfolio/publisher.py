"""The live-update publisher: one computation per subscribed topic per tick, fanned out.

Every ``WEBSOCKET_INTERVAL_SECONDS`` the publisher asks the subscription registry which topics
have at least one live WebSocket subscriber, computes each topic's snapshot once (the compute
function is a dependency; by default :func:`portfolio.services.live_snapshot`), serialises it to
JSON once, and ``group_send``s the ready text to the topic's group. Consumers forward the text
verbatim, so the per-recipient cost is the channel layer's, never a valuation or a JSON dump.

A topic is a symbol (``"GLD"``: the shared demo portfolio, what anonymous visitors see) or a
symbol of one private portfolio (``"GLD.p42"``), which only users allowed to see portfolio 42
can subscribe to (the consumer checks with ``services.resolve_portfolio``).

Two deployments (see ``docs/websocket.md``):

* **embedded** (in-memory channel layer, one daphne process): the consumer starts the publisher
  lazily as a task in the server's event loop on the first connect (daphne implements no ASGI
  lifespan, so there is no start-up hook to hang it on).
* **external** (Redis channel layer, several processes): ``manage.py run_publisher`` runs it as
  its own process. A Redis lock with expiry (``SET NX PX`` + token-checked renewal) keeps exactly
  one publisher active; a standby polls the lock and takes over within ``LOCK_TTL_S`` +
  ``LOCK_POLL_S`` seconds when the active one dies.

The registry is shared state too: in Redis a sorted set per topic of the server processes that
have subscribers for it, scored by an expiry time each process refreshes (:class:`LocalTopics`),
so a crashed server's topics age out and a Redis restart is repaired within seconds.

Once a day, after the 16:00 New York cut-off, the active publisher also takes expired options
off the books (:mod:`portfolio.expiry`; ``manage.py process_expiries`` does the same), records
each book's value at the close in its value history (:mod:`portfolio.history`, catching up
missed days; ``manage.py backfill_history`` does the same) and, on trading days, records each
tracked symbol's 30-day ATM implied vol (:mod:`marketdata.ivrecord`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
import weakref
from collections.abc import Awaitable, Callable, Iterable
from datetime import date, datetime
from typing import Any, Protocol

from channels.db import database_sync_to_async
from channels.layers import BaseChannelLayer, get_channel_layer
from django.conf import settings
from django.utils import timezone

from core.loops import PerLoop
from core.numbers import json_safe
from portfolio import expiry

logger = logging.getLogger(__name__)

GROUP_PREFIX = "updates."
HISTORY_CATCH_UP_DAYS = 10  # daily closes the once-a-day history record looks back over
EVENT_TYPE = "portfolio.update"

# Consumers re-join their groups this often (sessions: portfolio/session_guard.py).
REFRESH_S = 60.0
# Each server process re-registers the topics it has subscribers for this often; entries live
# three times longer, so one missed refresh is harmless, a dead server's topics stop being
# computed within 15 s, and a Redis that restarted empty is repopulated within 5 s.
REGISTRY_REFRESH_S = 5.0
SUBSCRIPTION_TTL_S = 3 * REGISTRY_REFRESH_S
# Lock lease: a dead publisher is replaced within LOCK_TTL_S + LOCK_POLL_S.
LOCK_TTL_S = 3.0
LOCK_POLL_S = 0.5

# compute(symbol, portfolio_id): portfolio_id None means the shared demo portfolio.
ComputeFn = Callable[[str, int | None], dict[str, Any]]


def topic_key(symbol: str, portfolio_id: int | None = None) -> str:
    return symbol if portfolio_id is None else f"{symbol}.p{portfolio_id}"


def parse_topic(topic: str) -> tuple[str, int | None]:
    """Inverse of :func:`topic_key` (symbols are upper case, so ``.p<digits>`` is unambiguous)."""
    symbol, sep, pid = topic.rpartition(".p")
    if sep and symbol and pid.isdigit():
        return symbol, int(pid)
    return topic, None


def group_name(topic: str) -> str:
    """The channel-layer group of one topic (``[A-Z0-9.-]`` plus ``.p<id>``: valid names)."""
    return f"{GROUP_PREFIX}{topic}"


def default_compute(symbol: str, portfolio_id: int | None = None) -> dict[str, Any]:
    from portfolio.models import Portfolio
    from portfolio.services import live_snapshot

    if portfolio_id is None:
        return live_snapshot(symbol)
    return live_snapshot(symbol, Portfolio.objects.get(pk=portfolio_id))


KPI_TEMPLATE = "portfolio/_kpis.html"
RenderFn = Callable[[dict[str, Any]], str]


def render_kpis(payload: dict[str, Any]) -> str:
    """The dashboard's KPI cards for this snapshot: the same partial the HTTP view renders."""
    from django.template.loader import render_to_string

    return render_to_string(KPI_TEMPLATE, {"snap": payload})


def encode_update(payload: dict[str, Any], kpis_html: str | None = None) -> str:
    """The exact text frame clients receive: ``{"type": "portfolio_update", ...payload}``."""
    body = {"type": "portfolio_update", **json_safe(payload)}
    if kpis_html is not None:
        body["kpis_html"] = kpis_html
    return json.dumps(body, allow_nan=False, separators=(",", ":"))


def uses_redis() -> bool:
    backend = str(settings.CHANNEL_LAYERS.get("default", {}).get("BACKEND", ""))
    return backend.startswith("channels_redis") and bool(settings.REDIS_URL)


def publisher_mode() -> str:
    """``embedded`` or ``external`` (``WEBSOCKET_PUBLISHER``; ``auto`` picks by channel layer)."""
    mode = getattr(settings, "WEBSOCKET_PUBLISHER", "auto")
    if mode == "auto":
        return "external" if uses_redis() else "embedded"
    return str(mode)


def key_prefix() -> str:
    return f"{getattr(settings, 'WEBSOCKET_REDIS_PREFIX', 'vault-dash')}:ws"


# --- Subscription registry -------------------------------------------------------------------


class Registry(Protocol):
    async def add(self, topic: str, channel: str) -> None: ...
    async def remove(self, topic: str, channel: str) -> None: ...
    async def refresh(self, topics: Iterable[str], channel: str) -> None: ...
    async def active_topics(self) -> list[str]: ...
    async def set_last(self, topic: str, text: str, ttl_s: float) -> None: ...
    async def get_last(self, topic: str) -> str | None: ...


class MemoryRegistry:
    """Single-process registry (embedded default, tests)."""

    def __init__(self) -> None:
        self._subs: dict[str, dict[str, float]] = {}
        self._last: dict[str, tuple[float, str]] = {}

    async def add(self, topic: str, channel: str) -> None:
        self._subs.setdefault(topic, {})[channel] = time.monotonic() + SUBSCRIPTION_TTL_S

    async def remove(self, topic: str, channel: str) -> None:
        members = self._subs.get(topic)
        if members is not None:
            members.pop(channel, None)
            if not members:
                del self._subs[topic]

    async def refresh(self, topics: Iterable[str], channel: str) -> None:
        for topic in topics:
            await self.add(topic, channel)

    async def active_topics(self) -> list[str]:
        now = time.monotonic()
        active = []
        for topic in list(self._subs):
            members = self._subs[topic]
            for channel in [c for c, exp in members.items() if exp < now]:
                del members[channel]
            if members:
                active.append(topic)
            else:
                del self._subs[topic]
        return sorted(active)

    async def set_last(self, topic: str, text: str, ttl_s: float) -> None:
        self._last[topic] = (time.monotonic() + ttl_s, text)

    async def get_last(self, topic: str) -> str | None:
        entry = self._last.get(topic)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]


# Drops expired members of every topic's set and forgets topics without members, atomically,
# so a subscriber added concurrently is never lost (ZADD+SADD run in one MULTI).
_ACTIVE_LUA = """
local topics = redis.call('SMEMBERS', KEYS[1])
local active = {}
for _, topic in ipairs(topics) do
  local key = ARGV[2] .. topic
  redis.call('ZREMRANGEBYSCORE', key, '-inf', ARGV[1])
  if redis.call('ZCARD', key) > 0 then
    table.insert(active, topic)
  else
    redis.call('SREM', KEYS[1], topic)
  end
end
return active
"""


class _PerLoopRedis:
    """redis.asyncio clients are bound to the loop that created them: keep one per loop."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._clients = PerLoop(self._connect)

    def client(self) -> Any:
        return self._clients.get()

    def _connect(self) -> Any:
        import redis.asyncio as aioredis

        # A bounded pool that waits for a free connection: a burst of connects (a server
        # restart) must queue, not fail with redis-py's "Too many connections".
        pool = aioredis.BlockingConnectionPool.from_url(
            self.url,
            max_connections=16,
            timeout=5,
            socket_connect_timeout=2,
            socket_timeout=2,
            health_check_interval=30,
        )
        return aioredis.Redis(connection_pool=pool)


class RedisRegistry:
    def __init__(self, url: str, prefix: str) -> None:
        self._redis = _PerLoopRedis(url)
        self.prefix = prefix

    def _subs_key(self, topic: str = "") -> str:
        return f"{self.prefix}:subs:{topic}"

    async def add(self, topic: str, channel: str) -> None:
        await self.refresh([topic], channel)

    async def remove(self, topic: str, channel: str) -> None:
        await self._redis.client().zrem(self._subs_key(topic), channel)

    async def refresh(self, topics: Iterable[str], channel: str) -> None:
        expires = time.time() + SUBSCRIPTION_TTL_S
        async with self._redis.client().pipeline(transaction=True) as pipe:
            for topic in topics:
                pipe.zadd(self._subs_key(topic), {channel: expires})
                pipe.expire(self._subs_key(topic), int(SUBSCRIPTION_TTL_S) + 60)
                pipe.sadd(f"{self.prefix}:topics", topic)
            await pipe.execute()

    async def active_topics(self) -> list[str]:
        raw = await self._redis.client().eval(
            _ACTIVE_LUA, 1, f"{self.prefix}:topics", time.time(), self._subs_key()
        )
        return sorted(s.decode() if isinstance(s, bytes) else str(s) for s in raw)

    async def set_last(self, topic: str, text: str, ttl_s: float) -> None:
        await self._redis.client().set(
            f"{self.prefix}:last:{topic}", text, px=max(1, int(ttl_s * 1000))
        )

    async def get_last(self, topic: str) -> str | None:
        raw = await self._redis.client().get(f"{self.prefix}:last:{topic}")
        return raw.decode() if isinstance(raw, bytes) else raw


_memory_registry = MemoryRegistry()
_redis_registries: dict[tuple[str, str], RedisRegistry] = {}


def get_registry() -> Registry:
    if not uses_redis():
        return _memory_registry
    key = (settings.REDIS_URL, key_prefix())
    if key not in _redis_registries:
        _redis_registries[key] = RedisRegistry(*key)
    return _redis_registries[key]


class LocalTopics:
    """This process's subscribers per topic, mirrored into the registry as one entry per process.

    The registry then holds one member per (topic, server process) instead of one per
    connection: registering costs a Redis write only for a process's first subscriber to a
    topic, and a background task re-registers every ``REGISTRY_REFRESH_S``.
    """

    def __init__(self) -> None:
        self.process_id = f"proc-{uuid.uuid4().hex}"
        self.members: dict[str, set[str]] = {}
        self._task: asyncio.Task[None] | None = None

    async def add(self, topic: str, channel: str) -> None:
        first = topic not in self.members
        self.members.setdefault(topic, set()).add(channel)
        if first:
            try:
                await get_registry().add(topic, self.process_id)
            except Exception as exc:  # the refresh task registers it once Redis answers
                logger.warning("could not register WebSocket topic %s: %s", topic, exc)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._refresh(), name="ws-topics")

    async def remove(self, topic: str, channel: str) -> None:
        channels = self.members.get(topic)
        if channels is None:
            return
        channels.discard(channel)
        if not channels:
            del self.members[topic]
            await get_registry().remove(topic, self.process_id)

    async def _refresh(self) -> None:
        while True:
            await asyncio.sleep(REGISTRY_REFRESH_S)
            try:
                await get_registry().refresh(list(self.members), self.process_id)
            except Exception as exc:  # Redis down: the next round repairs it
                logger.warning("could not refresh WebSocket topics: %s", exc)


_local_topics = PerLoop(LocalTopics)


def local_topics() -> LocalTopics:
    """The topic bookkeeping of the running event loop (one per server process)."""
    return _local_topics.get()


# --- Leader lock -----------------------------------------------------------------------------

_RENEW_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class RedisLock:
    """A lease: ``SET key token NX PX ttl``, renewed and released only by its holder."""

    def __init__(self, url: str, key: str, ttl_s: float = LOCK_TTL_S) -> None:
        self._redis = _PerLoopRedis(url)
        self.key = key
        self.ttl_ms = int(ttl_s * 1000)
        self.token = uuid.uuid4().hex

    async def acquire(self) -> bool:
        ok = await self._redis.client().set(self.key, self.token, nx=True, px=self.ttl_ms)
        return bool(ok)

    async def renew(self) -> bool:
        ok = await self._redis.client().eval(_RENEW_LUA, 1, self.key, self.token, self.ttl_ms)
        return bool(ok)

    async def release(self) -> None:
        await self._redis.client().eval(_RELEASE_LUA, 1, self.key, self.token)


# --- Publisher -------------------------------------------------------------------------------


class Publisher:
    """Publishes each subscribed symbol's snapshot once per tick while it holds the lock."""

    def __init__(
        self,
        compute: ComputeFn | None = None,
        *,
        render: RenderFn | None = render_kpis,
        channel_layer: BaseChannelLayer | None = None,
        registry: Registry | None = None,
        interval_s: float | None = None,
        lock: RedisLock | None = None,
        process_expiries: bool = False,
        on_tick: Callable[[], Awaitable[None]] | None = None,
        record_iv: bool = False,
    ) -> None:
        self.compute = compute or default_compute
        self.process_expiries = process_expiries
        self.expiries_done: date | None = None
        self.record_iv = record_iv
        self.iv_done: date | None = None
        self.on_tick = on_tick  # alerts: evaluated once per tick by the one active publisher
        self.render = render
        self.channel_layer = channel_layer
        self.registry = registry or get_registry()
        self.interval_s = float(interval_s or settings.WEBSOCKET_INTERVAL_SECONDS)
        self.lock = lock
        self.leader = lock is None
        self.ticks = 0
        self.published = 0

    @classmethod
    def from_settings(cls, compute: ComputeFn | None = None) -> Publisher:
        lock = None
        if uses_redis():
            lock = RedisLock(settings.REDIS_URL, f"{key_prefix()}:publisher-lock")
        from alerts.hooks import on_tick

        return cls(compute, lock=lock, process_expiries=True, on_tick=on_tick, record_iv=True)

    def _layer(self) -> BaseChannelLayer:
        if self.channel_layer is None:
            layer = get_channel_layer()
            if layer is None:
                raise RuntimeError("no channel layer configured (settings.CHANNEL_LAYERS)")
            self.channel_layer = layer
        return self.channel_layer

    async def publish_topic(self, topic: str) -> str | None:
        """Compute, encode and fan out one topic; returns the text sent (None on failure)."""
        try:
            text = await database_sync_to_async(self._compute_text)(topic)
        except Exception:
            # One topic's failure (provider down, bad data) must not stop the others.
            logger.exception("live update for %s failed", topic)
            return None
        if not self.leader:  # lost the lease while computing: the new leader publishes
            return None
        await self._layer().group_send(group_name(topic), {"type": EVENT_TYPE, "text": text})
        await self.registry.set_last(topic, text, ttl_s=max(3 * self.interval_s, 10.0))
        self.published += 1
        return text

    def _compute_text(self, topic: str) -> str:
        """Runs in a worker thread: valuation, template and JSON stay off the event loop."""
        symbol, portfolio_id = parse_topic(topic)
        payload = self.compute(symbol, portfolio_id)
        html = None
        if self.render is not None:
            try:
                html = self.render(payload)
            except Exception:  # the numbers still go out; the page keeps its last cards
                logger.exception("rendering the KPI cards for %s failed", topic)
        return encode_update(payload, html)

    async def tick(self) -> list[str]:
        topics = await self.registry.active_topics()
        for topic in topics:
            await self.publish_topic(topic)
        if self.on_tick is not None and self.leader:
            try:
                await self.on_tick()
            except Exception:  # alerts must never stop the live updates
                logger.exception("alerts tick failed")
        self.ticks += 1
        if self.process_expiries:
            await self.daily_expiries()
        if self.record_iv and self.leader:
            await self.daily_iv()
        return topics

    async def daily_iv(self, now: datetime | None = None) -> bool:
        """After the 16:00 New York close of a trading day, once: store each tracked symbol's
        IV30 for the day (:func:`marketdata.ivrecord.record_all`; idempotent in the database)."""
        from market.calendar import is_trading_day

        now = now or timezone.now()
        local = now.astimezone(expiry.NEW_YORK)
        day = local.date()
        if local.time() < expiry.EXPIRY_CUTOFF or not is_trading_day(day) or self.iv_done == day:
            return False
        self.iv_done = day  # a failure waits for tomorrow (or the backfill), not every tick
        from marketdata import ivrecord

        try:
            await database_sync_to_async(ivrecord.record_all)(now)
        except Exception:
            logger.exception("recording the IV history failed")
        return True

    async def daily_expiries(self, now: datetime | None = None) -> bool:
        """Once a day (the first tick after the 16:00 New York cut-off, or after a start) the
        leader takes expired options off the books; see :mod:`portfolio.expiry`."""
        day = expiry.expired_by(now or timezone.now())
        if self.expiries_done == day:
            return False
        self.expiries_done = day  # a failure is retried tomorrow, not on every tick
        try:
            await database_sync_to_async(expiry.process_expiries)(now)
        except Exception:
            logger.exception("expiry processing failed")
        try:  # then the day's close point of every book's value history (portfolio.history)
            from portfolio import history

            await database_sync_to_async(history.fill_all)(HISTORY_CATCH_UP_DAYS, now)
        except Exception:
            logger.exception("recording the value history failed")
        return True

    async def _ticks(self) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while self.leader:
            try:
                await self.tick()
            except Exception:  # Redis blip etc.: log, keep the schedule
                logger.exception("publisher tick failed")
            next_at += self.interval_s
            now = loop.time()
            if next_at < now:  # overran: skip the missed ticks rather than bunching them
                next_at = now + self.interval_s - ((now - next_at) % self.interval_s)
            await asyncio.sleep(next_at - now)

    async def _keep_lease(self) -> None:
        if self.lock is None:
            raise RuntimeError("the publisher has no lock to keep")
        while True:
            await asyncio.sleep(self.lock.ttl_ms / 3000)
            try:
                renewed = await self.lock.renew()
            except Exception:
                logger.exception("publisher lock renewal failed")
                renewed = False
            if not renewed:
                logger.warning("publisher lost its lock; standing by")
                self.leader = False
                return

    async def run(self, stop: asyncio.Event | None = None) -> None:
        stop = stop or asyncio.Event()
        stopper = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                if self.lock is not None:
                    self.leader = await self._try_acquire()
                    if not self.leader:
                        await asyncio.wait({stopper}, timeout=LOCK_POLL_S)
                        continue
                    logger.info("publisher active (lock %s)", self.lock.key)
                work = [asyncio.ensure_future(self._ticks())]
                if self.lock is not None:
                    work.append(asyncio.ensure_future(self._keep_lease()))
                await asyncio.wait({stopper, *work}, return_when=asyncio.FIRST_COMPLETED)
                self.leader = self.lock is None
                for task in work:
                    task.cancel()
                for task in work:
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
        finally:
            stopper.cancel()
            if self.lock is not None:
                with contextlib.suppress(Exception):
                    await self.lock.release()

    async def _try_acquire(self) -> bool:
        if self.lock is None:
            raise RuntimeError("the publisher has no lock to acquire")
        try:
            return await self.lock.acquire()
        except Exception as exc:
            logger.warning("publisher lock unavailable: %s", exc)
            return False


# --- Embedded publisher ----------------------------------------------------------------------

_embedded: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Task[None]] = (
    weakref.WeakKeyDictionary()
)


def ensure_embedded_publisher(compute: ComputeFn | None = None) -> asyncio.Task[None] | None:
    """Start the in-process publisher in the running loop unless it runs already.

    Called from every consumer connect; cheap after the first. Daphne runs all consumers on one
    event loop, so this yields exactly one publisher per server process.
    """
    if publisher_mode() != "embedded":
        return None
    loop = asyncio.get_running_loop()
    task = _embedded.get(loop)
    if task is None or task.done():
        if task is not None and not task.cancelled() and task.exception() is not None:
            logger.error("embedded publisher died; restarting", exc_info=task.exception())
        task = loop.create_task(Publisher.from_settings(compute).run(), name="ws-publisher")
        _embedded[loop] = task
    return task


async def stop_embedded_publisher() -> None:
    task = _embedded.pop(asyncio.get_running_loop(), None)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
