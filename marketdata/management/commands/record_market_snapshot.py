from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from market.errors import MarketDataError
from market.providers import PROVIDER_NAMES, make_provider
from market.providers.replay import read_snapshots, snapshot_dict, write_snapshots
from marketdata.service import get_market_service


class Command(BaseCommand):
    help = "Record SYMBOL's quote and option chain to a JSON snapshot file for the replay provider."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("symbols", nargs="+", metavar="SYMBOL")
        parser.add_argument("--out", required=True, help="snapshot file to write")
        parser.add_argument(
            "--provider",
            choices=PROVIDER_NAMES,
            help="record from this provider directly (default: the configured service)",
        )
        parser.add_argument("--append", action="store_true", help="add to an existing file")
        parser.add_argument("--no-chain", action="store_true", help="record the quote only")
        parser.add_argument(
            "--history",
            type=int,
            default=0,
            metavar="DAYS",
            help="also record this many days of daily closes (replayed by history())",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["provider"]:
            try:
                source: Any = make_provider(
                    options["provider"],
                    seed=settings.MARKET_SEED,
                    rate=settings.RISK_FREE_RATE,
                    replay_file=settings.MARKET_REPLAY_FILE,
                )
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
        else:
            source = get_market_service()
        out = Path(options["out"])
        snapshots = []
        if options["append"] and out.exists():
            try:
                snapshots = read_snapshots(out)
            except MarketDataError as exc:
                raise CommandError(str(exc)) from exc
        for symbol in options["symbols"]:
            try:
                quote = source.quote(symbol)
                chain = None if options["no_chain"] else source.chain(symbol)
                days = options["history"]
                if not 0 <= days <= 3650:
                    raise CommandError("--history: between 0 and 3650 days")
                history = source.history(symbol, days) if days else None
            except MarketDataError as exc:
                raise CommandError(f"{symbol}: {exc}") from exc
            snapshots.append(snapshot_dict(quote, chain, history))
            size = 0 if chain is None else len(chain)
            self.stdout.write(
                f"{quote.symbol}: spot {quote.spot:.2f}, {size} contracts ({quote.provider})"
            )
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            write_snapshots(out, snapshots)
        except OSError as exc:
            raise CommandError(f"cannot write {out}: {exc}") from exc
        self.stdout.write(f"wrote {len(snapshots)} snapshot(s) to {out}")
