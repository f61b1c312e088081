"""The provider interface: a quote, a chain and (optionally) price history for a symbol."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from market.data import OptionChain, PriceHistory, Quote


@runtime_checkable
class Provider(Protocol):
    """Raises :class:`~market.errors.InvalidSymbol` for malformed symbols,
    :class:`~market.errors.UnknownSymbol` when the symbol has no data, and
    :class:`~market.errors.ProviderUnavailable` for anything transient."""

    name: str

    def quote(self, symbol: str) -> Quote: ...

    def chain(self, symbol: str) -> OptionChain: ...

    def history(self, symbol: str, days: int = 30) -> PriceHistory: ...
