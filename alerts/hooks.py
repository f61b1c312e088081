"""The publisher's once-per-tick call: evaluate every symbol's rules, then send what is due.

Delivery runs as its own task so a slow SMTP server never delays the next tick; at most one
delivery task runs per process.
"""

from __future__ import annotations

import asyncio
import logging

from channels.db import database_sync_to_async

from alerts import delivery, runner

logger = logging.getLogger(__name__)

_delivering: asyncio.Task[int] | None = None


async def on_tick() -> None:
    global _delivering
    await database_sync_to_async(runner.evaluate_all)()
    if _delivering is None or _delivering.done():
        _delivering = asyncio.ensure_future(database_sync_to_async(delivery.deliver_due)())
