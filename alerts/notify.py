"""The in-app bell: each signed-in user's unread alert count, pushed over ``/ws/updates``.

A connected user's socket joins the group ``alerts.u<user id>`` and gets an ``alerts_unread``
message after ``connected`` when something is unread; the evaluator sends a fresh one to a portfolio owner's group after a fire, and
reading the alerts page sends one too (see ``docs/websocket.md``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from alerts.models import AlertEvent

logger = logging.getLogger(__name__)

MESSAGE_TYPE = "alerts_unread"
EVENT_TYPE = "alerts.unread"  # the channel-layer event; the consumer's handler is alerts_unread


def user_group(user_id: int) -> str:
    return f"alerts.u{user_id}"


def unread_count(user_id: int) -> int:
    return AlertEvent.objects.filter(
        portfolio__owner_id=user_id, in_app=True, read_at__isnull=True
    ).count()


def unread_text(user_id: int) -> str:
    latest = (
        AlertEvent.objects.filter(portfolio__owner_id=user_id, in_app=True, read_at__isnull=True)
        .values("message", "fired_at", "portfolio_id")
        .first()
    )
    body: dict[str, Any] = {"type": MESSAGE_TYPE, "unread": unread_count(user_id), "latest": None}
    if latest is not None:
        body["latest"] = {
            "message": latest["message"],
            "fired_at": latest["fired_at"].isoformat(),
            "portfolio": latest["portfolio_id"],
        }
    return json.dumps(body, separators=(",", ":"))


def announce(user_ids: Iterable[int | None]) -> None:
    """Send each user's current count to their sockets (from sync code; failures logged)."""
    layer = get_channel_layer()
    if layer is None:
        return
    for uid in sorted({u for u in user_ids if u is not None}):
        try:
            async_to_sync(layer.group_send)(
                user_group(uid), {"type": EVENT_TYPE, "text": unread_text(uid)}
            )
        except Exception:  # the bell is a convenience: never fail a tick or a page over it
            logger.warning("could not announce alerts to user %s", uid, exc_info=True)


async def join(consumer: Any) -> str | None:
    """Add a signed-in user's socket to their alerts group; send the count if any are unread."""
    user = consumer.scope.get("user")
    if not getattr(user, "is_authenticated", False):
        return None
    group = user_group(user.pk)
    await consumer.channel_layer.group_add(group, consumer.channel_name)
    if await database_sync_to_async(unread_count)(user.pk):
        await consumer.send(text_data=await database_sync_to_async(unread_text)(user.pk))
    return group
