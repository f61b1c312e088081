"""Serve the app (daphne) with a synthetic market whose spot the test steers.

``python -m tests.support.steered_server <daphne arguments>`` with ``STEER_FILE`` naming a JSON
file such as ``{"GLD": 215.0}``: every quote and chain of a listed symbol is built around that
spot (the synthetic provider's own path otherwise), read afresh on each request, so a test moves
the market across a level by rewriting the file. In-process tests steer with
:func:`tests.support.market.use_market_service`; this is the same idea for a served app.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Any


def steered_provider(steer_file: Path, **options: Any) -> Any:
    from market.providers.synthetic import SyntheticProvider

    class SteeredSynthetic(SyntheticProvider):
        def _spot_at(self, sym: str, spec: Any, now: datetime) -> tuple[float, float]:
            spot, prev = super()._spot_at(sym, spec, now)
            try:
                steer = json.loads(steer_file.read_text())
            except (OSError, ValueError):
                steer = {}
            return (float(steer[sym]), prev) if sym in steer else (spot, prev)

    return SteeredSynthetic(**options)


def main(argv: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vault_dash.settings.base")
    import django

    django.setup()
    from django.conf import settings
    from django.core.cache import cache

    from market.service import MarketService
    from marketdata import service as marketdata

    provider = steered_provider(
        Path(os.environ["STEER_FILE"]),
        seed=settings.MARKET_SEED,
        rate=settings.RISK_FREE_RATE,
        tick_seconds=1,  # a new snapshot every second, so a steer shows within one tick
    )
    marketdata._service = MarketService(
        [provider],
        cache,
        chain_ttl=settings.CACHE_TTL,
        quote_ttl=settings.QUOTE_CACHE_TTL,
        probe_symbol=settings.DEFAULT_SYMBOL,
    )
    from daphne.cli import CommandLineInterface

    CommandLineInterface().run(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
