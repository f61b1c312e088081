"""Errors raised by the market package.

Every provider failure is a :class:`MarketDataError`; callers (views, the WebSocket publisher)
catch that one base class and never let a market-data problem become a 500.
"""

from __future__ import annotations


class MarketDataError(Exception):
    """Base class: anything that went wrong getting or interpreting market data."""

    code = "market_data_error"


class InvalidSymbol(MarketDataError, ValueError):
    """The symbol is malformed (not 1-10 letters, digits, '.', '-', '^', '=')."""

    code = "invalid_symbol"


class UnknownSymbol(MarketDataError):
    """The symbol is well formed but the provider has no data for it."""

    code = "unknown_symbol"


class NoListedOptions(UnknownSymbol):
    """The symbol is known (it has a quote) but no options are listed on it."""

    code = "no_listed_options"


class ProviderUnavailable(MarketDataError):
    """The provider could not be reached, timed out, or returned unusable data."""

    code = "provider_unavailable"


class CircuitOpen(ProviderUnavailable):
    """The circuit breaker is open: the provider is not being called for a while."""

    code = "circuit_open"
