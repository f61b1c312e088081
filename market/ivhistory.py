"""Implied-volatility history maths: 30-day constant-maturity ATM IV, IV rank and percentile,
and close-to-close realised volatility. Pure numpy, no Django.

Conventions
-----------
* **ATM per expiry** is the implied vol *at the forward* ``F = S e^{(r-q)T}``: the chain's IVs
  interpolated linearly in strike to ``F`` (``strategies.chain.solve_chain`` /
  ``market.analytics``). This module takes those per-expiry ATM vols as input.
* **IV30** is the ATM vol at a constant maturity of ``T30 = 30/365`` years (calendar days, the
  project's ACT/365 day count), interpolated linearly in **total variance** ``w = sigma^2 T``
  between the two listed expiries that bracket 30 days::

      w30 = w1 + (w2 - w1) (T30 - T1) / (T2 - T1),      IV30 = sqrt(w30 / T30)

  Outside the listed range (every expiry beyond 30 days, or every one before) the vol is
  extrapolated **flat**: IV30 is the ATM vol of the nearest listed expiry. Expiries closer than
  :data:`MIN_T` (under a day: their vol is noise) or without an ATM vol are ignored; with fewer
  than two usable expiries there is no IV30 (``NaN``), never a guess from one point.
* **IV rank** over one year: ``(now - min) / (max - min) * 100`` where min and max run over the
  observations of the last **365 calendar days** up to and including ``now``'s date (one
  observation per trading day, so about 252). Undefined (``None``) when ``max == min``.
* **IV percentile** over the same window: the share (in %) of the *earlier* observations in the
  window that are strictly below ``now``.
* Both need at least :data:`MIN_OBSERVATIONS` observations in the window, else ``None`` with a
  reason.
* **Realised volatility**, close to close: the sample standard deviation (``ddof=1``) of the last
  ``n`` daily log returns, annualised by ``sqrt(252)`` (trading days), for ``n`` = 20 and 60.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

TARGET_DAYS = 30
T30 = TARGET_DAYS / 365.0
MIN_T = 1.0 / 365.0
WINDOW_DAYS = 365
MIN_OBSERVATIONS = 20
TRADING_DAYS = 252
RV_WINDOWS = (20, 60)

IV30_METHOD = (
    "ATM IV at the forward per expiry; 30-calendar-day constant maturity, linear in total "
    "variance (sigma^2 T) between the bracketing expiries, flat vol outside the listed range"
)
RANK_METHOD = (
    "IV rank = (IV30 - min) / (max - min) x 100 and IV percentile = share of earlier days with "
    "IV30 below today's, over the observations of the last 365 calendar days"
)
RV_METHOD = "close-to-close log returns, sample standard deviation, annualised by sqrt(252)"


def constant_maturity_iv(
    t: npt.ArrayLike, atm_iv: npt.ArrayLike, target: float = T30
) -> FloatArray:
    """IV at ``target`` years for each row (day) of ``t`` / ``atm_iv`` (days x expiries).

    ``NaN`` entries mark an expiry missing from that day's chain; rows need not be sorted.
    A 1-D input is one day. Returns one value per row (``NaN`` with fewer than two usable
    expiries).
    """
    tt = np.atleast_2d(np.asarray(t, dtype=float))
    vv = np.atleast_2d(np.asarray(atm_iv, dtype=float))
    if tt.shape != vv.shape:
        raise ValueError(f"t {tt.shape} and atm_iv {vv.shape} must have the same shape")
    valid = np.isfinite(tt) & np.isfinite(vv) & (tt >= MIN_T) & (vv > 0)
    # Sort each row by maturity, unusable entries last.
    key = np.where(valid, tt, np.inf)
    order = np.argsort(key, axis=1, kind="stable")
    ts = np.take_along_axis(key, order, axis=1)
    vs = np.take_along_axis(np.where(valid, vv, np.nan), order, axis=1)
    n = valid.sum(axis=1)
    k = (ts <= target).sum(axis=1)  # usable expiries at or before the target
    rows = np.arange(tt.shape[0])
    last = np.maximum(n - 1, 0)
    lo = np.clip(k - 1, 0, last)
    hi = np.clip(k, 0, last)
    t1, t2 = ts[rows, lo], ts[rows, hi]
    v1, v2 = vs[rows, lo], vs[rows, hi]
    with np.errstate(invalid="ignore", divide="ignore"):
        w1, w2 = v1 * v1 * t1, v2 * v2 * t2
        frac = np.where(t2 > t1, (target - t1) / (t2 - t1), 0.0)
        interp = np.sqrt((w1 + (w2 - w1) * frac) / target)
    out = np.where(k == 0, vs[:, 0], np.where(k >= n, vs[rows, last], interp))
    return np.asarray(np.where(n >= 2, out, np.nan), dtype=float)


@dataclass(frozen=True)
class IV30:
    value: float | None
    reason: str  # "" when there is a value
    expiries: int  # usable expiries


def iv30(t: npt.ArrayLike, atm_iv: npt.ArrayLike) -> IV30:
    """One day's IV30 with the reason when there is none."""
    tt = np.asarray(t, dtype=float).ravel()
    vv = np.asarray(atm_iv, dtype=float).ravel()
    usable = int((np.isfinite(tt) & np.isfinite(vv) & (tt >= MIN_T) & (vv > 0)).sum())
    if usable < 2:
        return IV30(None, f"fewer than 2 expiries with an ATM IV ({usable})", usable)
    value = float(constant_maturity_iv(tt, vv)[0])
    if not math.isfinite(value) or value <= 0:
        return IV30(None, "total variance is not positive at 30 days", usable)
    return IV30(value, "", usable)


@dataclass(frozen=True)
class Rank:
    rank: float | None  # 0..100
    percentile: float | None  # 0..100
    iv30: float | None
    low: float | None
    high: float | None
    observations: int
    as_of: date | None
    reason: str  # "" when rank and percentile are both given

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": None if self.rank is None else round(self.rank, 4),
            "percentile": None if self.percentile is None else round(self.percentile, 4),
            "iv30": None if self.iv30 is None else round(self.iv30, 6),
            "low": None if self.low is None else round(self.low, 6),
            "high": None if self.high is None else round(self.high, 6),
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "observations": self.observations,
            "window_days": WINDOW_DAYS,
            "method": RANK_METHOD,
            "reason": self.reason or None,
        }


def iv_rank(
    dates: npt.ArrayLike | Sequence[date],
    values: npt.ArrayLike,
    *,
    window_days: int = WINDOW_DAYS,
    min_observations: int = MIN_OBSERVATIONS,
) -> Rank:
    """IV rank and percentile of the latest observation over the ``window_days`` before it.

    ``dates`` are ``datetime64[D]`` (or dates), ``values`` the IV30s; order does not matter and
    non-finite values are dropped.
    """
    d = np.asarray(dates, dtype="datetime64[D]").ravel()
    v = np.asarray(values, dtype=float).ravel()
    if d.shape != v.shape:
        raise ValueError("dates and values must have the same length")
    ok = np.isfinite(v)
    d, v = d[ok], v[ok]
    if d.size == 0:
        return Rank(None, None, None, None, None, 0, None, "no IV history yet")
    order = np.argsort(d, kind="stable")
    d, v = d[order], v[order]
    now_d, now_v = d[-1], float(v[-1])
    start = now_d - np.timedelta64(window_days - 1, "D")
    in_win = d >= start
    wv = v[in_win]
    n = int(wv.size)
    as_of: date = now_d.item()
    lo, hi = float(wv.min()), float(wv.max())
    if n < min_observations:
        why = f"not enough IV history: {n} of {min_observations} observations in the window"
        return Rank(None, None, now_v, lo, hi, n, as_of, why)
    earlier = wv[:-1]
    pct = float((earlier < now_v).mean() * 100.0)
    if hi - lo <= 1e-12 * max(abs(hi), 1.0):
        return Rank(None, pct, now_v, lo, hi, n, as_of, "IV30 has not moved in the window")
    rank = (now_v - lo) / (hi - lo) * 100.0
    return Rank(rank, pct, now_v, lo, hi, n, as_of, "")


def realized_vol(close: npt.ArrayLike, window: int) -> FloatArray:
    """Annualised close-to-close vol over the last ``window`` returns, per close (``NaN`` until
    ``window`` returns exist). Non-positive closes give ``NaN`` windows."""
    c = np.asarray(close, dtype=float).ravel()
    out = np.full(c.shape, np.nan)
    if window < 2 or c.size < window + 1:
        return out
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.diff(np.log(np.where(c > 0, c, np.nan)))
    win = np.lib.stride_tricks.sliding_window_view(r, window)
    out[window:] = win.std(axis=1, ddof=1) * math.sqrt(TRADING_DAYS)
    return out


def window_start(as_of: date, window_days: int = WINDOW_DAYS) -> date:
    """The first date inside the rank window that ends on ``as_of``."""
    return as_of - timedelta(days=window_days - 1)
