"""Ready-made hedges for the builder: protective put, collar, zero-cost collar, put spread.

Each preset is a list of legs on listed strikes of one expiry, sized to the shares held (one
contract per 100 shares, at least one). Strikes are picked relative to spot from the strikes
that have quotes; the zero-cost collar picks the call whose bid best pays for the put's ask.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from market.data import CONTRACT_MULTIPLIER


@dataclass(frozen=True)
class Preset:
    key: str
    name: str
    description: str
    legs: tuple[dict[str, str], ...]


def _quotes(chain: Any, expiry: date, is_call: bool) -> list[tuple[float, float, float]]:
    """(strike, bid, ask) of one side of one expiry, quoted on both sides."""
    m = (np.asarray(chain.expiry).astype("datetime64[D]") == np.datetime64(expiry, "D")) & (
        np.asarray(chain.is_call) == is_call
    )
    out = []
    for k, b, a in zip(
        np.asarray(chain.strike)[m], np.asarray(chain.bid)[m], np.asarray(chain.ask)[m], strict=True
    ):
        if math.isfinite(b) and math.isfinite(a) and a > 0:
            out.append((float(k), float(b), float(a)))
    return sorted(out)


def _nearest(quotes: list[tuple[float, float, float]], target: float) -> tuple[float, float, float]:
    return min(quotes, key=lambda q: abs(q[0] - target))


def _leg(side: str, right: str, strike: float, expiry: date, qty: int) -> dict[str, str]:
    return {
        "side": side,
        "right": right,
        "strike": repr(strike),
        "expiry": expiry.isoformat(),
        "qty": str(qty),
    }


def presets(chain: Any, expiry: date | None, spot: float, shares: float) -> list[Preset]:
    if expiry is None or spot <= 0:
        return []
    puts, calls = _quotes(chain, expiry, False), _quotes(chain, expiry, True)
    if not puts:
        return []
    qty = max(1, math.floor(shares / CONTRACT_MULTIPLIER))
    put95 = _nearest(puts, 0.95 * spot)
    put_atm = _nearest(puts, spot)
    put85 = _nearest([q for q in puts if q[0] < put_atm[0]] or puts, 0.85 * spot)
    out = [
        Preset(
            "protective_put",
            "Protective put",
            f"buy {qty} put{'s' if qty > 1 else ''} about 5% below spot",
            (_leg("buy", "P", put95[0], expiry, qty),),
        ),
        Preset(
            "put_spread",
            "Put spread",
            "buy the at-the-money put, sell one about 15% below: cheaper, protection ends lower",
            (_leg("buy", "P", put_atm[0], expiry, qty), _leg("sell", "P", put85[0], expiry, qty)),
        ),
    ]
    otm_calls = [q for q in calls if q[0] > spot]
    if otm_calls:
        call105 = _nearest(otm_calls, 1.05 * spot)
        # The call whose bid comes closest to paying for the put's ask: net premium near zero.
        zero = min(otm_calls, key=lambda q: (abs(q[1] - put95[2]), q[0]))
        out.insert(
            1,
            Preset(
                "collar",
                "Collar",
                "protective put about 5% below spot, call sold about 5% above",
                (
                    _leg("buy", "P", put95[0], expiry, qty),
                    _leg("sell", "C", call105[0], expiry, qty),
                ),
            ),
        )
        out.insert(
            2,
            Preset(
                "zero_cost_collar",
                "Zero-cost collar",
                "the same put, with the call whose premium pays for it",
                (_leg("buy", "P", put95[0], expiry, qty), _leg("sell", "C", zero[0], expiry, qty)),
            ),
        )
    return out
