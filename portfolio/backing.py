"""Gold-aware hedging: what stands behind the shares, in ounces, and the hedge's floor in $/oz.

Pure functions over plain data (the dashboard passes the hedge panel's numbers and a
:class:`Backing` read from :class:`portfolio.models.CommodityBacking`). See ``docs/backing.md``.

Fee erosion, daily-accrual form. A commodity trust pays its sponsor's fee by selling metal:
each calendar day it accrues ``fee / 365`` of its net assets, so the ounces behind a share fall
by that fraction every day::

    oz(t) = oz(t0) * (1 - fee / 365) ** days,   days = (t - t0) in calendar days

(the trusts accrue on every calendar day; a weekend's accrual is booked with Monday's NAV).
Over one year at 0.40 % this gives a factor 0.9960080 against 0.9960000 for the
annual-compounding form ``(1 - fee) ** (days / 365)``: a difference of 8 parts in a million.

With ``oz`` ounces per share:

* position in ounces = shares × oz(today);
* implied metal price = spot / oz(today) ($/oz the share price stands for);
* floor in $/oz at an expiry T = floor per share / oz(T): the value per ounce still behind the
  shares that the hedge guarantees;
* the metal price at the floor = floor spot (the share price where the floor is reached, the
  put strike of a full hedge) / oz(T). As ounces erode, the same strike stands for a higher
  metal price: ``fee effect`` = floor spot / oz(T) − floor spot / oz(today).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

DAYS_PER_YEAR = 365.0


@dataclass(frozen=True)
class Backing:
    symbol: str
    commodity: str
    ounces_per_share: float  # on ``as_of``
    as_of: date
    annual_fee: float  # a fraction: 0.004 for 0.40 % a year

    def __post_init__(self) -> None:
        if not (self.ounces_per_share > 0 and np.isfinite(self.ounces_per_share)):
            raise ValueError("ounces per share must be a positive number")
        if not (0 <= self.annual_fee < 1):
            raise ValueError("the annual fee must be a fraction in [0, 1)")


def ounces_per_share(backing: Backing, on: Sequence[date] | date) -> Any:
    """Ounces behind one share on each date (daily accrual; dates before ``as_of`` undo it)."""
    dates = [on] if isinstance(on, date) else list(on)
    days = np.array([(d - backing.as_of).days for d in dates], dtype=float)
    oz = backing.ounces_per_share * (1.0 - backing.annual_fee / DAYS_PER_YEAR) ** days
    return float(oz[0]) if isinstance(on, date) else oz


def _or_none(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def backing_panel(
    backing: Backing,
    *,
    shares: float,
    spot: float,
    today: date,
    expiries: Sequence[dict[str, Any]],
) -> dict[str, Any]:
    """The dashboard's backing numbers.

    ``expiries`` are the hedge panel's rows (:func:`portfolio.hedge.hedge_panel`): ``expiry``
    (ISO date), ``days``, ``floor_per_share`` (None without shares) and ``floor_spot``.
    """
    oz_now = ounces_per_share(backing, today)
    dates = [date.fromisoformat(str(e["expiry"])) for e in expiries]
    oz_t = ounces_per_share(backing, dates) if dates else np.empty(0)
    floor_ps = np.array(
        [np.nan if e.get("floor_per_share") is None else e["floor_per_share"] for e in expiries],
        dtype=float,
    )
    floor_spot = np.array([e.get("floor_spot") or 0.0 for e in expiries], dtype=float)
    # A floor spot of 0 (a partial hedge's floor is reached at S = 0) has no metal price.
    has_spot = floor_spot > 0
    spot_oz_t = np.where(has_spot, floor_spot / oz_t, np.nan)
    spot_oz_now = np.where(has_spot, floor_spot / oz_now, np.nan)
    position_oz_t = shares * oz_t
    rows = [
        {
            "expiry": e["expiry"],
            "days": e.get("days"),
            "calendar_days": (d - today).days,
            "ounces_per_share": float(oz_t[i]),
            "position_oz": float(position_oz_t[i]),
            "eroded_oz": float(shares * oz_now - position_oz_t[i]),
            "eroded_pct": float((1.0 - oz_t[i] / oz_now) * 100.0),
            "floor_per_share": _or_none(floor_ps[i]),
            "floor_per_oz": _or_none(floor_ps[i] / oz_t[i]),
            "floor_metal_price": _or_none(spot_oz_t[i]),
            "fee_effect_per_oz": _or_none(spot_oz_t[i] - spot_oz_now[i]),
        }
        for i, (e, d) in enumerate(zip(expiries, dates, strict=True))
    ]
    return {
        "symbol": backing.symbol,
        "commodity": backing.commodity,
        "as_of": backing.as_of.isoformat(),
        "annual_fee_pct": backing.annual_fee * 100.0,
        "days_since_as_of": (today - backing.as_of).days,
        "ounces_per_share": oz_now,
        "shares": shares,
        "position_oz": shares * oz_now,
        "implied_price": spot / oz_now,
        "spot": spot,
        "expiries": rows,
    }
