"""Data model shared by all providers: a spot quote and an option chain (columnar arrays).

A chain is stored as parallel numpy columns over all contracts (one row per contract), which is
what the vectorised pricing and implied-volatility code consumes directly. ``to_dict`` /
``from_dict`` give a JSON-safe form (used by the replay provider and snapshots).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

import numpy as np

from core.numbers import finite
from market.calendar import market_date
from market.errors import InvalidSymbol

CONTRACT_MULTIPLIER = 100  # shares per listed equity/ETF option contract

SYMBOL_RE = re.compile(r"^[A-Z0-9^][A-Z0-9.\-=^]{0,9}$")


def normalize_symbol(symbol: object) -> str:
    """Upper-case and validate a ticker; raise :class:`InvalidSymbol` when malformed."""
    if not isinstance(symbol, str):
        raise InvalidSymbol("symbol must be a string")
    s = symbol.strip().upper()
    if not SYMBOL_RE.match(s):
        raise InvalidSymbol(
            f"invalid symbol {symbol[:20]!r}: use 1-10 characters A-Z, 0-9, '.', '-', '^', '='"
        )
    return s


def _iso(dt: datetime) -> str:
    return dt.isoformat()


@dataclass(frozen=True)
class MarketInputs:
    """The market inputs every computed number depends on (echoed in API responses).

    ``rate`` and ``div_yield`` are continuously compounded annual rates; ``as_of`` is the data's
    timestamp; ``age_s`` its age when served (``stale``: served from the last good value).
    """

    symbol: str
    spot: float
    rate: float
    div_yield: float
    as_of: datetime
    provider: str = ""
    stale: bool = False
    age_s: float = 0.0
    prev_close: float | None = None
    market_state: str = ""  # the quote's session state ("" = unknown); see market.session


@dataclass(frozen=True)
class Quote:
    symbol: str
    spot: float
    prev_close: float | None
    bid: float | None
    ask: float | None
    as_of: datetime
    provider: str
    stale: bool = False
    age_s: float = 0.0
    dividend_yield: float = 0.0
    market_state: str = ""  # REGULAR, PRE, POST, CLOSED ... ("" = unknown); see market.session

    @property
    def day_change(self) -> float | None:
        if self.prev_close is None or not self.prev_close:
            return None
        return self.spot - self.prev_close

    def with_staleness(self, stale: bool, age_s: float) -> Quote:
        return replace(self, stale=stale, age_s=round(max(0.0, age_s), 3))

    def to_dict(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "spot": self.spot,
            "prev_close": finite(self.prev_close),
            "bid": finite(self.bid),
            "ask": finite(self.ask),
            "as_of": _iso(self.as_of),
            "provider": self.provider,
            "stale": self.stale,
            "age_s": self.age_s,
            "dividend_yield": self.dividend_yield,
            "market_state": self.market_state,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Quote:
        return cls(
            symbol=str(d["symbol"]),
            spot=float(d["spot"]),
            prev_close=None if d.get("prev_close") is None else float(d["prev_close"]),
            bid=None if d.get("bid") is None else float(d["bid"]),
            ask=None if d.get("ask") is None else float(d["ask"]),
            as_of=datetime.fromisoformat(d["as_of"]),
            provider=str(d.get("provider", "replay")),
            stale=bool(d.get("stale", False)),
            age_s=float(d.get("age_s", 0.0)),
            dividend_yield=float(d.get("dividend_yield", 0.0)),
            market_state=str(d.get("market_state") or ""),
        )


_CHAIN_COLUMNS = ("expiry", "strike", "is_call", "bid", "ask", "last", "volume", "open_interest")


@dataclass(frozen=True, eq=False)
class OptionChain:
    """All listed contracts of one underlying, as parallel columns.

    ``bid``/``ask``/``last`` are float arrays with ``nan`` where the provider had no price;
    ``volume``/``open_interest`` are int64 (0 when unknown). ``expiries`` lists the distinct
    expiry dates in ascending order. Rows are sorted by (expiry, is_call desc, strike).
    """

    symbol: str
    spot: float
    as_of: datetime
    provider: str
    stale: bool
    age_s: float
    dividend_yield: float
    expiries: tuple[date, ...]
    expiry: np.ndarray
    strike: np.ndarray
    is_call: np.ndarray
    bid: np.ndarray
    ask: np.ndarray
    last: np.ndarray
    volume: np.ndarray
    open_interest: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        *,
        symbol: str,
        spot: float,
        as_of: datetime,
        provider: str,
        dividend_yield: float,
        expiry: Any,
        strike: Any,
        is_call: Any,
        bid: Any,
        ask: Any,
        last: Any = None,
        volume: Any = None,
        open_interest: Any = None,
        stale: bool = False,
        age_s: float = 0.0,
        meta: dict[str, Any] | None = None,
    ) -> OptionChain:
        """Coerce the columns to their dtypes, sort rows and derive ``expiries``."""
        exp = np.asarray(expiry, dtype="datetime64[D]")
        n = exp.shape[0]
        k = np.asarray(strike, dtype=float).reshape(n)
        c = np.asarray(is_call, dtype=bool).reshape(n)
        b = np.asarray(bid, dtype=float).reshape(n)
        a = np.asarray(ask, dtype=float).reshape(n)
        lst = np.full(n, np.nan) if last is None else np.asarray(last, dtype=float).reshape(n)
        vol = np.zeros(n, np.int64) if volume is None else np.asarray(volume).reshape(n)
        oi = np.zeros(n, np.int64) if open_interest is None else np.asarray(open_interest)
        vol = np.nan_to_num(vol.astype(float), nan=0.0).astype(np.int64)
        oi = np.nan_to_num(oi.reshape(n).astype(float), nan=0.0).astype(np.int64)
        order = np.lexsort((k, ~c, exp))
        exp, k, c, b, a, lst, vol, oi = (x[order] for x in (exp, k, c, b, a, lst, vol, oi))
        expiries = tuple(d.item() for d in np.unique(exp))
        return cls(
            symbol=symbol,
            spot=float(spot),
            as_of=as_of,
            provider=provider,
            stale=stale,
            age_s=age_s,
            dividend_yield=float(dividend_yield),
            expiries=expiries,
            expiry=exp,
            strike=k,
            is_call=c,
            bid=b,
            ask=a,
            last=lst,
            volume=vol,
            open_interest=oi,
            meta=dict(meta or {}),
        )

    def __len__(self) -> int:
        return int(self.strike.shape[0])

    @property
    def mid(self) -> np.ndarray:
        """(bid+ask)/2 where both sides are quoted (bid >= 0, ask > 0, not crossed); else nan."""
        ok = np.isfinite(self.bid) & np.isfinite(self.ask) & (self.ask >= self.bid)
        ok &= (self.bid >= 0) & (self.ask > 0)
        return np.where(ok, 0.5 * (self.bid + self.ask), np.nan)

    def _subset(self, mask: np.ndarray) -> OptionChain:
        return OptionChain.build(
            symbol=self.symbol,
            spot=self.spot,
            as_of=self.as_of,
            provider=self.provider,
            dividend_yield=self.dividend_yield,
            expiry=self.expiry[mask],
            strike=self.strike[mask],
            is_call=self.is_call[mask],
            bid=self.bid[mask],
            ask=self.ask[mask],
            last=self.last[mask],
            volume=self.volume[mask],
            open_interest=self.open_interest[mask],
            stale=self.stale,
            age_s=self.age_s,
            meta=self.meta,
        )

    def for_expiry(self, d: date | str | np.datetime64) -> OptionChain:
        """The contracts of one expiry date (an empty chain when none)."""
        return self._subset(self.expiry == np.asarray(d, dtype="datetime64[D]"))

    def nearest_expiry(self, as_of: date | None = None) -> date | None:
        """The first listed expiry on or after ``as_of`` (default: the chain's date)."""
        day = as_of or market_date(self.as_of)
        for d in self.expiries:
            if d >= day:
                return d
        return None

    def with_staleness(self, stale: bool, age_s: float) -> OptionChain:
        return replace(self, stale=stale, age_s=round(max(0.0, age_s), 3))

    def to_dict(self) -> dict[str, Any]:
        def col(x: np.ndarray) -> list[Any]:
            if x.dtype.kind == "f":
                return [None if not math.isfinite(v) else float(v) for v in x.tolist()]
            return list(x.tolist())

        return {
            "symbol": self.symbol,
            "spot": self.spot,
            "as_of": _iso(self.as_of),
            "provider": self.provider,
            "stale": self.stale,
            "age_s": self.age_s,
            "dividend_yield": self.dividend_yield,
            "meta": self.meta,
            "contracts": {
                "expiry": [str(d) for d in self.expiry],
                "strike": col(self.strike),
                "is_call": col(self.is_call),
                "bid": col(self.bid),
                "ask": col(self.ask),
                "last": col(self.last),
                "volume": col(self.volume),
                "open_interest": col(self.open_interest),
            },
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> OptionChain:
        c = d["contracts"]

        def fcol(name: str) -> np.ndarray:
            return np.array([np.nan if v is None else v for v in c[name]], dtype=float)

        return cls.build(
            symbol=str(d["symbol"]),
            spot=float(d["spot"]),
            as_of=datetime.fromisoformat(d["as_of"]),
            provider=str(d.get("provider", "replay")),
            dividend_yield=float(d.get("dividend_yield", 0.0)),
            expiry=np.array(c["expiry"], dtype="datetime64[D]"),
            strike=fcol("strike"),
            is_call=np.array(c["is_call"], dtype=bool),
            bid=fcol("bid"),
            ask=fcol("ask"),
            last=fcol("last"),
            volume=np.array(c["volume"], dtype=np.int64),
            open_interest=np.array(c["open_interest"], dtype=np.int64),
            stale=bool(d.get("stale", False)),
            age_s=float(d.get("age_s", 0.0)),
            meta=dict(d.get("meta") or {}),
        )


@dataclass(frozen=True, eq=False)
class PriceHistory:
    """Daily closes of an underlying (oldest first)."""

    symbol: str
    provider: str
    dates: np.ndarray  # datetime64[D]
    close: np.ndarray  # float
