"""One portfolio's alert metrics from its valuation (``portfolio.services.value_portfolio``).

Pure: a valuation dict in, one row of values and reasons out (see :mod:`alerts.evaluation`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from alerts.evaluation import (
    METRIC_INDEX,
    METRICS,
    NO_CHAIN,
    NO_EXPIRY,
    NO_FLOOR,
    NO_IV_HISTORY,
    NO_SHARES,
    OK,
    STALE,
    VALUATION_FAILED,
)

STALENESS = METRIC_INDEX["stale_minutes"]


def unavailable(reason: int) -> tuple[np.ndarray, np.ndarray]:
    """A row where no metric has a value, all for ``reason``."""
    return np.full(len(METRICS), np.nan), np.full(len(METRICS), reason, dtype=np.int64)


def _num(x: Any) -> float | None:
    if x is None or isinstance(x, bool):
        return None
    f = float(x)
    return f if math.isfinite(f) else None


def metrics_row(result: dict[str, Any], *, has_chain: bool) -> tuple[np.ndarray, np.ndarray]:
    """(values, reasons) of one valued portfolio, in :data:`METRICS` order."""
    market, totals, hedge = result["market"], result["totals"], result["hedge"]
    greeks = totals.get("greeks") or {}
    has_options = any(p.get("kind") == "option" for p in result.get("positions", ()))
    spot = _num(market.get("spot"))
    floor = hedge.get("floor")
    floor_spot = _num(floor.get("floor_spot")) if floor else None
    stale = bool(market.get("stale"))
    age_min = (_num(market.get("age_s")) or 0.0) / 60.0

    found: dict[str, tuple[float | None, int]] = {
        "spot": (spot, VALUATION_FAILED),
        "floor_gap_pct": (
            (spot - floor_spot) / spot * 100.0 if spot and floor_spot is not None else None,
            NO_FLOOR,
        ),
        "hedge_ratio": (_num(hedge.get("hedge_ratio")), NO_SHARES),
        "delta_shares": (
            None if has_options and not has_chain else _num(greeks.get("delta_shares")),
            NO_CHAIN if has_options and not has_chain else VALUATION_FAILED,
        ),
        "delta_dollars": (
            None if has_options and not has_chain else _num(greeks.get("delta_dollars")),
            NO_CHAIN if has_options and not has_chain else VALUATION_FAILED,
        ),
        "roll_days": (_num(hedge.get("days_to_nearest_expiry")), NO_EXPIRY),
        "stale_minutes": (age_min if stale else 0.0, VALUATION_FAILED),
        "iv_rank": (None, NO_IV_HISTORY),
    }
    values = np.full(len(METRICS), np.nan)
    reasons = np.zeros(len(METRICS), dtype=np.int64)
    for name, (value, why) in found.items():
        i = METRIC_INDEX[name]
        if value is None:
            reasons[i] = why
        elif stale and i != STALENESS:
            reasons[i] = STALE  # a stale quote is no ground to fire on: only staleness rules
        else:
            values[i] = value
            reasons[i] = OK
    return values, reasons
