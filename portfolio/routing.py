"""WebSocket routes of the portfolio app (included by ``vault_dash/routing.py``)."""

from __future__ import annotations

from django.urls import path

from portfolio.consumers import UpdatesConsumer

websocket_urlpatterns = [
    path("ws/updates", UpdatesConsumer.as_asgi()),
]
