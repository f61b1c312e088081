"""Create a user account. The password is read from a prompt or from standard input, never from
the command line (where ``ps`` and shell history would keep it)."""

from __future__ import annotations

import getpass
import sys
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    stealth_options = ("stdin",)
    help = "Create a user (password from a prompt, or from stdin with --password-stdin)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--email", default="")
        parser.add_argument("--staff", action="store_true", help="May use the admin")
        parser.add_argument(
            "--password-stdin", action="store_true", help="Read the password from stdin"
        )

    def execute(self, *args: Any, **options: Any) -> Any:
        self.stdin: Any = options.get("stdin") or sys.stdin  # call_command(stdin=...) in tests
        return super().execute(*args, **options)

    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()
        username = options["username"]
        if User.objects.filter(username=username).exists():
            raise CommandError(f"user {username!r} already exists")
        if options["password_stdin"]:
            password = self.stdin.readline().rstrip("\r\n")
        else:
            password = getpass.getpass("Password: ")
            if getpass.getpass("Password (again): ") != password:
                raise CommandError("the passwords differ")
        user = User(username=username, email=options["email"], is_staff=options["staff"])
        try:
            user.full_clean(exclude=["password"])
            validate_password(password, user)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        user.set_password(password)
        user.save()
        self.stdout.write(self.style.SUCCESS(f"Created user {username}."))
