"""Import positions from a CSV file into a portfolio, all or nothing."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from portfolio.csvio import (
    COLUMNS,
    MODES,
    CsvImportError,
    import_positions,
    parse_positions,
)
from portfolio.management.commands.export_positions import find_portfolio


class Command(BaseCommand):
    help = f"Import positions from CSV (columns: {', '.join(COLUMNS)}). Nothing is written unless every row is valid."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="CSV file ('-' for stdin)")
        parser.add_argument("--portfolio", required=True, help="Portfolio id or name")
        parser.add_argument(
            "--mode",
            choices=MODES,
            default=None,
            help="new (default): only instruments not held; add: rows are trades on top of "
            "the holdings; replace: close the open positions at cost first",
        )
        parser.add_argument("--replace", action="store_true", help="Same as --mode replace")
        parser.add_argument("--dry-run", action="store_true", help="Validate only")

    def handle(self, *args: Any, **options: Any) -> None:
        portfolio = find_portfolio(options["portfolio"])
        mode = options["mode"]
        path = options["file"]
        try:
            data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror}") from exc
        try:
            if options["dry_run"]:
                rows = parse_positions(data, portfolio, replace=options["replace"], mode=mode)
                self.stdout.write(f"{len(rows)} row(s) valid; nothing written (--dry-run).")
                return
            created = import_positions(data, portfolio, replace=options["replace"], mode=mode)
        except CsvImportError as exc:
            for err in exc.errors:
                self.stderr.write(str(err))
            raise CommandError(f"{len(exc.errors)} problem(s); nothing was imported") from exc
        self.stdout.write(self.style.SUCCESS(f"Imported {len(created)} trade(s) into {portfolio}."))
