from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from deploy import healthcheck


class Command(BaseCommand):
    help = "Poll a /health URL until its JSON status matches (same as deploy/healthcheck.py)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("url")
        parser.add_argument("--timeout", type=float, default=120.0)
        parser.add_argument("--expect-status", default="ok", choices=healthcheck.STATUSES)
        parser.add_argument("--interval", type=float, default=2.0)
        parser.add_argument("--request-timeout", type=float, default=5.0)

    def handle(self, *args: Any, **options: Any) -> None:
        argv = [
            options["url"],
            f"--timeout={options['timeout']}",
            f"--expect-status={options['expect_status']}",
            f"--interval={options['interval']}",
            f"--request-timeout={options['request_timeout']}",
        ]
        code = healthcheck.main(argv)
        if code:
            raise CommandError("health check failed", returncode=code)
