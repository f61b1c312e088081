"""Fill the value history from the market provider's daily closes (see portfolio.history)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from market.data import normalize_symbol
from market.errors import InvalidSymbol, MarketDataError
from portfolio import history
from portfolio.models import Portfolio


class Command(BaseCommand):
    help = (
        "Value each portfolio's book at every daily close of the last DAYS days that has no "
        "point yet (the book as the ledger had it that day) and store it in the value history. "
        "Run once to backfill (e.g. --days 365), then daily after the close (or let the "
        "publisher do it). Safe to run twice or from two places at once."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=30, help="daily closes to cover (1–3650)")
        parser.add_argument("--portfolio", type=int, help="only this portfolio id")
        parser.add_argument("--symbol", help="only this symbol")
        parser.add_argument(
            "--replace", action="store_true", help="revalue days that already have a point"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["days"]
        if not 1 <= days <= history.MAX_DAYS:
            raise CommandError(f"--days: between 1 and {history.MAX_DAYS}")
        portfolios = Portfolio.objects.all()
        if options["portfolio"] is not None:
            portfolios = portfolios.filter(pk=options["portfolio"])
            if not portfolios.exists():
                raise CommandError(f"no portfolio {options['portfolio']}")
        symbol = None
        if options["symbol"]:
            try:
                symbol = normalize_symbol(options["symbol"])
            except InvalidSymbol as exc:
                raise CommandError(str(exc)) from None
        total = 0
        for portfolio in portfolios:
            for sym in [symbol] if symbol else history.symbols_held(portfolio):
                try:
                    n = history.fill(portfolio, sym, days, replace_existing=options["replace"])
                except MarketDataError as exc:
                    self.stderr.write(f"portfolio {portfolio.pk} {sym}: {exc}")
                    continue
                total += n
                self.stdout.write(f"portfolio {portfolio.pk} {sym}: {n} day(s) written")
        self.stdout.write(self.style.SUCCESS(f"{total} value-history point(s) written"))
