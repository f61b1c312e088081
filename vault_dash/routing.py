"""WebSocket URL routes (Channels)."""

from __future__ import annotations

from typing import Any

from portfolio.routing import websocket_urlpatterns as portfolio_ws

websocket_urlpatterns: list[Any] = [*portfolio_ws]
