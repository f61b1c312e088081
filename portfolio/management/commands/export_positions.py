"""Export a portfolio's open positions as CSV (the format ``import_positions`` reads)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from portfolio.csvio import export_positions
from portfolio.models import Portfolio


def find_portfolio(ref: str) -> Portfolio:
    qs = Portfolio.objects.all()
    found = qs.filter(pk=int(ref)).first() if ref.isdigit() else None
    if found is None:
        matches = list(qs.filter(name=ref)[:2])
        if len(matches) > 1:
            raise CommandError(f"several portfolios are named {ref!r}; use the id")
        found = matches[0] if matches else None
    if found is None:
        raise CommandError(f"no portfolio with id or name {ref!r}")
    return found


class Command(BaseCommand):
    help = "Export a portfolio's open positions as CSV."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--portfolio", required=True, help="Portfolio id or name")
        parser.add_argument("--output", "-o", default="-", help="File to write ('-' = stdout)")

    def handle(self, *args: Any, **options: Any) -> None:
        portfolio = find_portfolio(options["portfolio"])
        if options["output"] == "-":
            n = export_positions(portfolio, self.stdout)
        else:
            with open(options["output"], "w", newline="", encoding="utf-8") as fh:
                n = export_positions(portfolio, fh)
        self.stderr.write(f"Exported {n} position(s) of {portfolio}.")
