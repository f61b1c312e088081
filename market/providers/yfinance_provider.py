"""Live data from Yahoo Finance through the ``yfinance`` package (optional extra ``yfinance``).

Two layers:

* :class:`YFinanceClient` is the only code that talks to yfinance: ``info``, daily history,
  the list of expiries and one expiry's calls/puts. Every call runs in a worker thread with a
  hard timeout and is retried with exponential backoff (plus jitter) on transient errors.
* :class:`YFinanceProvider` maps those responses to :class:`~market.data.Quote`,
  :class:`~market.data.OptionChain` and :class:`~market.data.PriceHistory`, normalising what
  Yahoo sends: zero or missing bids/asks (both zero = no market -> nan; a zero bid with an ask is a
  real "no bid" quote and kept), crossed markets (-> nan), zero last prices, last trades older than
  ``stale_after_days`` (dropped and counted in ``chain.meta["stale_last"]``), missing volume/open
  interest (-> 0). Yahoo's own implied vols are not used (often nan or placeholders such as
  1e-5); IVs are solved by :mod:`market.iv` from the mids.

An empty answer for a well-formed symbol becomes :class:`~market.errors.UnknownSymbol`; timeouts,
HTTP and parsing failures become :class:`~market.errors.ProviderUnavailable`.
"""

from __future__ import annotations

import logging
import math
import random
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

import numpy as np

from market.data import OptionChain, PriceHistory, Quote, normalize_symbol
from market.errors import InvalidSymbol, MarketDataError, ProviderUnavailable, UnknownSymbol

logger = logging.getLogger(__name__)

R = TypeVar("R")

_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="yfinance")
_NOT_FOUND = re.compile(r"\b404\b|not found|no data found|possibly delisted|quote not found", re.I)


class YFinanceClient:
    """Raw yfinance access (DataFrames and dicts), with timeouts and retries."""

    def __init__(
        self,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        ticker_factory: Callable[[str], Any] | None = None,
    ) -> None:
        self.timeout = timeout
        self.retries = max(1, retries)
        self.backoff = backoff
        self.sleep = sleep
        self._ticker_factory = ticker_factory
        self._lock = threading.Lock()

    def _ticker(self, symbol: str) -> Any:
        if self._ticker_factory is not None:
            return self._ticker_factory(symbol)
        try:
            import yfinance
        except ImportError as exc:  # optional dependency
            raise ProviderUnavailable(
                "the yfinance provider needs the 'yfinance' extra (uv sync --extra yfinance)"
            ) from exc
        return yfinance.Ticker(symbol)

    def call(self, what: str, fn: Callable[[], R]) -> R:
        """Run ``fn`` with a timeout; retry transient failures with exponential backoff."""
        last: Exception | None = None
        for attempt in range(self.retries):
            if attempt:
                # retry jitter
                delay = self.backoff * 2 ** (attempt - 1) * (1.0 + 0.25 * random.random())  # nosec B311
                self.sleep(delay)
            future = _POOL.submit(fn)
            try:
                return future.result(timeout=self.timeout)
            except FutureTimeout:
                future.cancel()
                last = ProviderUnavailable(f"yfinance {what} timed out after {self.timeout:.0f}s")
            except (UnknownSymbol, InvalidSymbol):
                raise
            except Exception as exc:
                if _NOT_FOUND.search(str(exc)):
                    # Yahoo answers unknown tickers with 404 / "no data found": not transient
                    raise UnknownSymbol(
                        f"Yahoo Finance does not know this symbol ({what})"
                    ) from exc
                last = exc
            logger.info(
                "yfinance %s failed (attempt %d/%d): %s", what, attempt + 1, self.retries, last
            )
        if isinstance(last, MarketDataError):
            raise last
        raise ProviderUnavailable(
            f"yfinance {what} failed: {type(last).__name__}: {last}"
        ) from last

    def info(self, symbol: str) -> dict[str, Any]:
        def run() -> dict[str, Any]:
            data = self._ticker(symbol).info
            return dict(data or {})

        return self.call(f"info({symbol})", run)

    def history(self, symbol: str, days: int) -> Any:
        return self.call(
            f"history({symbol})",
            lambda: self._ticker(symbol).history(
                period=f"{days}d", interval="1d", auto_adjust=False
            ),
        )

    def expirations(self, symbol: str) -> tuple[str, ...]:
        return self.call(f"options({symbol})", lambda: tuple(self._ticker(symbol).options or ()))

    def option_chain(self, symbol: str, expiry: str) -> Any:
        return self.call(
            f"option_chain({symbol}, {expiry})", lambda: self._ticker(symbol).option_chain(expiry)
        )


def _num(x: Any) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return math.nan
    return v if math.isfinite(v) else math.nan


def _positive(x: Any) -> float | None:
    v = _num(x)
    return v if v > 0 else None


class YFinanceProvider:
    name = "yfinance"

    def __init__(
        self,
        client: YFinanceClient | None = None,
        *,
        timeout: float = 10.0,
        max_expiries: int = 16,
        stale_after_days: int = 5,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.client = client or YFinanceClient(timeout=timeout)
        self.max_expiries = max_expiries
        self.stale_after_days = stale_after_days
        self.clock = clock or (lambda: datetime.now(UTC))

    # ---- quote ---------------------------------------------------------------------------

    def quote(self, symbol: str) -> Quote:
        sym = normalize_symbol(symbol)
        info = self.client.info(sym)
        price = _positive(info.get("regularMarketPrice")) or _positive(info.get("currentPrice"))
        if price is None:
            raise UnknownSymbol(f"Yahoo Finance has no price for {sym!r}")
        ts = _num(info.get("regularMarketTime"))
        as_of = datetime.fromtimestamp(ts, tz=UTC) if ts > 0 else self.clock()
        bid, ask = _positive(info.get("bid")), _positive(info.get("ask"))
        if bid is not None and ask is not None and ask < bid:
            bid = ask = None
        prev = _positive(info.get("regularMarketPreviousClose")) or _positive(
            info.get("previousClose")
        )
        return Quote(
            symbol=sym,
            spot=price,
            prev_close=prev,
            bid=bid,
            ask=ask,
            as_of=as_of,
            provider=self.name,
            dividend_yield=self._dividend_yield(info),
        )

    @staticmethod
    def _dividend_yield(info: dict[str, Any]) -> float:
        trailing = _num(info.get("trailingAnnualDividendYield"))
        if 0 <= trailing < 0.25:
            return trailing
        quoted = _num(info.get("dividendYield"))  # Yahoo now sends percent (1.2 = 1.2 %)
        if 0 <= quoted < 25:
            return quoted / 100.0 if quoted >= 0.25 else quoted
        return 0.0

    # ---- history -------------------------------------------------------------------------

    def history(self, symbol: str, days: int = 30) -> PriceHistory:
        sym = normalize_symbol(symbol)
        days = max(1, min(int(days), 3650))
        df = self.client.history(sym, days)
        if df is None or len(df) == 0 or "Close" not in df:
            raise UnknownSymbol(f"Yahoo Finance has no history for {sym!r}")
        close = np.asarray(df["Close"], dtype=float)
        dates = np.array(
            [np.datetime64(getattr(d, "date", lambda d=d: d)(), "D") for d in df.index]
        )
        ok = np.isfinite(close) & (close > 0)
        return PriceHistory(sym, self.name, dates[ok], close[ok])

    # ---- chain ---------------------------------------------------------------------------

    def chain(self, symbol: str) -> OptionChain:
        sym = normalize_symbol(symbol)
        expiries = self.client.expirations(sym)
        if not expiries:
            raise UnknownSymbol(f"Yahoo Finance lists no options for {sym!r}")
        now = self.clock()
        cols: dict[str, list[Any]] = {
            k: [] for k in ("expiry", "strike", "is_call", "bid", "ask", "last", "volume", "oi")
        }
        spot = math.nan
        as_of = now
        div = 0.0
        stale_last = 0
        for exp in sorted(expiries)[: self.max_expiries]:
            try:
                d = date.fromisoformat(str(exp)[:10])
            except ValueError:
                logger.warning("yfinance: skipping malformed expiry %r for %s", exp, sym)
                continue
            oc = self.client.option_chain(sym, str(exp))
            under = dict(getattr(oc, "underlying", None) or {})
            if not math.isfinite(spot):
                spot = _positive(under.get("regularMarketPrice")) or math.nan
                ts = _num(under.get("regularMarketTime"))
                if ts > 0:
                    as_of = datetime.fromtimestamp(ts, tz=UTC)
                div = self._dividend_yield(under)
            for frame, is_call in ((oc.calls, True), (oc.puts, False)):
                stale_last += self._append(cols, frame, d, is_call, as_of)
        if not math.isfinite(spot):
            spot = self.quote(sym).spot
        if not cols["strike"]:
            raise UnknownSymbol(f"Yahoo Finance returned no contracts for {sym!r}")
        return OptionChain.build(
            symbol=sym,
            spot=spot,
            as_of=as_of,
            provider=self.name,
            dividend_yield=div,
            expiry=np.array(cols["expiry"], dtype="datetime64[D]"),
            strike=np.array(cols["strike"], dtype=float),
            is_call=np.array(cols["is_call"], dtype=bool),
            bid=np.array(cols["bid"], dtype=float),
            ask=np.array(cols["ask"], dtype=float),
            last=np.array(cols["last"], dtype=float),
            volume=np.array(cols["volume"], dtype=float),
            open_interest=np.array(cols["oi"], dtype=float),
            meta={"stale_last": stale_last, "expiries_listed": len(expiries)},
        )

    def _append(
        self, cols: dict[str, list[Any]], frame: Any, d: date, is_call: bool, as_of: datetime
    ) -> int:
        if frame is None or len(frame) == 0:
            return 0
        records = frame.to_dict("records")
        cutoff = as_of - timedelta(days=self.stale_after_days)
        stale = 0
        for rec in records:
            k = _num(rec.get("strike"))
            if not k > 0:
                continue
            bid, ask = _num(rec.get("bid")), _num(rec.get("ask"))
            if (bid == 0 or math.isnan(bid)) and (ask == 0 or math.isnan(ask)):
                bid = ask = math.nan  # no market at all
            elif math.isnan(bid) and ask > 0:
                bid = 0.0  # one-sided: nobody bids
            elif ask < bid or not ask > 0:
                bid = ask = math.nan  # crossed or no offer
            last = _num(rec.get("lastPrice"))
            if not last > 0:
                last = math.nan
            traded = rec.get("lastTradeDate")
            when = _to_datetime(traded)
            if when is not None and when < cutoff and math.isfinite(last):
                last = math.nan
                stale += 1
            vol, oi = _num(rec.get("volume")), _num(rec.get("openInterest"))
            cols["expiry"].append(d)
            cols["strike"].append(k)
            cols["is_call"].append(is_call)
            cols["bid"].append(bid)
            cols["ask"].append(ask)
            cols["last"].append(last)
            cols["volume"].append(vol if vol >= 0 else 0.0)
            cols["oi"].append(oi if oi >= 0 else 0.0)
        return stale


def _to_datetime(x: Any) -> datetime | None:
    if x is None:
        return None
    if hasattr(x, "to_pydatetime"):
        try:
            x = x.to_pydatetime()
        except (ValueError, TypeError):
            return None
    if isinstance(x, str):
        try:
            x = datetime.fromisoformat(x.replace("Z", "+00:00"))
        except ValueError:
            return None
    if isinstance(x, datetime):
        return x if x.tzinfo else x.replace(tzinfo=UTC)
    return None
