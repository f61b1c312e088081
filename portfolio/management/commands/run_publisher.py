"""``manage.py run_publisher``: the live-update publisher as its own process (scaled-out layout).

With the Redis channel layer any number of these may run; a lock lets exactly one publish and
the others stand by, taking over within a few seconds when the active one stops. Stops cleanly
(releasing the lock at once) on SIGTERM/SIGINT.
"""

from __future__ import annotations

import asyncio
import signal
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.module_loading import import_string

from core.allocator import tune_allocator
from portfolio import publisher


class Command(BaseCommand):
    help = "Publish live portfolio updates to WebSocket subscribers (one active per Redis)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--compute",
            default="",
            help="dotted path of the snapshot function (default portfolio.services.live_snapshot;"
            " tests and diagnostics only)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not publisher.uses_redis():
            raise CommandError(
                "run_publisher needs the Redis channel layer (set REDIS_URL): with the in-memory "
                "layer, updates from another process never reach the server, which runs its own "
                "embedded publisher instead."
            )
        compute = import_string(options["compute"]) if options["compute"] else None
        tune_allocator()
        asyncio.run(self._run(compute))

    async def _run(self, compute: publisher.ComputeFn | None) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        pub = publisher.Publisher.from_settings(compute)
        self.stdout.write(
            f"publisher: interval {pub.interval_s}s, lock {pub.lock.key if pub.lock else '-'}"
        )
        await pub.run(stop)
        self.stdout.write(f"publisher: stopped after {pub.ticks} ticks, {pub.published} updates")
