"""Reading a served app's ``/ws/updates`` socket (the ``websockets`` client)."""

from __future__ import annotations

import asyncio
import json
from typing import Any


async def portfolio_updates(ws: Any, count: int, within: float) -> list[dict[str, Any]]:
    """The next ``count`` ``portfolio_update`` messages on ``ws`` (other messages passed
    over); ``TimeoutError`` if they have not all come within ``within`` seconds."""
    out: list[dict[str, Any]] = []
    async with asyncio.timeout(within):
        while len(out) < count:
            message = json.loads(await ws.recv())
            if message["type"] == "portfolio_update":
                out.append(message)
    return out
