"""``/ws/updates``: live portfolio updates (protocol in ``docs/websocket.md``).

The consumer does no valuation: it validates what the client asks for, joins one channel-layer
group per subscribed symbol and forwards the publisher's ready JSON text. Bad input gets an
``error`` message and the connection stays open; a flood of bad (or too many) messages closes
it with 4008; an anonymous client where login is required is closed with 4401, and so is a
logged-in client whose login ends (``portfolio.session_guard``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from alerts import notify as alert_bell
from portfolio import access, publisher
from portfolio.models import SYMBOL_RE
from portfolio.session_guard import session_guard, watch_scope

logger = logging.getLogger(__name__)

CLOSE_AUTH_REQUIRED = 4401
CLOSE_POLICY = 4008  # RFC 6455 1008 "policy violation", in the application range

MAX_MESSAGE_BYTES = 4096
MAX_SUBSCRIPTIONS = 5
# More than BAD_LIMIT bad messages within BAD_WINDOW_S closes the connection.
BAD_LIMIT = 10
BAD_WINDOW_S = 10.0
# Token bucket for all client messages: RATE_PER_S sustained, RATE_BURST at once.
RATE_PER_S = 5.0
RATE_BURST = 20.0
SYMBOL_CHECK_TIMEOUT_S = 5.0
_KNOWN_SYMBOLS_TTL_S = 600.0
_known_symbols: dict[str, float] = {}


class SymbolError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _check_with_provider(symbol: str) -> None:
    from market.errors import InvalidSymbol, UnknownSymbol
    from marketdata.service import get_market_service

    try:
        get_market_service().quote(symbol)
    except InvalidSymbol as exc:
        raise SymbolError("invalid_symbol", "symbol must be a ticker like GLD") from exc
    except UnknownSymbol as exc:
        raise SymbolError(
            "unknown_symbol", f"{symbol} is not a symbol the market provider knows"
        ) from exc


async def validate_symbol(raw: Any) -> str:
    """Normalise and validate a symbol against the market provider; raise :class:`SymbolError`.

    Provider outages do not reject a well-formed symbol (the publisher serves stale data or
    nothing); only a provider's explicit "unknown symbol" does.
    """
    if not isinstance(raw, str) or not SYMBOL_RE.match(raw.strip().upper()):
        raise SymbolError("invalid_symbol", "symbol must be a ticker like GLD")
    symbol = raw.strip().upper()
    if _known_symbols.get(symbol, 0.0) > time.monotonic():
        return symbol
    try:
        await asyncio.wait_for(
            sync_to_async(_check_with_provider, thread_sensitive=False)(symbol),
            SYMBOL_CHECK_TIMEOUT_S,
        )
    except SymbolError:
        raise
    except Exception as exc:  # provider down or slow: accept the well-formed symbol
        logger.warning("could not validate %s with the market provider: %r", symbol, exc)
        return symbol
    _known_symbols[symbol] = time.monotonic() + _KNOWN_SYMBOLS_TTL_S
    return symbol


class PortfolioError(Exception):
    pass


def _resolve_portfolio_id(user: Any, requested: int | None) -> int | None:
    """The private portfolio id to follow, or None for the shared demo.

    Uses the dashboard's own rule (``services.resolve_portfolio``): an explicit id must be
    visible to the user; without one, the user's first own portfolio, else the demo.
    """
    try:
        portfolio = access.resolve_portfolio(user, requested)
    except access.PortfolioNotFound as exc:
        raise PortfolioError(str(exc)) from None
    if portfolio is None or (portfolio.is_demo and portfolio.owner_id is None):
        return None
    return int(portfolio.pk)


def _portfolio_param(raw: Any) -> int | None:
    try:
        return access.parse_portfolio_id(raw)
    except access.BadPortfolioId as exc:
        raise PortfolioError(str(exc)) from None


class UpdatesConsumer(AsyncWebsocketConsumer):
    topics: set[str]

    async def connect(self) -> None:
        self.topics = set()
        self._bad: deque[float] = deque()
        self._tokens = RATE_BURST
        self._tokens_at = time.monotonic()
        self._refresher: asyncio.Task[None] | None = None
        self._alerts_group: str | None = None
        await self.accept()
        if not access.may_view(self.scope.get("user")):
            await self._send_json(
                {"type": "error", "code": "auth_required", "message": "log in to receive updates"}
            )
            await self.close(code=CLOSE_AUTH_REQUIRED)
            return
        watch_scope(self.scope, self.channel_name, self.channel_layer)
        publisher.ensure_embedded_publisher()

        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        requested = (query.get("symbol") or [settings.DEFAULT_SYMBOL])[0]
        topic: str | None = None
        error: tuple[str, str] | None = None
        try:
            topic = await self._topic_for(requested, (query.get("portfolio") or [None])[0])
        except SymbolError as exc:
            error = (exc.code, exc.message)
        except PortfolioError:
            error = ("portfolio_not_found", "no such portfolio")
        symbol, portfolio_id = publisher.parse_topic(topic) if topic else (None, None)
        await self._send_json(
            {
                "type": "connected",
                "symbol": symbol,
                "portfolio": portfolio_id,
                "interval_s": settings.WEBSOCKET_INTERVAL_SECONDS,
                "server_time": datetime.now(UTC).isoformat(),
            }
        )
        if error is not None:
            await self._error(*error, count=False)
        elif topic is not None:
            await self._subscribe(topic, ack=False)
        self._alerts_group = await alert_bell.join(self)  # the signed-in user's unread alerts
        self._refresher = asyncio.ensure_future(self._refresh_loop())

    async def disconnect(self, code: int) -> None:
        session_guard().forget(self.channel_name)
        if self._refresher is not None:
            self._refresher.cancel()
        if getattr(self, "_alerts_group", None):
            await self.channel_layer.group_discard(self._alerts_group, self.channel_name)
        for topic in list(getattr(self, "topics", ())):
            await self._unsubscribe(topic)

    async def _topic_for(self, raw_symbol: Any, raw_portfolio: Any) -> str:
        """Validate a subscription request; raise SymbolError/PortfolioError."""
        symbol = await validate_symbol(raw_symbol)
        requested = _portfolio_param(raw_portfolio)
        portfolio_id = await database_sync_to_async(_resolve_portfolio_id)(
            self.scope.get("user"), requested
        )
        return publisher.topic_key(symbol, portfolio_id)

    # --- client messages ----------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if not self._take_token():
            await self._send_json(
                {"type": "error", "code": "rate_limited", "message": "too many messages"}
            )
            await self.close(code=CLOSE_POLICY)
            return
        if text_data is None:
            await self._error("binary_not_supported", "send JSON text frames")
            return
        if len(text_data) > MAX_MESSAGE_BYTES:
            await self._error(
                "message_too_large", f"messages are limited to {MAX_MESSAGE_BYTES} bytes"
            )
            return
        try:
            message = json.loads(text_data)
        except ValueError:
            await self._error("invalid_json", "message is not valid JSON")
            return
        if not isinstance(message, dict):
            await self._error("invalid_message", "message must be a JSON object")
            return
        action = message.get("action")
        if action == "ping":
            await self._send_json({"type": "pong", "server_time": datetime.now(UTC).isoformat()})
        elif action == "subscribe":
            await self._on_subscribe(message.get("symbol"), message.get("portfolio"))
        elif action == "unsubscribe":
            await self._on_unsubscribe(message.get("symbol"))
        else:
            await self._error(
                "unknown_action", "action must be one of subscribe, unsubscribe, ping"
            )

    async def _on_subscribe(self, raw_symbol: Any, raw_portfolio: Any) -> None:
        try:
            topic = await self._topic_for(raw_symbol, raw_portfolio)
        except SymbolError as exc:
            await self._error(exc.code, exc.message)
            return
        except PortfolioError:
            await self._error("portfolio_not_found", "no such portfolio")
            return
        if topic not in self.topics and len(self.topics) >= MAX_SUBSCRIPTIONS:
            await self._error(
                "too_many_subscriptions",
                f"at most {MAX_SUBSCRIPTIONS} subscriptions per connection",
            )
            return
        await self._subscribe(topic, ack=True)

    async def _on_unsubscribe(self, raw: Any) -> None:
        """``symbol`` drops that symbol's subscriptions (any portfolio); no symbol drops all."""
        if raw is None:
            targets = sorted(self.topics)
        else:
            wanted = raw.strip().upper() if isinstance(raw, str) else None
            targets = sorted(t for t in self.topics if publisher.parse_topic(t)[0] == wanted)
        if not targets:
            await self._error("not_subscribed", "not subscribed to that symbol")
            return
        for topic in targets:
            await self._unsubscribe(topic)
            symbol, portfolio_id = publisher.parse_topic(topic)
            await self._send_json(
                {"type": "unsubscribed", "symbol": symbol, "portfolio": portfolio_id}
            )

    async def _subscribe(self, topic: str, *, ack: bool) -> None:
        await self.channel_layer.group_add(publisher.group_name(topic), self.channel_name)
        await publisher.local_topics().add(topic, self.channel_name)
        self.topics.add(topic)
        if ack:
            symbol, portfolio_id = publisher.parse_topic(topic)
            await self._send_json(
                {"type": "subscribed", "symbol": symbol, "portfolio": portfolio_id}
            )
        # The last tick's update, so a new page does not wait a whole interval for data.
        try:
            last = await publisher.get_registry().get_last(topic)
        except Exception as exc:  # nice to have; the next tick brings the data anyway
            logger.warning("could not read the last update of %s: %s", topic, exc)
            last = None
        if last is not None:
            await self.send(text_data=last)

    async def _unsubscribe(self, topic: str) -> None:
        self.topics.discard(topic)
        await self.channel_layer.group_discard(publisher.group_name(topic), self.channel_name)
        with contextlib.suppress(Exception):  # the registry entry also ages out
            await publisher.local_topics().remove(topic, self.channel_name)

    # --- channel-layer events -----------------------------------------------------------

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Route channel-layer events, skipping Channels' database bookkeeping on the hot path.

        WARNING: ``portfolio_update`` bypasses ``AsyncConsumer.dispatch`` and so Channels'
        per-message ``close_old_connections()``, a thread hop that was most of the server's
        CPU per delivery (bench/bench_ws.py). That is only safe because forwarding the
        publisher's text touches no database. A handler for this event that queries the
        database must go back through ``super().dispatch`` (or close connections itself),
        or it will hold a stale connection per socket. Every other event is dispatched as
        usual.
        """
        if message.get("type") == publisher.EVENT_TYPE:
            await self.portfolio_update(message)
        else:
            await super().dispatch(message)

    async def portfolio_update(self, event: dict[str, Any]) -> None:
        await self.send(text_data=event["text"])

    async def session_ended(self, event: dict[str, Any]) -> None:
        """The session guard found this socket's login over (logout, expiry, password...)."""
        await self._send_json(
            {"type": "error", "code": "auth_required", "message": "session ended"}
        )
        await self.close(code=CLOSE_AUTH_REQUIRED)

    async def alerts_unread(self, event: dict[str, Any]) -> None:
        await self.send(text_data=event["text"])

    # --- helpers ------------------------------------------------------------------------

    async def _refresh_loop(self) -> None:
        """Keep group membership alive (core layer's group_expiry)."""
        while True:
            await asyncio.sleep(publisher.REFRESH_S)
            try:
                groups = [publisher.group_name(t) for t in self.topics]
                for group in [*groups, *filter(None, [self._alerts_group])]:
                    await self.channel_layer.group_add(group, self.channel_name)
            except Exception:
                logger.exception("subscription refresh failed")

    def _take_token(self) -> bool:
        now = time.monotonic()
        self._tokens = min(RATE_BURST, self._tokens + (now - self._tokens_at) * RATE_PER_S)
        self._tokens_at = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True

    async def _error(self, code: str, message: str, *, count: bool = True) -> None:
        await self._send_json({"type": "error", "code": code, "message": message})
        if not count:
            return
        now = time.monotonic()
        self._bad.append(now)
        while self._bad and self._bad[0] < now - BAD_WINDOW_S:
            self._bad.popleft()
        if len(self._bad) > BAD_LIMIT:
            await self._send_json(
                {
                    "type": "error",
                    "code": "too_many_errors",
                    "message": "closing: too many bad messages",
                }
            )
            await self.close(code=CLOSE_POLICY)

    async def _send_json(self, content: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(content, separators=(",", ":")))
