"""Helpers shared by the WebSocket tests."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from channels.testing import WebsocketCommunicator

from portfolio import publisher


def communicator(
    path: str = "/ws/updates", origin: str | None = "http://localhost", cookie: str | None = None
) -> WebsocketCommunicator:
    from vault_dash.asgi import application

    headers = [(b"host", b"localhost")]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    if cookie is not None:
        headers.append((b"cookie", cookie.encode()))
    return WebsocketCommunicator(application, path, headers=headers)


@contextlib.asynccontextmanager
async def running_publisher(compute: Any, **kwargs: Any) -> AsyncIterator[publisher.Publisher]:
    stop = asyncio.Event()
    kwargs.setdefault("render", None)  # exact-payload tests; the KPI render is tested apart
    pub = publisher.Publisher(compute, **kwargs)
    task = asyncio.ensure_future(pub.run(stop))
    try:
        yield pub
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)


async def next_of_type(comm: WebsocketCommunicator, kind: str, within: float) -> dict[str, Any]:
    """The next message of ``kind``, skipping others, all within ``within`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise AssertionError(f"no {kind!r} message within {within}s")
        try:
            message = json.loads(await comm.receive_from(timeout=remaining))
        except TimeoutError:
            raise AssertionError(f"no {kind!r} message within {within}s") from None
        if message["type"] == kind:
            return message
