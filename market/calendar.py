"""Time to expiry and the listed-options calendar (NYSE holidays, third Fridays).

Convention (DESIGN.md §4): calendar time from the valuation instant to 16:00 America/New_York on
the expiry date, in years of 365 days, floored at 0. A naive ``as_of`` is taken as UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, overload
from zoneinfo import ZoneInfo

import numpy as np

NEW_YORK = ZoneInfo("America/New_York")
EXPIRY_CLOSE = time(16, 0)
SECONDS_PER_YEAR = 365.0 * 86400.0


def _aware(as_of: datetime) -> datetime:
    return as_of.replace(tzinfo=UTC) if as_of.tzinfo is None else as_of


def _utcnow() -> datetime:
    return datetime.now(UTC)


def market_date(at: datetime | None = None) -> date:
    """The trading calendar's date (New York) at the instant ``at``, by default now.

    The one "today" of the project: positions opened or closed today, the scenario dates a
    user may pick, and the days to expiry of a chain all count from it. The server's time
    zone is UTC, whose date runs ahead of New York's every evening (from 19:00 or 20:00 New
    York time), so ``date.today()`` or ``timezone.localdate()`` would be a day off then.
    """
    return _aware(at if at is not None else _utcnow()).astimezone(NEW_YORK).date()


@lru_cache(maxsize=4096)
def expiry_instant(d: date) -> datetime:
    """16:00 New York time on ``d`` as an aware datetime (DST handled by zoneinfo)."""
    return datetime.combine(d, EXPIRY_CLOSE, tzinfo=NEW_YORK)


@overload
def year_fraction(as_of: datetime, expiry: date | str) -> float: ...
@overload
def year_fraction(as_of: datetime, expiry: np.ndarray) -> np.ndarray: ...
def year_fraction(as_of: datetime, expiry: Any) -> float | np.ndarray:
    """Years (ACT/365, to the second) from ``as_of`` to 16:00 New York on ``expiry``; >= 0.

    ``expiry`` is a ``date``, an ISO date string, or an array of ``datetime64[D]`` (vectorised:
    one zoneinfo lookup per distinct date).
    """
    now = _aware(as_of).timestamp()
    if isinstance(expiry, np.ndarray | list | tuple):
        arr = np.asarray(expiry, dtype="datetime64[D]")
        uniq, inv = np.unique(arr, return_inverse=True)
        secs = np.array([expiry_instant(d.item()).timestamp() for d in uniq], dtype=float)
        out = np.maximum((secs - now) / SECONDS_PER_YEAR, 0.0)
        return np.asarray(out[inv].reshape(arr.shape), dtype=float)
    if isinstance(expiry, str):
        expiry = date.fromisoformat(expiry)
    if isinstance(expiry, datetime):
        expiry = expiry.date()
    return max((expiry_instant(expiry).timestamp() - now) / SECONDS_PER_YEAR, 0.0)


def _easter(year: int) -> date:
    # Anonymous Gregorian algorithm (Meeus/Jones/Butcher).
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    m = (32 + 2 * e + 2 * i - h - k) % 7
    n = (a + 11 * h + 22 * m) // 451
    month = (h + m - 7 * n + 114) // 31
    day = (h + m - 7 * n + 114) % 31 + 1
    return date(year, month, day)


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def _last_weekday(year: int, month: int, weekday: int) -> date:
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    last = nxt - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _observed(d: date) -> date:
    if d.weekday() == 5:
        return d - timedelta(days=1)
    if d.weekday() == 6:
        return d + timedelta(days=1)
    return d


@lru_cache(maxsize=64)
def nyse_holidays(year: int) -> frozenset[date]:
    """Full-day NYSE closures (rule based; New Year's Day on a Saturday is not observed)."""
    days = {
        _nth_weekday(year, 1, 0, 3),  # Martin Luther King Jr. Day
        _nth_weekday(year, 2, 0, 3),  # Washington's Birthday
        _easter(year) - timedelta(days=2),  # Good Friday
        _last_weekday(year, 5, 0),  # Memorial Day
        _observed(date(year, 7, 4)),
        _nth_weekday(year, 9, 0, 1),  # Labor Day
        _nth_weekday(year, 11, 3, 4),  # Thanksgiving
        _observed(date(year, 12, 25)),
    }
    if date(year, 1, 1).weekday() != 5:
        days.add(_observed(date(year, 1, 1)))
    if year >= 2022:
        days.add(_observed(date(year, 6, 19)))
    return frozenset(days)


def is_trading_day(d: date) -> bool:
    return d.weekday() < 5 and d not in nyse_holidays(d.year)


def previous_trading_day(d: date) -> date:
    """``d`` itself when it is a trading day, else the trading day before it."""
    while not is_trading_day(d):
        d -= timedelta(days=1)
    return d


def third_friday(year: int, month: int) -> date:
    return _nth_weekday(year, month, 4, 3)


def monthly_expiry(year: int, month: int) -> date:
    """Standard monthly expiry: the third Friday, moved to Thursday when it is a holiday."""
    return previous_trading_day(third_friday(year, month))
