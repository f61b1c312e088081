"""Create the demo portfolio: 1,000 GLD shares hedged with 10 long puts (idempotent).

The put is chosen from the symbol's listed chain: the monthly-style expiry closest to four
months out (between two and seven months) and the listed put strike closest to 10 % below spot.
Running it again leaves an existing demo alone (``--reset`` rebuilds it). The book is written
through the trade ledger (source ``demo``), so its trades, lots and positions agree.

On synthetic market data (the embedded default) it also backfills the symbol's IV history once,
when none is stored, so that IV rank and its alert rule work from the first page; the publisher
then adds a day after each close. Live market data never gets a made-up history.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from market.calendar import market_date
from market.errors import MarketDataError
from portfolio import ledger
from portfolio.models import Portfolio, Position, Trade

DEMO_NAME = "Demo: gold hedged with puts"
SHARES = 1000
CONTRACTS = 10
OTM = 0.10
TARGET_DAYS = 120


def pick_put(chain: Any, spot: float, today: Any) -> tuple[Any, float, float | None]:
    """(expiry, strike, mid price or None) of the demo's protective put."""
    candidates = [d for d in chain.expiries if 60 <= (d - today).days <= 210]
    if not candidates:
        candidates = [d for d in chain.expiries if (d - today).days >= 14]
    if not candidates:
        raise CommandError(f"{chain.symbol}: no listed expiry far enough out for a demo hedge")

    # Prefer expiries with many put strikes (monthlies) among those near the target tenor.
    def score(d: Any) -> tuple[float, int]:
        n = int(np.sum((chain.expiry == np.datetime64(d, "D")) & ~chain.is_call))
        return (abs((d - today).days - TARGET_DAYS) - (15 if n >= 20 else 0), -n)

    expiry = min(candidates, key=score)
    sel = (chain.expiry == np.datetime64(expiry, "D")) & ~np.asarray(chain.is_call, dtype=bool)
    strikes = np.asarray(chain.strike, dtype=float)[sel]
    if strikes.size == 0:
        raise CommandError(f"{chain.symbol}: no puts listed for {expiry}")
    i = int(np.argmin(np.abs(strikes - spot * (1 - OTM))))
    bid = float(np.asarray(chain.bid, dtype=float)[sel][i])
    ask = float(np.asarray(chain.ask, dtype=float)[sel][i])
    mid = (bid + ask) / 2 if np.isfinite(bid) and np.isfinite(ask) and ask >= bid > 0 else None
    return expiry, float(strikes[i]), mid


def _money(x: float) -> Decimal:
    return Decimal(str(x)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


class Command(BaseCommand):
    help = "Create the ownerless demo portfolio (1,000 shares + 10 protective puts); idempotent."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--symbol", default=None, help="Underlying (default DEFAULT_SYMBOL).")
        parser.add_argument("--reset", action="store_true", help="Rebuild the demo positions.")
        parser.add_argument(
            "--strict", action="store_true", help="Fail (exit 1) when market data is unavailable."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        symbol = (options["symbol"] or settings.DEFAULT_SYMBOL).upper()
        self._seed_book(symbol, options)
        self._seed_iv_history(symbol)

    def _seed_iv_history(self, symbol: str) -> None:
        from marketdata.models import IVObservation
        from marketdata.service import get_market_service, synthetic_market

        if not synthetic_market() or IVObservation.objects.filter(symbol=symbol).exists():
            return
        try:
            provider = get_market_service().quote(symbol).provider
        except MarketDataError:
            return  # the book step has said so already
        if provider == "synthetic":
            call_command("backfill_iv_history", symbol=[symbol], stdout=self.stdout)

    def _seed_book(self, symbol: str, options: dict[str, Any]) -> None:
        demo = Portfolio.objects.filter(name=DEMO_NAME, owner__isnull=True).first()
        if demo and demo.open_positions().exists() and not options["reset"]:
            self.stdout.write(f"Demo portfolio #{demo.pk} already exists; nothing to do.")
            return
        from marketdata.service import get_market_service

        try:
            svc = get_market_service()
            quote = svc.quote(symbol)
            chain = svc.chain(symbol)
        except MarketDataError as exc:
            message = f"demo not seeded: no market data for {symbol} ({exc})"
            if options["strict"]:
                raise CommandError(message) from exc
            # `make run` seeds before serving: a provider outage must not stop the server.
            self.stderr.write(f"{message}; run `manage.py seed_demo` again later.")
            return
        # Dates follow the data's clock (replayed or synthetic data may not be "today").
        today = market_date(quote.as_of)
        spot = float(quote.spot)
        expiry, strike, mid = pick_put(chain, spot, today)
        premium = mid if mid is not None else spot * 0.02
        with transaction.atomic():
            demo, _ = Portfolio.objects.get_or_create(
                name=DEMO_NAME,
                owner=None,
                defaults={"is_demo": True, "default_symbol": symbol},
            )
            if not demo.is_demo:
                demo.is_demo = True
                demo.save(update_fields=["is_demo", "updated_at"])
            # The demo's book is kept by the ledger like any other: trades, lots, positions.
            demo.trades.all().delete()
            demo.positions.all().delete()
            ledger.record(
                demo,
                None,
                [
                    Trade(
                        symbol=symbol,
                        kind=Position.Kind.UNDERLYING,
                        action=Trade.Action.BUY,
                        quantity=Decimal(SHARES),
                        price=_money(spot * 0.92),
                        traded_on=today - timedelta(days=365),
                        source=Trade.Source.DEMO,
                        note="Demo: bought a year ago",
                    ),
                    Trade(
                        symbol=symbol,
                        kind=Position.Kind.OPTION,
                        expiry=expiry,
                        strike=Decimal(str(strike)),
                        right=Position.Right.PUT,
                        style=Position.Style.AMERICAN,
                        action=Trade.Action.BUY,
                        quantity=Decimal(CONTRACTS),
                        price=_money(premium),
                        traded_on=today,
                        source=Trade.Source.DEMO,
                        note="Demo: protective puts ~10% out of the money",
                    ),
                ],
                reason="seed_demo",
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo portfolio #{demo.pk}: {SHARES} {symbol} @ {spot:.2f} hedged with "
                f"{CONTRACTS} puts {expiry} K={strike:g} @ {_money(premium)}."
            )
        )
