"""The market data service: providers behind a cache, a last-good fallback and circuit breakers.

* One provider or an ordered list (``MARKET_DATA_PROVIDER=yfinance,cboe``): every request asks
  the first provider whose breaker lets it through and fails over to the next when it is
  unavailable; as soon as the first one's breaker lets a trial call through again and it
  answers, requests are back on it. Every quote and chain carries the ``provider`` that answered
  and its ``as_of``/``age_s``; ``health()`` shows each provider's breaker.
* Market closed: a chain fetched outside the regular session (the provider says so in
  ``meta["market_state"]``) with almost no two-sided quotes (Yahoo's pre-market chains) is
  replaced by the last in-session chain, kept without expiry, with its own time; failing that,
  by another provider's chain that still carries the closing quotes. It is marked
  ``meta["market_closed"] = True`` and keeps the closed state, so pages say "market closed" and
  show values as of the close instead of a page of blanks.

* Fresh values come from the cache (``chain_ttl`` for chains, ``quote_ttl`` for quotes); the cache
  is any object with Django's ``get(key)`` / ``set(key, value, timeout)``.
* When the provider fails, the last good value (kept in the cache without expiry and in process
  memory, so a cache outage does not lose it) is served with ``stale=True`` and its age in
  seconds. With nothing to fall back on, :class:`~market.errors.ProviderUnavailable` is raised.
* After ``failure_threshold`` consecutive failures the breaker opens: the provider is not called
  for ``reset_timeout`` seconds; then one trial call is let through (half-open); success closes
  the breaker, failure re-opens it.
* Input errors (:class:`~market.errors.InvalidSymbol`, :class:`~market.errors.UnknownSymbol`) are
  not provider failures: they propagate and do not count towards the breaker.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, fields, is_dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

import numpy as np

from market.analytics import ChainAnalytics, analyze_chain
from market.data import OptionChain, PriceHistory, Quote, normalize_symbol
from market.errors import (
    CircuitOpen,
    InvalidSymbol,
    MarketDataError,
    ProviderUnavailable,
    UnknownSymbol,
)
from market.keyedlock import KeyedLock
from market.providers.base import Provider
from market.session import MIN_TWO_SIDED, chain_state, is_closed, two_sided_fraction

logger = logging.getLogger(__name__)

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"

T = TypeVar("T", Quote, OptionChain)
V = TypeVar("V")

_PROBE_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="market-health")


class CacheLike(Protocol):
    def get(self, key: str, default: Any = None) -> Any: ...

    def set(self, key: str, value: Any, timeout: Any = ...) -> Any: ...


class CircuitBreaker:
    """Consecutive-failure breaker: closed -> open -> half-open -> closed (or open again)."""

    def __init__(
        self,
        failure_threshold: int = 3,
        reset_timeout: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failure_threshold = max(1, failure_threshold)
        self.reset_timeout = reset_timeout
        self.clock = clock
        self._state = CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._trial_in_flight = False
        self._lock = threading.Lock()

    @property
    def state(self) -> str:
        with self._lock:
            return self._current_state()

    @property
    def failures(self) -> int:
        return self._failures

    def _current_state(self) -> str:
        if self._state == OPEN and self.clock() - self._opened_at >= self.reset_timeout:
            self._state = HALF_OPEN
            self._trial_in_flight = False
        return self._state

    def allow(self) -> bool:
        """May the provider be called now? (In half-open state, only one trial at a time.)"""
        with self._lock:
            state = self._current_state()
            if state == CLOSED:
                return True
            if state == HALF_OPEN and not self._trial_in_flight:
                self._trial_in_flight = True
                return True
            return False

    def retry_in(self) -> float:
        with self._lock:
            if self._current_state() != OPEN:
                return 0.0
            return max(0.0, self.reset_timeout - (self.clock() - self._opened_at))

    def success(self) -> None:
        with self._lock:
            self._state = CLOSED
            self._failures = 0
            self._trial_in_flight = False

    def failure(self) -> None:
        with self._lock:
            self._failures += 1
            state = self._current_state()
            if state == HALF_OPEN or self._failures >= self.failure_threshold:
                if state != OPEN:
                    logger.warning(
                        "market data circuit breaker opened after %d failures", self._failures
                    )
                self._state = OPEN
                self._opened_at = self.clock()
                self._trial_in_flight = False


@dataclass
class _Entry:
    value: Any
    fetched_at: float  # wall-clock epoch seconds


@dataclass
class _ProviderStats:
    last_success: float | None = None
    last_failure: float | None = None
    last_error: str | None = None


# Beside each fresh cache entry, its fetch time (see MarketService._shared_entry).
STAMP = ":at"
DECODED_ENTRIES = 64


def _freeze(value: Any) -> None:
    """Make a dataclass's numpy arrays read-only, so a shared copy cannot be changed."""
    if is_dataclass(value):
        for f in fields(value):
            array = getattr(value, f.name)
            if isinstance(array, np.ndarray):
                array.flags.writeable = False


class MarketService:
    def __init__(
        self,
        provider: Provider | Sequence[Provider],
        cache: CacheLike | None = None,
        *,
        chain_ttl: float = 300.0,
        quote_ttl: float = 5.0,
        failure_threshold: int = 3,
        reset_timeout: float = 30.0,
        probe_symbol: str | None = None,
        probe_timeout: float = 2.0,
        wall_clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.providers: list[Provider] = (
            list(provider) if isinstance(provider, Sequence) else [provider]
        )
        if not self.providers:
            raise ValueError("MarketService needs at least one provider")
        self.provider = self.providers[0]
        self.name = ",".join(p.name for p in self.providers)
        self.cache = cache
        self.chain_ttl = float(chain_ttl)
        self.quote_ttl = float(quote_ttl)
        self.probe_symbol = probe_symbol
        self.probe_timeout = probe_timeout
        self._probe_future: Future[str | None] | None = None
        self.now = wall_clock
        self.breakers = {
            p.name: CircuitBreaker(failure_threshold, reset_timeout, monotonic)
            for p in self.providers
        }
        self.breaker = self.breakers[self.provider.name]
        self._stats = {p.name: _ProviderStats() for p in self.providers}
        self.last_provider: str | None = None
        self.market_state = ""
        self._memory: dict[str, _Entry] = {}
        self._decoded: OrderedDict[str, _Entry] = OrderedDict()
        self._analytics: dict[tuple[str, str, str, float, str], ChainAnalytics] = {}
        self._lock = threading.Lock()
        self._fetching = KeyedLock()
        self._failed_fetches = 0  # counts failed provider calls (see _get)
        self.last_success: float | None = None
        self.last_failure: float | None = None
        self.last_error: str | None = None
        self.last_served_stale = False
        self.last_stale_age: float | None = None

    # ---- public API ------------------------------------------------------------------------

    def quote(self, symbol: str) -> Quote:
        sym = normalize_symbol(symbol)
        return self._get("quote", sym, self.quote_ttl, lambda p: p.quote(sym))

    def chain(self, symbol: str) -> OptionChain:
        sym = normalize_symbol(symbol)
        return self._get("chain", sym, self.chain_ttl, lambda p: p.chain(sym))

    def analytics(
        self, symbol: str, rate: float, style: str = "american"
    ) -> tuple[OptionChain, ChainAnalytics]:
        """The chain and its analytics (IV, Greeks, ...), memoised per chain snapshot.

        Solving American IVs and Greeks for a whole chain takes a fraction of a second, so the
        result is kept in process memory for as long as the cached chain stays the same.
        """
        chain = self.chain(symbol)
        key = (chain.symbol, chain.provider, chain.as_of.isoformat(), float(rate), style)
        with self._lock:
            hit = self._analytics.get(key)
        if hit is None:
            hit = analyze_chain(chain, rate, style=style)
            with self._lock:
                if len(self._analytics) >= 16:
                    self._analytics.pop(next(iter(self._analytics)))
                self._analytics[key] = hit
        return chain, hit

    def history(self, symbol: str, days: int = 30) -> PriceHistory:
        """Daily closes (cached for ``chain_ttl``; no stale fallback beyond the cache)."""
        sym = normalize_symbol(symbol)
        key = self._key(f"history{int(days)}", sym)
        hit = self._cache_get(key)
        if isinstance(hit, _Entry) and self.now() - hit.fetched_at < self.chain_ttl:
            return hit.value
        value = self._call(
            lambda p: p.history(sym, days),
            [p for p in self.providers if getattr(p, "has_history", True)],
        )
        self._cache_set(key, _Entry(value, self.now()), self.chain_ttl)
        return value

    def health(self) -> dict[str, Any]:
        """State for /health's ``market_data`` check.

        With ``probe_symbol`` set, first fetches that quote through the cache — in a worker
        thread, waiting at most ``probe_timeout`` seconds, so a hanging provider (timeouts and
        retries) never makes /health itself slow; a probe still running is not started twice.
        """
        probe_error = None
        if self.probe_symbol:
            probe_error = self._probe()
        now = self.now()
        age = None if self.last_success is None else round(now - self.last_success, 3)
        providers = []
        for p in self.providers:
            breaker, stats = self.breakers[p.name], self._stats[p.name]
            providers.append(
                {
                    "name": p.name,
                    "breaker": breaker.state,
                    "consecutive_failures": breaker.failures,
                    "retry_in_s": round(breaker.retry_in(), 3),
                    "last_success": None
                    if stats.last_success is None
                    else _iso(stats.last_success),
                    "last_error": stats.last_error,
                }
            )
        usable = any(entry["breaker"] != OPEN for entry in providers)
        return {
            "ok": usable and not self.last_served_stale and probe_error is None,
            "provider": self.name,
            "serving": self.last_provider,
            "breaker": self.breaker.state,
            "consecutive_failures": self.breaker.failures,
            "retry_in_s": round(self.breaker.retry_in(), 3),
            "providers": providers,
            "market_state": self.market_state or None,
            "market_open": not is_closed(self.market_state),
            "last_success": None if self.last_success is None else _iso(self.last_success),
            "last_success_age_s": age,
            "stale": self.last_served_stale,
            "stale_age_s": self.last_stale_age if self.last_served_stale else None,
            "last_error": probe_error or self.last_error,
            "last_failure": None if self.last_failure is None else _iso(self.last_failure),
        }

    # ---- internals -------------------------------------------------------------------------

    def _probe(self) -> str | None:
        symbol = self.probe_symbol or ""

        def run() -> str | None:
            try:
                self.quote(symbol)
            except MarketDataError as exc:
                return f"{type(exc).__name__}: {exc}"
            return None

        with self._lock:
            if self._probe_future is None or self._probe_future.done():
                self._probe_future = _PROBE_POOL.submit(run)
            future = self._probe_future
        try:
            return future.result(timeout=self.probe_timeout)
        except FutureTimeout:
            return f"probe of {symbol} still running after {self.probe_timeout:.1f}s"

    def _key(self, kind: str, sym: str) -> str:
        return f"market:{self.name}:{kind}:{sym}"

    def _cache_get(self, key: str) -> Any:
        if self.cache is None:
            return None
        try:
            return self.cache.get(key)
        except Exception as exc:  # a broken cache must not break market data
            logger.warning("market cache read failed: %s", exc)
            return None

    def _shared_entry(self, key: str) -> Any:
        """The entry the shared cache holds under ``key``, decoded once per process.

        A chain is ~160 kB pickled: reading it from Redis and unpickling it on every request was
        a tenth of a page view. Beside each fresh entry the cache holds its fetch time (a stamp
        of a few bytes); while the stamp names the entry this process decoded last, that copy
        serves. Its arrays are made read-only, since every request thread now shares them.
        """
        stamp = self._cache_get(key + STAMP)
        if stamp is not None:
            with self._lock:
                mine = self._decoded.get(key)
            if mine is not None and mine.fetched_at == stamp:
                return mine
        hit = self._cache_get(key)
        if isinstance(hit, _Entry):
            _freeze(hit.value)
            with self._lock:
                self._decoded[key] = hit
                self._decoded.move_to_end(key)
                while len(self._decoded) > DECODED_ENTRIES:
                    self._decoded.popitem(last=False)
        return hit

    def _cache_set(self, key: str, value: Any, timeout: float | None) -> None:
        if self.cache is None:
            return
        try:
            self.cache.set(key, value, timeout)
        except Exception as exc:
            logger.warning("market cache write failed: %s", exc)

    def _call(
        self, fetch: Callable[[Provider], V], providers: Sequence[Provider] | None = None
    ) -> V:
        """``fetch`` from the first provider that answers, in order (failover).

        A provider whose breaker is open is skipped; a failure counts towards its breaker and
        the next provider is asked. An input error (invalid/unknown symbol) is an answer: it
        propagates at once. With every provider failing, ProviderUnavailable (CircuitOpen when
        every breaker is open) names each one's problem.
        """
        problems: list[ProviderUnavailable] = []
        for provider in self.providers if providers is None else providers:
            try:
                value = self._ask(provider, fetch)
            except ProviderUnavailable as exc:
                problems.append(exc)
                continue
            self.last_success = self._stats[provider.name].last_success
            self.last_error = None
            self.last_provider = provider.name
            return value
        self._failed_fetches += 1
        self.last_failure = self.now()
        if not problems:
            problems.append(ProviderUnavailable("no provider can answer this request"))
        self.last_error = "; ".join(str(p) for p in problems)[:300]
        if len(problems) == 1:
            raise problems[0]
        message = "; ".join(str(p) for p in problems)
        if all(isinstance(p, CircuitOpen) for p in problems):
            raise CircuitOpen(message)
        raise ProviderUnavailable(message)

    def _ask(self, provider: Provider, fetch: Callable[[Provider], V]) -> V:
        """One provider, behind its breaker: its answer, or ProviderUnavailable/CircuitOpen."""
        breaker, stats = self.breakers[provider.name], self._stats[provider.name]
        if not breaker.allow():
            raise CircuitOpen(
                f"{provider.name} provider paused after repeated failures; "
                f"retry in {breaker.retry_in():.0f}s"
            )
        try:
            value = fetch(provider)
            problem = implausible(value)
            if problem:
                raise ProviderUnavailable(f"{provider.name} returned unusable data: {problem}")
        except (InvalidSymbol, UnknownSymbol):
            breaker.success()  # the provider answered
            raise
        except Exception as exc:
            breaker.failure()
            stats.last_failure = self.now()
            stats.last_error = f"{type(exc).__name__}: {exc}"[:300]
            logger.warning("market data from %s failed: %s", provider.name, exc)
            if isinstance(exc, ProviderUnavailable):
                raise
            raise ProviderUnavailable(f"{provider.name} provider failed: {exc}") from exc
        breaker.success()
        stats.last_success = self.now()
        stats.last_error = None
        return value

    def _get(self, kind: str, sym: str, ttl: float, fetch: Callable[[Provider], T]) -> T:
        key = self._key(kind, sym)
        if ttl <= 0:
            return self._fetch(kind, sym, key, ttl, fetch)
        fresh = self._fresh(key, ttl)
        if fresh is not None:
            return fresh
        # One fetch per key at a time: when a value expires under load, every request thread
        # misses together; the others wait for the first and then find its value.
        failures_before = self._failed_fetches
        with self._fetching.hold(key):
            fresh = self._fresh(key, ttl)
            if fresh is not None:
                return fresh
            if self._failed_fetches != failures_before:
                # The fetch this thread waited for failed: fall back now rather than queue
                # another timeout behind it.
                problem = ProviderUnavailable(self.last_error or "provider failed")
                return self._fallback(kind, sym, key, problem)
            return self._fetch(kind, sym, key, ttl, fetch)

    def _fresh(self, key: str, ttl: float) -> Any:
        hit = self._shared_entry(key)
        now = self.now()
        if isinstance(hit, _Entry) and now - hit.fetched_at < ttl:
            self.last_served_stale = False
            return hit.value.with_staleness(False, now - hit.fetched_at)
        return None

    def _fetch(
        self, kind: str, sym: str, key: str, ttl: float, fetch: Callable[[Provider], T]
    ) -> T:
        try:
            value = self._call(fetch)
        except ProviderUnavailable as exc:
            return self._fallback(kind, sym, key, exc)
        if isinstance(value, OptionChain):
            value = self._session_chain(sym, key, value)
            self.market_state = chain_state(value)
        elif isinstance(value, Quote):
            self.market_state = value.market_state
        entry = _Entry(value, self.now())
        if ttl > 0:
            self._cache_set(key, entry, ttl)
            self._cache_set(key + STAMP, entry.fetched_at, ttl)
        self._cache_set(key + ":last", entry, None)
        with self._lock:
            self._memory[key + ":last"] = entry
        self.last_served_stale = False
        return value.with_staleness(False, 0.0)

    def _session_chain(self, sym: str, key: str, chain: OptionChain) -> OptionChain:
        """The chain to show: ``chain`` in session; outside it, the last in-session one.

        A chain with two-sided quotes is remembered as the session's (after the close it still
        carries the closing quotes). A closed-market chain without them (pre-market: bid = ask
        = 0) gives way to the remembered chain, else to another provider's chain that has them.
        """
        state = chain_state(chain)
        session_key = key + ":session"
        if not is_closed(state):
            self._remember(session_key, chain)
            return chain
        if two_sided_fraction(chain) >= MIN_TWO_SIDED:
            self._remember(session_key, chain)
            return _closed(chain, state)
        kept = self._last(session_key)
        if kept is not None:
            logger.info("market closed (%s): serving %s's last in-session chain", state, sym)
            return _closed(kept.value, state)
        others = [p for p in self.providers if p.name != chain.provider]
        best = chain
        for provider in others:
            try:
                other = self._ask(provider, lambda p: p.chain(sym))
            except MarketDataError:
                continue
            if two_sided_fraction(other) > two_sided_fraction(best):
                best = other
        if best is not chain:
            self._remember(session_key, best)
        return _closed(best, state)

    def _remember(self, key: str, value: Any) -> None:
        entry = _Entry(value, self.now())
        self._cache_set(key, entry, None)
        with self._lock:
            self._memory[key] = entry

    def _last(self, key: str) -> _Entry | None:
        """The newest of the cache's and this process's copy of a kept value."""
        last = self._cache_get(key)
        mem = self._memory.get(key)
        if not isinstance(last, _Entry) or (mem is not None and mem.fetched_at > last.fetched_at):
            last = mem
        return last

    def _fallback(self, kind: str, sym: str, key: str, exc: ProviderUnavailable) -> Any:
        """The last good value, marked stale with its age; raises ``exc`` when there is none."""
        last = self._last(key + ":last")
        if last is None:
            raise exc
        age = self.now() - last.fetched_at
        logger.info("serving stale %s for %s (%.0fs old): %s", kind, sym, age, exc)
        self.last_served_stale = True
        self.last_stale_age = round(age, 3)
        return last.value.with_staleness(True, age)


def implausible(value: Any) -> str | None:
    """Why a provider's answer cannot be used (a garbage quote or chain), or None.

    Checked on every fetch so that garbage counts as a provider failure: the last good value
    is served as stale instead, and the circuit breaker sees it.
    """
    if isinstance(value, Quote | OptionChain):
        spot = value.spot
        if not isinstance(spot, int | float) or not math.isfinite(spot) or spot <= 0:
            return f"spot {spot!r} is not a positive number"
    if isinstance(value, OptionChain):
        n = len(value.strike)
        columns = ("expiry", "is_call", "bid", "ask", "last", "volume", "open_interest")
        if any(len(getattr(value, name)) != n for name in columns):
            return "chain columns differ in length"
        strike = np.asarray(value.strike, dtype=float)
        if n and (not np.all(np.isfinite(strike)) or np.any(strike <= 0)):
            return "a strike is not a positive number"
        for name in ("bid", "ask"):
            column = np.asarray(getattr(value, name), dtype=float)
            if np.any(column < 0):  # NaN (no quote) is allowed, negative prices are not
                return f"a negative {name}"
    return None


def _closed(chain: OptionChain, state: str) -> OptionChain:
    """``chain`` marked as shown while the market is closed (its values are as of its as_of)."""
    return replace(chain, meta={**chain.meta, "market_state": state, "market_closed": True})


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).isoformat()
