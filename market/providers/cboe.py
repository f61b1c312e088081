"""CBOE's delayed quotes: a second live provider that needs no account and no key.

``https://cdn.cboe.com/api/global/delayed_quotes/options/{SYMBOL}.json`` (``_SPX`` etc. for
indices) answers one JSON document per underlying: the underlying's delayed quote
(``current_price``, ``bid``, ``ask``, ``prev_day_close``, ``last_trade_time`` ...) and every listed
contract under ``data.options`` with its OCC symbol, bid/ask, last trade, volume, open interest,
and CBOE's own IV and Greeks. Quotes are delayed 15 minutes.

What this provider takes from it, and why:

* ``as_of`` is the underlying's ``last_trade_time`` (America/New_York), i.e. the instant the
  delayed data describe, so ``age_s`` says how old the numbers are (15 minutes or more in
  session; the close after hours). The document's top-level ``timestamp`` is kept in
  ``chain.meta["cboe_timestamp"]`` as sent.
* CBOE's IVs and Greeks are not used: they follow CBOE's own time-to-expiry and rate
  conventions; like Yahoo's, mixing them with ours would make the chain inconsistent. IVs are
  solved from the mids with our convention (:mod:`market.iv`).
* There is no dividend field: ``dividend_yield`` is 0, and there is no price history
  (:attr:`has_history` is False, the service asks the next provider).
* Contracts on adjusted roots (``CLX1``: non-standard deliverables after a corporate action) are
  skipped and counted in ``chain.meta["skipped_adjusted"]``.
* The market state is not in the document; it is derived from the clock and the NYSE calendar
  (:func:`market.session.nyse_state`).

HTTP statuses map like Yahoo's: 404 -> unknown symbol; 401, 403, 429, 5xx, timeouts and
unreadable bodies -> provider unavailable (retried with backoff, then counted by the service's
circuit breaker). The document of a symbol is fetched at most once per ``refresh_s`` seconds:
quotes and the chain come from the same download.
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from market.calendar import NEW_YORK
from market.data import OptionChain, PriceHistory, Quote, normalize_symbol
from market.errors import ProviderUnavailable, UnknownSymbol
from market.providers.base import ChainRows, Retry, clean_bid_ask, number, occ_expiry, positive
from market.session import nyse_state

logger = logging.getLogger(__name__)

BASE_URL = "https://cdn.cboe.com/api/global/delayed_quotes/options/"
INDEX_SYMBOLS = frozenset({"SPX", "XSP", "NDX", "RUT", "VIX", "DJX", "OEX", "XEO", "MRUT"})
MAX_BYTES = 64 * 1024 * 1024
_OCC = re.compile(r"^(?P<root>.+)(?P<ymd>\d{6})(?P<right>[CP])(?P<strike>\d{8})$")

Transport = Callable[[str, float], tuple[int, bytes]]


def urllib_transport(url: str, timeout: float) -> tuple[int, bytes]:
    """GET ``url``: (HTTP status, body). The only network code of this provider."""
    request = urllib.request.Request(  # noqa: S310 (fixed https URL)
        url, headers={"User-Agent": "vault-dash (+delayed quotes)", "Accept": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310  # nosec B310
            return int(response.status), response.read(MAX_BYTES)
    except urllib.error.HTTPError as exc:
        return int(exc.code), b""


def document_url(symbol: str) -> str:
    name = f"_{symbol}" if symbol in INDEX_SYMBOLS else symbol
    return f"{BASE_URL}{urllib.parse.quote(name, safe='')}.json"


class CboeClient:
    """Downloads one symbol's delayed-quotes document, with retries and a short memo."""

    def __init__(
        self,
        timeout: float = 10.0,
        retry: Retry | None = None,
        refresh_s: float = 30.0,
        transport: Transport | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.timeout = timeout
        self.retry = retry or Retry()
        self.refresh_s = refresh_s
        self.transport = transport or urllib_transport
        self.monotonic = monotonic
        self._memo: dict[str, tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def document(self, symbol: str) -> dict[str, Any]:
        with self._lock:
            hit = self._memo.get(symbol)
        if hit is not None and self.monotonic() - hit[0] < self.refresh_s:
            return hit[1]
        doc = self._download(symbol)
        with self._lock:
            self._memo[symbol] = (self.monotonic(), doc)
        return doc

    def _download(self, symbol: str) -> dict[str, Any]:
        url = document_url(symbol)
        last = ProviderUnavailable(f"cboe {symbol}: no attempt made")
        for attempt in self.retry:
            try:
                status, body = self.transport(url, self.timeout)
            except (OSError, TimeoutError) as exc:
                last = ProviderUnavailable(f"cboe {symbol}: {type(exc).__name__}: {exc}")
            else:
                if status == 404:
                    raise UnknownSymbol(f"CBOE lists no options for {symbol!r} (HTTP 404)")
                if status != 200:  # 401, 403, 429, 5xx, ...: unavailable for now
                    last = ProviderUnavailable(f"CBOE answered HTTP {status} for {symbol}")
                else:
                    try:
                        doc = json.loads(body)
                        if not isinstance(doc.get("data"), dict):
                            raise ValueError("no 'data' object")
                        return dict(doc)
                    except (ValueError, AttributeError) as exc:
                        last = ProviderUnavailable(
                            f"CBOE sent an unreadable body for {symbol}: {exc}"
                        )
            logger.info(
                "cboe %s failed (attempt %d/%d): %s", symbol, attempt + 1, self.retry.tries, last
            )
        raise last


def _new_york(raw: Any) -> datetime | None:
    """CBOE's ``2026-07-24T15:59:59`` (America/New_York, no offset) as an aware instant."""
    if not raw:
        return None
    try:
        when = datetime.fromisoformat(str(raw))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=NEW_YORK)


class CboeProvider:
    name = "cboe"
    has_history = False

    def __init__(
        self,
        client: CboeClient | None = None,
        *,
        timeout: float = 10.0,
        stale_after_days: int = 5,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.client = client or CboeClient(timeout=timeout)
        self.stale_after_days = stale_after_days
        self.clock = clock or (lambda: datetime.now(UTC))

    def _data(self, symbol: str) -> tuple[str, dict[str, Any], datetime]:
        sym = normalize_symbol(symbol)
        doc = self.client.document(sym)
        data = doc["data"]
        as_of = _new_york(data.get("last_trade_time")) or self.clock()
        if positive(data.get("current_price")) is None:
            raise ProviderUnavailable(f"CBOE sent no price for {sym}")
        return sym, doc, as_of

    def quote(self, symbol: str) -> Quote:
        sym, doc, as_of = self._data(symbol)
        data = doc["data"]
        bid, ask = positive(data.get("bid")), positive(data.get("ask"))
        if bid is not None and ask is not None and ask < bid:
            bid = ask = None
        return Quote(
            symbol=sym,
            spot=float(data["current_price"]),
            prev_close=positive(data.get("prev_day_close")),
            bid=bid,
            ask=ask,
            as_of=as_of.astimezone(UTC),
            provider=self.name,
            dividend_yield=0.0,
            market_state=nyse_state(self.clock()),
        )

    def chain(self, symbol: str) -> OptionChain:
        sym, doc, as_of = self._data(symbol)
        data = doc["data"]
        cutoff = as_of - timedelta(days=self.stale_after_days)
        rows = ChainRows()
        adjusted = stale = 0
        for rec in data.get("options") or ():
            match = _OCC.match(str(rec.get("option", "")))
            if match is None:
                continue
            if match["root"] != sym:
                adjusted += 1
                continue
            expiry = occ_expiry(match["ymd"])
            last = number(rec.get("last_trade_price"))
            traded = _new_york(rec.get("last_trade_time"))
            if not last > 0 or traded is None:
                last = math.nan
            elif traded < cutoff:
                last = math.nan
                stale += 1
            rows.add(
                expiry,
                int(match["strike"]) / 1000.0,
                match["right"] == "C",
                clean_bid_ask(number(rec.get("bid")), number(rec.get("ask"))),
                last,
                number(rec.get("volume")),
                number(rec.get("open_interest")),
            )
        if not rows:
            raise UnknownSymbol(f"CBOE lists no standard options for {sym!r}")
        return rows.build(
            symbol=sym,
            spot=float(data["current_price"]),
            as_of=as_of.astimezone(UTC),
            provider=self.name,
            dividend_yield=0.0,
            meta={
                "market_state": nyse_state(self.clock()),
                "stale_last": stale,
                "skipped_adjusted": adjusted,
                "delayed_minutes": 15,
                "cboe_timestamp": str(doc.get("timestamp") or ""),
            },
        )

    def history(self, symbol: str, days: int = 30) -> PriceHistory:
        normalize_symbol(symbol)
        raise ProviderUnavailable("CBOE delayed quotes carry no price history")
