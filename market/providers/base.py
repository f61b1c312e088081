"""The provider interface: a quote, a chain and (optionally) price history for a symbol."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol, runtime_checkable

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


@dataclass(frozen=True)
class Retry:
    """How a provider's client retries a failed request: ``attempts`` tries in all, waiting
    ``backoff * 2**(n - 1)`` seconds before retry n, plus up to 25 % jitter so that clients
    restarted together do not retry in step."""

    attempts: int = 3
    backoff: float = 0.5
    sleep: Callable[[float], None] = time.sleep

    @property
    def tries(self) -> int:
        """How many tries in all: at least one."""
        return max(1, self.attempts)

    def __iter__(self) -> Iterator[int]:
        """The attempt numbers 0, 1, …, sleeping before each retry."""
        for attempt in range(self.tries):
            if attempt:
                jitter = 1.0 + 0.25 * random.random()  # nosec B311 (retry jitter, not crypto)
                self.sleep(self.backoff * 2 ** (attempt - 1) * jitter)
            yield attempt


def number(x: Any) -> float:
    """A provider's field as a float; NaN (a gap in the chain's arrays) when it is missing,
    not a number, or infinite."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return math.nan
    return v if math.isfinite(v) else math.nan


def positive(x: Any) -> float | None:
    """A provider's price-like field when it is a positive number, else ``None``."""
    v = number(x)
    return v if v > 0 else None


def clean_bid_ask(bid: float, ask: float) -> tuple[float, float]:
    """One contract's bid/ask as the chain stores them (nan = no quote).

    Both sides zero or missing: no market (nan, nan). A zero or missing bid with an ask is a real
    "nobody bids" quote (0, ask). A crossed market or a bid without an offer: (nan, nan).
    """
    if (bid == 0 or math.isnan(bid)) and (ask == 0 or math.isnan(ask)):
        return math.nan, math.nan
    if (bid == 0 or math.isnan(bid)) and ask > 0:
        return 0.0, ask
    if ask < bid or not ask > 0:
        return math.nan, math.nan
    return bid, ask


class ChainRows:
    """A provider's contracts, collected one row at a time, then built into an
    :class:`OptionChain` (which sets the columns' dtypes and sorts the rows).

    Negative volume or open interest (a provider's placeholder) is stored as 0, NaN as is.
    """

    def __init__(self) -> None:
        self.expiry: list[date] = []
        self.strike: list[float] = []
        self.is_call: list[bool] = []
        self.bid: list[float] = []
        self.ask: list[float] = []
        self.last: list[float] = []
        self.volume: list[float] = []
        self.open_interest: list[float] = []

    def __len__(self) -> int:
        return len(self.strike)

    def add(
        self,
        expiry: date,
        strike: float,
        is_call: bool,
        quote: tuple[float, float],
        last: float,
        volume: float,
        open_interest: float,
    ) -> None:
        """One contract; ``quote`` is the (bid, ask) of :func:`clean_bid_ask`."""
        self.expiry.append(expiry)
        self.strike.append(strike)
        self.is_call.append(is_call)
        self.bid.append(quote[0])
        self.ask.append(quote[1])
        self.last.append(last)
        self.volume.append(volume if volume >= 0 else 0.0)
        self.open_interest.append(open_interest if open_interest >= 0 else 0.0)

    def build(self, **fields: Any) -> OptionChain:
        """The chain; the columns are this object's attributes, named as :meth:`OptionChain.build`
        takes them, and ``fields`` its other keywords (symbol, spot…)."""
        return OptionChain.build(**vars(self), **fields)


def occ_expiry(yymmdd: str) -> date:
    """The expiry in an OCC option symbol (``GLD261218P00350000`` -> 2026-12-18)."""
    return date(2000 + int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:6]))
