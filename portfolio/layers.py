"""An in-memory channel layer for one broadcast to many consumers (the embedded default).

Channels' ``InMemoryChannelLayer`` sweeps every channel and group membership for expiry on
*each* ``receive`` and ``group_send``, so one broadcast to N consumers costs O(N²) (450 µs per
recipient at N=1,000 in bench/bench_ws.py); it also deep-copies the message and starts a task
per recipient. :class:`FanoutInMemoryChannelLayer` keeps the parent's semantics and API but runs
the sweep at most once a second, and its ``group_send`` puts one copy of the message in every
member's queue, skipping a member whose queue is full, as the parent does (~20x less CPU per
recipient; docs/benchmarks.md). Recipients share that copy, so consumers must treat group
messages as read-only (ours forward ``event["text"]``).
"""

from __future__ import annotations

import asyncio
import time
from copy import deepcopy
from typing import Any

from channels.layers import InMemoryChannelLayer


class FanoutInMemoryChannelLayer(InMemoryChannelLayer):
    clean_interval_s = 1.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._cleaned_at = 0.0

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now - self._cleaned_at < self.clean_interval_s:
            return
        self._cleaned_at = now
        super()._clean_expired()

    async def receive(self, channel: str) -> Any:
        # The parent builds a throw-away asyncio.Queue on every call (dict.setdefault's default).
        self._clean_expired()
        queue = self.channels.get(channel)
        if queue is None:
            self.require_valid_channel_name(channel)
            queue = self.channels[channel] = asyncio.Queue(maxsize=self.get_capacity(channel))
        try:
            _, message = await queue.get()
        finally:
            if queue.empty():
                self.channels.pop(channel, None)
        return message

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        if not isinstance(message, dict):
            raise TypeError("Message is not a dict")
        self.require_valid_group_name(group)
        self._clean_expired()
        members = self.groups.get(group)
        if not members:
            return
        entry = (time.time() + self.expiry, deepcopy(message))
        for channel in list(members):
            queue = self.channels.get(channel)
            if queue is None:
                queue = self.channels[channel] = asyncio.Queue(maxsize=self.get_capacity(channel))
            if queue.full():
                continue  # a consumer that does not keep up loses this update, not the others
            queue.put_nowait(entry)
