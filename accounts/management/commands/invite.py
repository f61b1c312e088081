"""Print a single-use, expiring invitation link (the same as adding one in the admin)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.urls import reverse

from accounts.models import INVITATION_DAYS, Invitation


class Command(BaseCommand):
    help = "Create an invitation and print its link (shown once; only a digest is stored)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", default="", help="Who it is for (a note)")
        parser.add_argument(
            "--days",
            type=int,
            default=INVITATION_DAYS,
            choices=range(1, 91),
            metavar="1-90",
            help="Days the link stays valid",
        )
        parser.add_argument(
            "--base-url", default="", help="e.g. https://vault.example.com (default: a path)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        invitation, token = Invitation.issue(email=options["email"], days=options["days"])
        link = options["base_url"].rstrip("/") + reverse("accounts:accept", args=[token])
        self.stdout.write(link)
        self.stderr.write(f"expires {invitation.expires_at:%Y-%m-%d %H:%M} UTC; single use")
