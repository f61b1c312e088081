"""Is the US options market open, and is a chain worth showing?

Outside the regular session (09:30-16:00 America/New_York on NYSE trading days) Yahoo's chains
carry ``bid = ask = 0`` on nearly every contract, so the service keeps the last in-session chain
and serves it, marked as of the close (see :mod:`market.service`). The state names are Yahoo's
``marketState`` values; providers without one (CBOE's delayed quotes) derive it from the clock
with :func:`nyse_state`.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

import numpy as np

from market.calendar import NEW_YORK, is_trading_day

REGULAR = "REGULAR"
CLOSED = "CLOSED"
# Yahoo's states outside the regular session: pre-market, after-hours, overnight, closed.
CLOSED_STATES = frozenset({"PRE", "PREPRE", "POST", "POSTPOST", CLOSED})

OPEN_AT = time(9, 30)
CLOSE_AT = time(16, 0)

# A chain "has a market" when at least this share of its contracts is quoted on both sides.
MIN_TWO_SIDED = 0.2


def normalize_state(raw: Any) -> str:
    """Yahoo's ``marketState`` upper-cased; anything unrecognised becomes "" (unknown)."""
    state = str(raw or "").strip().upper()
    return state if state == REGULAR or state in CLOSED_STATES else ""


def is_closed(state: str) -> bool:
    """True only for a known closed state; "" (unknown, e.g. synthetic data) counts as open."""
    return state in CLOSED_STATES


def market_status(state: str) -> dict[str, Any]:
    """The ``market_state`` / ``market_open`` pair every API block carries."""
    return {"market_state": state, "market_open": not is_closed(state)}


def nyse_state(now: datetime) -> str:
    """REGULAR during the NYSE regular session, else PRE (before the open) / POST / CLOSED."""
    local = (now if now.tzinfo else now.replace(tzinfo=UTC)).astimezone(NEW_YORK)
    if not is_trading_day(local.date()):
        return CLOSED
    t = local.time()
    if t < OPEN_AT:
        return "PRE"
    if t >= CLOSE_AT:
        return "POST"
    return REGULAR


def two_sided_fraction(chain: Any) -> float:
    """Share of contracts quoted on both sides (bid > 0, ask >= bid)."""
    n = len(chain)
    if not n:
        return 0.0
    bid = np.asarray(chain.bid, dtype=float)
    ask = np.asarray(chain.ask, dtype=float)
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(bid) & np.isfinite(ask) & (bid > 0) & (ask >= bid)
    return float(np.count_nonzero(ok)) / n


def chain_state(chain: Any) -> str:
    return normalize_state(getattr(chain, "meta", {}).get("market_state"))
