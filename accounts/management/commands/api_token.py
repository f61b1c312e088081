from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import ApiToken


class Command(BaseCommand):
    help = "Create, list or revoke per-user API tokens for scripts calling /api/*."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="issue a token and print it once")
        create.add_argument("username")
        create.add_argument("--name", default="script")
        listing = sub.add_parser("list", help="list a user's tokens (never their values)")
        listing.add_argument("username")
        revoke = sub.add_parser("revoke", help="revoke a token by its prefix")
        revoke.add_argument("prefix")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "revoke":
            tokens = ApiToken.objects.filter(prefix=options["prefix"], revoked_at__isnull=True)
            if not tokens.exists():
                raise CommandError(f"no active token with prefix {options['prefix']!r}")
            for token in tokens:
                token.revoke()
            self.stdout.write(f"revoked token {options['prefix']}")
            return
        User = get_user_model()
        try:
            user = User.objects.get(username=options["username"])
        except User.DoesNotExist:
            raise CommandError(f"no user {options['username']!r}") from None
        if action == "create":
            _, plain = ApiToken.issue(user, options["name"])
            self.stdout.write(plain)
            return
        for token in ApiToken.objects.filter(user=user):
            state = "revoked" if token.revoked_at else "active"
            last = token.last_used_at.isoformat() if token.last_used_at else "never"
            self.stdout.write(f"{token.prefix}  {state:7}  last used {last}  {token.name}")
