"""A snapshot function for the multi-process tests (``run_publisher --compute``).

Each payload names the publishing process and a sequence number, so a test can tell which
publisher sent an update and that two servers delivered the very same one.
"""

from __future__ import annotations

import itertools
import os
import time
from typing import Any

_seq = itertools.count(1)


def compute(symbol: str, portfolio_id: int | None = None) -> dict[str, Any]:
    n = next(_seq)
    return {
        "symbol": symbol,
        "spot": 100.0 + n,
        "value": 1000.0 * n,
        "pnl": 1.0 * n,
        "day_change": 0.0,
        "greeks": {},
        "hedge": {},
        "stale": False,
        "ts": f"seq-{n}",
        "publisher_pid": os.getpid(),
        "portfolio": portfolio_id,
        "seq": n,
        "published_at": time.time(),
    }
