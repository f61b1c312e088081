"""Live data from Yahoo Finance through the ``yfinance`` package (optional extra ``yfinance``).

Two layers:

* :class:`YFinanceClient` is the only code that talks to yfinance: ``info``, daily history and
  option chains, through one :class:`ObservedSession` (yfinance's own kind of curl_cffi session)
  that notes the HTTP status of every Yahoo data answer. yfinance swallows most HTTP errors into
  empty data (a 401 "Invalid Crumb" becomes an empty chain), so an empty answer is judged by
  those statuses: 404 means an unknown symbol; 401, 403, 429 and 5xx mean the provider is
  unavailable (retried here with exponential backoff, then counted by the service's circuit
  breaker). Every call runs in a worker thread with a hard timeout.
* :class:`YFinanceProvider` maps the answers to :class:`~market.data.Quote`,
  :class:`~market.data.OptionChain` and :class:`~market.data.PriceHistory`, normalising what
  Yahoo sends: zero or missing bids/asks (both zero = no market -> nan; a zero bid with an ask is a
  real "no bid" quote and kept), crossed markets (-> nan), zero last prices, last trades older than
  ``stale_after_days`` (dropped and counted in ``chain.meta["stale_last"]``), missing volume/open
  interest (-> 0). The quote's ``marketState`` travels with the quote and the chain.

A chain is one request per expiry on one ``Ticker`` (the first request, without a date, lists the
expiries and carries the nearest one), over expiries chosen across the term structure by
:func:`choose_expiries`. Yahoo's own ``impliedVolatility`` is not used: it counts whole days to
expiry from the current date (up to 2x off ours on the last day, and often a placeholder such as
1e-5); IVs are solved by :mod:`market.iv` from the mids with our time to expiry
(:func:`market.calendar.year_fraction`).
"""

from __future__ import annotations

import functools
import logging
import math
import re
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

import numpy as np

from market.calendar import monthly_expiry
from market.data import OptionChain, PriceHistory, Quote, normalize_symbol
from market.errors import (
    InvalidSymbol,
    MarketDataError,
    NoListedOptions,
    ProviderUnavailable,
    UnknownSymbol,
)
from market.providers.base import ChainRows, Retry, clean_bid_ask, number, occ_expiry, positive
from market.session import normalize_state

logger = logging.getLogger(__name__)

R = TypeVar("R")

_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="yfinance")
_DATA_HOSTS = frozenset({"query1.finance.yahoo.com", "query2.finance.yahoo.com"})
_CRUMB_PATH = "/v1/test/getcrumb"
UNAVAILABLE_STATUSES = frozenset({401, 403, 429})
_OCC_DATE = re.compile(r"(\d{6})[CP]\d{8}$")

_answers = threading.local()


def _note(url: str, status: int) -> None:
    """Record a Yahoo data answer's status for the call running in this thread."""
    seen = getattr(_answers, "seen", None)
    if seen is None:
        return
    parts = urlsplit(url)
    if parts.hostname in _DATA_HOSTS and parts.path != _CRUMB_PATH:
        seen.append((f"{parts.path}?{parts.query}", status))


@functools.cache
def observed_session_class() -> type:
    """The session class (built on first use: curl_cffi comes with the optional extra)."""
    from curl_cffi import requests as curl_requests

    class ObservedSession(curl_requests.Session):
        """yfinance's default session (curl_cffi) that notes each Yahoo data answer's status."""

        def request(self, method: Any, url: str, *args: Any, **kwargs: Any) -> Any:
            response = self._send(method, url, *args, **kwargs)
            _note(str(url), int(response.status_code))
            return response

        def _send(self, method: Any, url: str, *args: Any, **kwargs: Any) -> Any:
            """The network round trip (tests replace only this)."""
            return super().request(method, url, *args, **kwargs)

    return ObservedSession


def _observed(fn: Callable[[], R]) -> tuple[R, list[tuple[str, int]]]:
    """``fn()`` and the Yahoo answers it got (attached to an exception as ``yahoo_statuses``)."""
    _answers.seen = []
    try:
        return fn(), list(_answers.seen)
    except Exception as exc:
        exc.yahoo_statuses = _final_statuses(_answers.seen)  # type: ignore[attr-defined]
        raise
    finally:
        _answers.seen = None


def _final_statuses(seen: Sequence[tuple[str, int]]) -> list[int]:
    """The last status per URL (yfinance retries a 4xx once with another cookie strategy)."""
    last: dict[str, int] = {}
    for url, status in seen:
        last[url] = status
    return list(last.values())


def _unavailable_status(statuses: Sequence[int]) -> int | None:
    for status in statuses:
        if status in UNAVAILABLE_STATUSES or status >= 500:
            return status
    return None


def _exception_status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    return int(status) if isinstance(status, int) else None


class YFinanceClient:
    """Raw yfinance access (DataFrames and dicts), with status checks, timeouts and retries."""

    def __init__(
        self, timeout: float = 10.0, retry: Retry | None = None, session: Any = None
    ) -> None:
        self.timeout = timeout
        self.retry = retry or Retry()
        self._session = session
        self._lock = threading.Lock()

    def session(self) -> Any:
        with self._lock:
            if self._session is None:
                try:
                    self._session = observed_session_class()(impersonate="chrome")
                except ImportError as exc:  # optional dependency
                    raise ProviderUnavailable(
                        "the yfinance provider needs the 'yfinance' extra (uv sync --extra yfinance)"
                    ) from exc
            return self._session

    def ticker(self, symbol: str) -> Any:
        """One ``yfinance.Ticker`` (no request yet); reuse it for every expiry of a chain."""
        try:
            import yfinance
        except ImportError as exc:  # optional dependency
            raise ProviderUnavailable(
                "the yfinance provider needs the 'yfinance' extra (uv sync --extra yfinance)"
            ) from exc
        return yfinance.Ticker(symbol, session=self.session())

    def call(self, what: str, fn: Callable[[], R], usable: Callable[[R], bool]) -> R:
        """Run ``fn`` with a timeout and judge an unusable answer by Yahoo's HTTP statuses.

        404 -> :class:`UnknownSymbol` (not retried); 401/403/429/5xx, timeouts and transport
        errors -> retried with exponential backoff, then :class:`ProviderUnavailable`; an
        unusable answer that Yahoo gave with 200 is returned for the caller to judge.
        """
        last: Exception | None = None
        for attempt in self.retry:
            future = _POOL.submit(_observed, fn)
            try:
                result, seen = future.result(timeout=self.timeout)
            except FutureTimeout:
                future.cancel()
                last = ProviderUnavailable(f"yfinance {what} timed out after {self.timeout:.0f}s")
            except (UnknownSymbol, InvalidSymbol):
                raise
            except Exception as exc:
                statuses = [*getattr(exc, "yahoo_statuses", []), _exception_status(exc) or 200]
                bad = _unavailable_status(statuses)
                if bad is None and 404 in statuses:
                    raise UnknownSymbol(f"Yahoo Finance answered 404 for {what}") from exc
                if bad is not None:
                    last = ProviderUnavailable(f"Yahoo Finance answered HTTP {bad} for {what}")
                elif type(exc).__name__ == "YFRateLimitError":
                    last = ProviderUnavailable(f"Yahoo Finance rate limit (HTTP 429) on {what}")
                else:
                    last = ProviderUnavailable(
                        f"yfinance {what} failed: {type(exc).__name__}: {exc}"
                    )
                    last.__cause__ = exc
            else:
                if usable(result):
                    return result
                statuses = _final_statuses(seen)
                bad = _unavailable_status(statuses)
                if bad is None:
                    if 404 in statuses:
                        raise UnknownSymbol(f"Yahoo Finance answered 404 for {what}")
                    return result
                last = ProviderUnavailable(f"Yahoo Finance answered HTTP {bad} for {what}")
            logger.info(
                "yfinance %s failed (attempt %d/%d): %s",
                what,
                attempt + 1,
                self.retry.tries,
                last,
            )
        if isinstance(last, MarketDataError):
            raise last
        raise ProviderUnavailable(f"yfinance {what} failed: {last}") from last

    def info(self, symbol: str) -> dict[str, Any]:
        def run() -> dict[str, Any]:
            ticker = self.ticker(symbol)
            try:
                return dict(ticker.info or {})
            except Exception:
                # yfinance fetches the quote, then fundamentals; an ETF's fundamentals answer
                # 404 and yfinance raises although the quote arrived. Keep the quote (a test
                # pins this to the yfinance version in the lock file).
                quote = getattr(getattr(ticker, "_quote", None), "_info", None)
                if isinstance(quote, dict) and _price(quote) is not None:
                    return dict(quote)
                raise

        return self.call(f"info({symbol})", run, lambda info: _price(info) is not None)

    def history(self, symbol: str, days: int) -> Any:
        return self.call(
            f"history({symbol})",
            lambda: self.ticker(symbol).history(
                period=f"{days}d", interval="1d", auto_adjust=False
            ),
            lambda df: df is not None and len(df) > 0,
        )

    def option_chain(self, ticker: Any, expiry: str | None) -> Any:
        """One expiry's calls, puts and underlying quote (``None``: the nearest expiry)."""
        what = f"option_chain({ticker.ticker}, {expiry or 'nearest'})"
        return self.call(
            what,
            lambda: ticker.option_chain() if expiry is None else ticker.option_chain(expiry),
            lambda oc: getattr(oc, "calls", None) is not None,
        )

    def expirations(self, ticker: Any) -> tuple[str, ...]:
        """The listed expiries (no request when :meth:`option_chain` already fetched them)."""
        return self.call(
            f"options({ticker.ticker})", lambda: tuple(ticker.options or ()), lambda e: bool(e)
        )


def _price(info: dict[str, Any]) -> float | None:
    return positive(info.get("regularMarketPrice")) or positive(info.get("currentPrice"))


def dividend_yield(info: dict[str, Any]) -> float:
    """Annual dividend yield as a decimal, from a Yahoo quote.

    Prefers the current dividend: ``dividendRate / price``. ``dividendYield`` is always a
    percent (1.39 = 1.39 %, 0.2 = 0.2 %), used when there is no rate and as a cross-check.
    ``trailingAnnualDividendYield`` is not used: it is often stale (5.3 % for a stock whose
    current dividend yields 1.39 %).
    """
    price = _price(info)
    rate = positive(info.get("dividendRate"))
    quoted = number(info.get("dividendYield"))
    quoted = quoted / 100.0 if 0 <= quoted < 100 else math.nan
    if rate is not None and price is not None:
        q = rate / price
        if math.isfinite(quoted) and abs(q - quoted) > max(0.002, 0.25 * q):
            logger.warning(
                "yfinance %s: dividendRate/price %.4f disagrees with dividendYield %.4f",
                info.get("symbol", "?"),
                q,
                quoted,
            )
        return q if q < 0.25 else 0.0
    if math.isfinite(quoted) and quoted < 0.25:
        return quoted
    return 0.0


def _as_of(info: dict[str, Any], fallback: datetime) -> datetime:
    ts = number(info.get("regularMarketTime"))
    return datetime.fromtimestamp(ts, tz=UTC) if ts > 0 else fallback


def choose_expiries(expiries: Sequence[date], today: date, limit: int = 16) -> list[date]:
    """Up to ``limit`` expiries spread over the term structure.

    Weeklies in the first three weeks (at most five), then the standard monthlies, the
    quarterlies and LEAPS further out; the farthest expiry and the first one a year or more out
    are always kept, so that year-long hedges can be priced. With daily expiries "the first 16"
    would reach only two months.
    """
    future = sorted(d for d in set(expiries) if d >= today)
    if len(future) <= limit:
        return future
    near = [d for d in future if (d - today).days <= 21][:5]
    rest = [d for d in future if d not in near]
    year_out = [d for d in rest if (d - today).days >= 365]
    anchors = {rest[-1], *year_out[:1]}
    monthly = [d for d in rest if d == monthly_expiry(d.year, d.month) and d not in anchors]
    others = [d for d in rest if d not in anchors and d not in monthly]
    room = max(0, limit - len(near) - len(anchors))
    picked = _spread(monthly, room)
    picked += _spread(others, room - len(picked))
    return sorted({*near, *anchors, *picked})


def _spread(items: Sequence[date], n: int) -> list[date]:
    """``n`` items evenly spread over ``items`` (all of them when there are no more)."""
    if n <= 0:
        return []
    if len(items) <= n:
        return list(items)
    idx = np.unique(np.round(np.linspace(0, len(items) - 1, n)).astype(int))
    return [items[i] for i in idx]


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
        price = _price(info)
        if price is None:
            raise UnknownSymbol(f"Yahoo Finance has no price for {sym!r}")
        bid, ask = positive(info.get("bid")), positive(info.get("ask"))
        if bid is not None and ask is not None and ask < bid:
            bid = ask = None
        prev = positive(info.get("regularMarketPreviousClose")) or positive(
            info.get("previousClose")
        )
        return Quote(
            symbol=sym,
            spot=price,
            prev_close=prev,
            bid=bid,
            ask=ask,
            as_of=_as_of(info, self.clock()),
            provider=self.name,
            dividend_yield=dividend_yield(info),
            market_state=normalize_state(info.get("marketState")),
        )

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
        ticker = self.client.ticker(sym)
        nearest = self.client.option_chain(ticker, None)
        listed = self.client.expirations(ticker)
        if not listed:
            # An empty list is only "no options" once a quote confirms Yahoo knows the symbol
            # (raises UnknownSymbol / ProviderUnavailable otherwise).
            quote = self.quote(sym)
            raise NoListedOptions(
                f"{sym} has no listed options on Yahoo Finance (last {quote.spot:g})"
            )
        dates: dict[date, str] = {}
        for raw in listed:
            try:
                dates[date.fromisoformat(str(raw)[:10])] = str(raw)
            except ValueError:
                logger.warning("yfinance: skipping malformed expiry %r for %s", raw, sym)
        under = dict(nearest.underlying or {})
        now = self.clock()
        as_of = _as_of(under, now)
        nearest_day = None
        if nearest.calls is not None:
            nearest_day = _expiry_of(nearest.calls, nearest.puts) or min(dates, default=None)
        chosen = choose_expiries(list(dates), as_of.astimezone(UTC).date(), self.max_expiries)
        rows = ChainRows()
        stale_last = 0
        for d in chosen:
            oc = nearest if d == nearest_day else self.client.option_chain(ticker, dates[d])
            for frame, is_call in ((oc.calls, True), (oc.puts, False)):
                stale_last += self._append(rows, frame, d, is_call, as_of)
        spot = _price(under)
        if spot is None:
            spot = self.quote(sym).spot
        if not rows:
            raise ProviderUnavailable(f"Yahoo Finance returned no contracts for {sym!r}")
        return rows.build(
            symbol=sym,
            spot=spot,
            as_of=as_of,
            provider=self.name,
            dividend_yield=dividend_yield(under),
            meta={
                "stale_last": stale_last,
                "expiries_listed": len(dates),
                "market_state": normalize_state(under.get("marketState")),
            },
        )

    def _append(self, rows: ChainRows, frame: Any, d: date, is_call: bool, as_of: datetime) -> int:
        if frame is None or len(frame) == 0:
            return 0
        records = frame.to_dict("records")
        cutoff = as_of - timedelta(days=self.stale_after_days)
        stale = 0
        for rec in records:
            k = number(rec.get("strike"))
            if not k > 0:
                continue
            last = number(rec.get("lastPrice"))
            if not last > 0:
                last = math.nan
            when = _to_datetime(rec.get("lastTradeDate"))
            if when is not None and when < cutoff and math.isfinite(last):
                last = math.nan
                stale += 1
            rows.add(
                d,
                k,
                is_call,
                clean_bid_ask(number(rec.get("bid")), number(rec.get("ask"))),
                last,
                number(rec.get("volume")),
                number(rec.get("openInterest")),
            )
        return stale


def _expiry_of(*frames: Any) -> date | None:
    """The expiry of a one-expiry answer, read from its OCC contract symbols."""
    for frame in frames:
        if frame is None or len(frame) == 0 or "contractSymbol" not in frame:
            continue
        match = _OCC_DATE.search(str(frame["contractSymbol"].iloc[0]))
        if match:
            return occ_expiry(match.group(1))
    return None


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
