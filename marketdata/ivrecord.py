"""IV history in the database: the daily record, the backfills, and IV rank from what is stored.

The maths is :mod:`market.ivhistory`; this module feeds it chains and stored observations.

* :func:`record_today` — the publisher's once-a-day observation (after the 16:00 New York close
  on a trading day, leader only; ``portfolio/publisher.py``). Idempotent: the first observation
  of a (symbol, date) stands, the unique constraint settles a race.
* :func:`backfill_synthetic` / :func:`backfill_replay` — ``manage.py backfill_iv_history``.
  Existing days are never overwritten.
* :func:`rank_for` — IV rank and percentile of the latest stored day, cached until the next write.

Per expiry the ATM IV is :func:`market.analytics.analyze_chain`'s: the call and put IVs (American
model, from mids) averaged per strike and interpolated linearly in strike to the forward.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError

from market import ivhistory as ivh
from market.calendar import is_trading_day, market_date
from market.data import OptionChain
from market.errors import MarketDataError
from marketdata.models import IVObservation

logger = logging.getLogger(__name__)

# A rank from a history whose last day is older than this is no longer "now".
MAX_AGE_DAYS = 5
CACHE_S = 300
# Calendar days of closes needed for the chart's year plus a 60-day realised-vol window.
CHART_DAYS = ivh.WINDOW_DAYS + 100


def _cache_key(symbol: str) -> str:
    return f"ivrank:v1:{symbol}"


def forget(symbol: str) -> None:
    cache.delete(_cache_key(symbol))


def chain_iv30(chain: OptionChain, rate: float) -> ivh.IV30:
    """IV30 of one chain snapshot (IVs solved once for the whole chain, no Greeks)."""
    from market.analytics import analyze_chain

    an = analyze_chain(chain, rate, greeks=False)
    t = np.array([e.t for e in an.expiries], dtype=float)
    atm = np.array([np.nan if e.atm_iv is None else e.atm_iv for e in an.expiries], dtype=float)
    return ivh.iv30(t, atm)


def _observation(
    symbol: str, day: date, iv30: float, got: ivh.IV30, chain: OptionChain, source: str
) -> IVObservation:
    return IVObservation(
        symbol=symbol,
        date=day,
        iv30=iv30,
        method=ivh.IV30_METHOD[:200],
        source=source,
        expiries=got.expiries,
        provider=str(chain.provider)[:40],
    )


def _store(rows: Sequence[IVObservation]) -> int:
    """Insert what is new; returns how many rows were added."""
    if not rows:
        return 0
    symbols = {r.symbol for r in rows}
    before = IVObservation.objects.filter(symbol__in=symbols).count()
    IVObservation.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
    for s in symbols:
        forget(s)
    return IVObservation.objects.filter(symbol__in=symbols).count() - before


def record_today(symbol: str, now: datetime) -> IVObservation | None:
    """Store ``symbol``'s IV30 for ``now``'s market date from the current chain, once.

    Nothing is stored from a stale chain or one without two expiries with an ATM IV; the reason
    is logged and the day stays empty (a later tick the same evening may fill it).
    """
    from marketdata import snapshot

    day = market_date(now)
    if IVObservation.objects.filter(symbol=symbol, date=day).exists():
        return None
    try:
        snap = snapshot.load(symbol, quote=False)
    except MarketDataError as exc:
        logger.info("IV history: no chain for %s: %s", symbol, exc)
        return None
    chain = snap.chain
    if chain is None or chain.stale or market_date(chain.as_of) != day:
        logger.info("IV history: %s chain is stale or not today's; not recorded", symbol)
        return None
    got = chain_iv30(chain, snap.rate)
    if got.value is None:
        logger.info("IV history: %s has no IV30 today: %s", symbol, got.reason)
        return None
    try:
        obs = _observation(symbol, day, got.value, got, chain, IVObservation.Source.LIVE)
        obs.save(force_insert=True)
    except IntegrityError:  # another process recorded the day first
        return None
    forget(symbol)
    return obs


def tracked_symbols() -> list[str]:
    """The default symbol, every portfolio's and every alert rule's."""
    from alerts.models import AlertRule
    from portfolio.models import Portfolio

    out = {settings.DEFAULT_SYMBOL}
    out.update(Portfolio.objects.values_list("default_symbol", flat=True).distinct())
    out.update(AlertRule.objects.values_list("symbol", flat=True).distinct())
    return sorted(s for s in out if s)


def record_all(now: datetime, symbols: Iterable[str] | None = None) -> list[IVObservation]:
    """The publisher's daily job: one observation per tracked symbol (failures contained)."""
    out = []
    for symbol in symbols if symbols is not None else tracked_symbols():
        try:
            obs = record_today(symbol, now)
        except Exception:
            logger.exception("IV history: recording %s failed", symbol)
            continue
        if obs is not None:
            out.append(obs)
    return out


def trading_days(start: date, end: date) -> list[date]:
    days = (end - start).days + 1
    return [d for d in (start + timedelta(i) for i in range(max(days, 0))) if is_trading_day(d)]


def synthetic_iv30(
    provider: Any, symbol: str, days: Sequence[date]
) -> tuple[np.ndarray, np.ndarray]:
    """(IV30, expiries listed) per day from the synthetic provider's ATM term structure; the
    interpolation runs over all days in one numpy pass (days x expiries, NaN-padded)."""
    terms = [provider.atm_term(symbol, d) for d in days]
    width = max((len(t[1]) for t in terms), default=0)
    t = np.full((len(days), width), np.nan)
    v = np.full((len(days), width), np.nan)
    for i, (_, ti, vi) in enumerate(terms):
        t[i, : len(ti)] = ti
        v[i, : len(vi)] = vi
    counts = np.array([len(ti) for _, ti, _ in terms], dtype=np.int64)
    return (ivh.constant_maturity_iv(t, v) if len(days) else np.zeros(0)), counts


def backfill_synthetic(symbol: str, start: date, end: date, provider: Any) -> int:
    """Store the synthetic provider's IV30 for each trading day in [start, end]; returns rows added."""
    days = trading_days(start, end)
    values, counts = synthetic_iv30(provider, symbol, days)
    rows = [
        IVObservation(
            symbol=symbol,
            date=d,
            iv30=float(v),
            method=ivh.IV30_METHOD[:200],
            source=IVObservation.Source.SYNTHETIC,
            expiries=int(n),
            provider=f"synthetic seed {getattr(provider, 'seed', '?')}",
        )
        for d, v, n in zip(days, values, counts, strict=True)
        if np.isfinite(v)
    ]
    return _store(rows)


def backfill_replay(path: str | Path, rate: float, symbol: str | None = None) -> int:
    """Store one IV30 per (symbol, date) from recorded snapshots (the day's last chain)."""
    from market.providers.replay import read_snapshots

    last: dict[tuple[str, date], OptionChain] = {}
    for snap in read_snapshots(path):
        raw = snap.get("chain") if isinstance(snap, dict) else None
        if not raw:
            continue
        chain = OptionChain.from_dict(raw)
        if symbol and chain.symbol != symbol:
            continue
        key = (chain.symbol, market_date(chain.as_of))
        if key not in last or chain.as_of >= last[key].as_of:
            last[key] = chain
    rows = []
    for (sym, day), chain in sorted(last.items(), key=lambda kv: kv[0]):
        got = chain_iv30(chain, rate)
        if got.value is None:
            logger.info("IV history: replay %s %s has no IV30: %s", sym, day, got.reason)
            continue
        rows.append(_observation(sym, day, got.value, got, chain, IVObservation.Source.REPLAY))
    return _store(rows)


def stored(symbol: str, since: date | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(dates as datetime64[D], IV30s) of ``symbol``, oldest first."""
    qs = IVObservation.objects.filter(symbol=symbol)
    if since is not None:
        qs = qs.filter(date__gte=since)
    pairs = list(qs.order_by("date").values_list("date", "iv30"))
    dates = np.array([d for d, _ in pairs], dtype="datetime64[D]")
    return dates, np.array([v for _, v in pairs], dtype=float)


def rank_for(symbol: str, today: date | None = None) -> ivh.Rank:
    """IV rank and percentile of ``symbol``'s latest stored day over the year before it.

    ``None`` rank with a reason when there is too little history, when it has not moved, or when
    its last day is more than :data:`MAX_AGE_DAYS` before ``today``.
    """
    today = today or market_date()
    key = _cache_key(symbol)
    rank = cache.get(key)
    if not isinstance(rank, ivh.Rank):
        since = today - timedelta(days=ivh.WINDOW_DAYS + MAX_AGE_DAYS + 10)
        rank = ivh.iv_rank(*stored(symbol, since))
        cache.set(key, rank, CACHE_S)
    if rank.as_of is not None and (today - rank.as_of).days > MAX_AGE_DAYS:
        return ivh.Rank(
            None,
            None,
            rank.iv30,
            rank.low,
            rank.high,
            rank.observations,
            rank.as_of,
            f"IV history is out of date: the last day stored is {rank.as_of.isoformat()}",
        )
    return rank


def rank_block(symbol: str, today: date | None = None) -> dict[str, Any]:
    """The ``iv_rank`` object of ``/api/options`` and the pages."""
    return {**rank_for(symbol, today).to_dict(), "iv30_method": ivh.IV30_METHOD}


def chart_series(symbol: str, closes: tuple[np.ndarray, np.ndarray] | None) -> dict[str, Any]:
    """IV30 and realised vol (20 and 60 days) over the last year, aligned on the IV dates."""
    today = market_date()
    dates, iv = stored(symbol, today - timedelta(days=ivh.WINDOW_DAYS - 1))
    out: dict[str, Any] = {"dates": dates, "iv30": iv}
    for n in ivh.RV_WINDOWS:
        out[f"rv{n}"] = np.full(dates.shape, np.nan)
    if closes is not None and dates.size:
        # Trading days only: a provider that quotes every calendar day (synthetic) would
        # otherwise mix one-day and weekend returns under the sqrt(252) annualisation.
        keep = np.array([is_trading_day(d.item()) for d in closes[0]], dtype=bool)
        cd, cc = closes[0][keep], closes[1][keep]
        idx = np.searchsorted(cd, dates)
        hit = (idx < cd.size) & (cd[np.minimum(idx, cd.size - 1)] == dates) if cd.size else idx < 0
        for n in ivh.RV_WINDOWS:
            rv = ivh.realized_vol(cc, n)
            col = np.full(dates.shape, np.nan)
            col[hit] = rv[idx[hit]]
            out[f"rv{n}"] = col
    return out
