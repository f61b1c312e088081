from __future__ import annotations

import math
from datetime import date
from typing import Any

import numpy as np
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from market.analytics import analyze_chain
from market.errors import MarketDataError
from marketdata.service import get_market_service


def _f(x: float, fmt: str) -> str:
    return "" if x is None or not math.isfinite(x) else format(x, fmt)


class Command(BaseCommand):
    help = (
        "Print the option chain of SYMBOL for one expiry (calls | strike | puts) with IV and delta."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("symbol")
        parser.add_argument(
            "--expiry", default="next", help="'next' (default), 'list', or a date YYYY-MM-DD"
        )
        parser.add_argument(
            "--strikes", type=int, default=12, help="strikes each side of the money"
        )
        parser.add_argument("--style", choices=("american", "european"), default="american")

    def handle(self, *args: Any, **options: Any) -> None:
        service = get_market_service()
        try:
            chain = service.chain(options["symbol"])
        except MarketDataError as exc:
            raise CommandError(f"{options['symbol']}: {exc}") from exc
        if not chain.expiries:
            raise CommandError(f"{chain.symbol}: no listed expiries")
        wanted = options["expiry"]
        if wanted == "list":
            self.stdout.write("\n".join(str(d) for d in chain.expiries))
            return
        if wanted == "next":
            expiry = chain.nearest_expiry() or chain.expiries[0]
        else:
            try:
                expiry = date.fromisoformat(wanted)
            except ValueError:
                raise CommandError("--expiry must be 'next', 'list' or YYYY-MM-DD") from None
            if expiry not in chain.expiries:
                listed = ", ".join(str(d) for d in chain.expiries)
                raise CommandError(f"{chain.symbol} has no {expiry} expiry; listed: {listed}")
        sub = chain.for_expiry(expiry)
        rate = float(chain.meta.get("rate", settings.RISK_FREE_RATE))
        a = analyze_chain(sub, rate, style=options["style"])
        summary = a.expiries[0]
        strikes = np.unique(sub.strike)
        atm = int(np.argmin(np.abs(strikes - sub.spot)))
        n = max(1, options["strikes"])
        shown = strikes[max(0, atm - n) : atm + n + 1]
        stale = f" · STALE {chain.age_s:.0f}s" if chain.stale else ""
        atm_iv = "n/a" if summary.atm_iv is None else f"{100 * summary.atm_iv:.1f}%"
        move = "n/a" if summary.expected_move is None else f"±{summary.expected_move:.2f}"
        out = [
            f"{chain.symbol} {sub.spot:.2f} · expiry {expiry} ({summary.t * 365:.1f} days) · "
            f"ATM IV {atm_iv} · expected move {move} · r {rate:.2%} q {chain.dividend_yield:.2%}",
            f"as of {chain.as_of:%Y-%m-%d %H:%M:%S %Z} · {chain.provider}{stale} · model {a.model}",
            "",
            f"{'bid':>8}{'ask':>8}{'iv%':>7}{'delta':>7}{'oi':>7} |{'strike':^10}| "
            f"{'bid':>8}{'ask':>8}{'iv%':>7}{'delta':>7}{'oi':>7}",
        ]
        for k in shown:
            cells = []
            for call in (True, False):
                idx = np.nonzero((sub.strike == k) & (sub.is_call == call))[0]
                if idx.size == 0:
                    cells.append(" " * 37)
                    continue
                i = idx[0]
                cells.append(
                    f"{_f(sub.bid[i], '.2f'):>8}{_f(sub.ask[i], '.2f'):>8}"
                    f"{_f(100 * a.iv[i], '.1f'):>7}{_f(a.delta[i], '.2f'):>7}{sub.open_interest[i]:>7}"
                )
            marker = "*" if k == strikes[atm] else " "
            out.append(f"{cells[0]} |{marker}{k:>8.2f} | {cells[1]}")
        self.stdout.write("\n".join(out))
