from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from market.errors import MarketDataError
from marketdata.service import get_market_service


class Command(BaseCommand):
    help = "Print the current quote of SYMBOL from the configured market data provider."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("symbols", nargs="+", metavar="SYMBOL")

    def handle(self, *args: Any, **options: Any) -> None:
        service = get_market_service()
        lines = [
            f"{'symbol':<8}{'last':>12}{'change':>11}{'%':>8}{'bid':>12}{'ask':>12}  as of / source"
        ]
        for symbol in options["symbols"]:
            try:
                q = service.quote(symbol)
            except MarketDataError as exc:
                raise CommandError(f"{symbol}: {exc}") from exc
            change = q.day_change
            pct = None if change is None or not q.prev_close else 100 * change / q.prev_close
            freshness = f"STALE {q.age_s:.0f}s" if q.stale else "fresh"
            lines.append(
                f"{q.symbol:<8}{q.spot:>12.2f}"
                f"{'' if change is None else f'{change:+.2f}':>11}"
                f"{'' if pct is None else f'{pct:+.2f}%':>8}"
                f"{'' if q.bid is None else f'{q.bid:.2f}':>12}"
                f"{'' if q.ask is None else f'{q.ask:.2f}':>12}"
                f"  {q.as_of:%Y-%m-%d %H:%M:%S %Z} · {q.provider} · {freshness}"
            )
        self.stdout.write("\n".join(lines))
