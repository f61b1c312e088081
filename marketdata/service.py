"""Django glue for the market package: one process-wide :class:`MarketService` from settings.

``MARKET_DATA_PROVIDER`` picks the provider, or an ordered failover list such as ``yfinance,cboe`` (``MARKET_SEED`` for synthetic, ``MARKET_REPLAY_FILE``
for replay); chains are cached for ``CACHE_TTL`` and quotes for ``QUOTE_CACHE_TTL`` seconds in
Django's default cache. Tests call :func:`reset_market_service` after changing settings.
"""

from __future__ import annotations

import threading

from django.conf import settings
from django.core.cache import cache

from market.providers import make_providers
from market.service import MarketService

_lock = threading.Lock()
_service: MarketService | None = None


def synthetic_market() -> bool:
    """Whether the configured market data is the synthetic provider's (the first provider)."""
    return str(settings.MARKET_DATA_PROVIDER).split(",")[0].strip().lower() == "synthetic"


def build_market_service() -> MarketService:
    providers = make_providers(
        settings.MARKET_DATA_PROVIDER,
        seed=settings.MARKET_SEED,
        rate=settings.RISK_FREE_RATE,
        replay_file=settings.MARKET_REPLAY_FILE,
    )
    return MarketService(
        providers,
        cache,
        chain_ttl=settings.CACHE_TTL,
        quote_ttl=settings.QUOTE_CACHE_TTL,
        probe_symbol=settings.DEFAULT_SYMBOL,
    )


def get_market_service() -> MarketService:
    """The process-wide service (built on first use)."""
    global _service
    if _service is None:
        with _lock:
            if _service is None:
                _service = build_market_service()
    return _service


def reset_market_service() -> None:
    global _service
    with _lock:
        _service = None
