"""Fill the IV history (30-day constant-maturity ATM IV per day) from the synthetic provider or
from recorded replay snapshots. Days already stored are kept as they are."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from market.data import normalize_symbol
from market.errors import InvalidSymbol, MarketDataError
from marketdata import ivrecord
from marketdata.service import synthetic_market

MAX_DAYS = 3650


class Command(BaseCommand):
    help = (
        "Backfill the daily IV30 history. --source synthetic replays the synthetic provider's "
        "deterministic vol surface day by day (the default when MARKET_DATA_PROVIDER starts "
        "with synthetic); --replay FILE uses a snapshot file's chains (the last one of each "
        "day). Existing days are never overwritten; running it twice adds nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--symbol", action="append", help="Repeatable; default: tracked")
        parser.add_argument("--days", type=int, default=400, help="Calendar days back (synthetic)")
        parser.add_argument("--until", help="Last date, YYYY-MM-DD (default: last close)")
        parser.add_argument("--source", choices=("synthetic", "replay"))
        parser.add_argument("--replay", metavar="FILE", help="Snapshot file (implies replay)")
        parser.add_argument("--seed", type=int, help="Synthetic seed (default: MARKET_SEED)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            symbols = [normalize_symbol(s) for s in options["symbol"] or []]
        except InvalidSymbol as exc:
            raise CommandError(str(exc)) from None
        source = options["source"] or ("replay" if options["replay"] else None)
        if source is None:
            if not synthetic_market():
                raise CommandError(
                    "the market data provider is not synthetic: choose --source synthetic "
                    "(a made-up history) or --replay FILE"
                )
            source = "synthetic"
        try:
            if source == "replay":
                self._replay(options["replay"], symbols)
            else:
                self._synthetic(options, symbols or ivrecord.tracked_symbols())
        except MarketDataError as exc:
            raise CommandError(str(exc)) from None

    def _replay(self, path: str | None, symbols: list[str]) -> None:
        if not path:
            raise CommandError("--source replay needs --replay FILE")
        rate = float(settings.RISK_FREE_RATE)
        if not symbols:
            added = ivrecord.backfill_replay(path, rate)
        else:
            added = sum(ivrecord.backfill_replay(path, rate, s) for s in symbols)
        self.stdout.write(self.style.SUCCESS(f"{added} day(s) added from {path}"))

    def _synthetic(self, options: dict[str, Any], symbols: list[str]) -> None:
        from market.providers.synthetic import SPECS, SyntheticProvider
        from portfolio.expiry import expired_by

        days = options["days"]
        if not 1 <= days <= MAX_DAYS:
            raise CommandError(f"--days must be between 1 and {MAX_DAYS}")
        if options["until"]:
            try:
                until = date.fromisoformat(options["until"])
            except ValueError:
                raise CommandError("--until: use YYYY-MM-DD") from None
        else:
            until = expired_by(timezone.now())
        seed = options["seed"] if options["seed"] is not None else settings.MARKET_SEED
        provider = SyntheticProvider(
            seed=seed, rate=float(settings.RISK_FREE_RATE), vol_regime=True
        )
        for symbol in symbols:
            if symbol not in SPECS:
                self.stderr.write(f"{symbol}: the synthetic provider has no data; skipped")
                continue
            start = until - timedelta(days=days - 1)
            added = ivrecord.backfill_synthetic(symbol, start, until, provider)
            self.stdout.write(
                self.style.SUCCESS(f"{symbol}: {added} day(s) added ({start} to {until})")
            )
