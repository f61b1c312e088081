"""The first run: a new user's first portfolio, and picking a first option from the live chain."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from market.data import OptionChain

STRIKES_SHOWN = 15


@dataclass(frozen=True)
class ChainRow:
    strike: float
    bid: float | None
    ask: float | None

    @property
    def mid(self) -> float | None:
        if self.bid is None or self.ask is None or self.ask < self.bid:
            return None
        return round((self.bid + self.ask) / 2, 2)


def pick_expiry(chain: OptionChain, raw: str | None, today: date) -> date | None:
    """The expiry asked for if the chain lists it, else the first at least two weeks out."""
    listed = [d for d in chain.expiries if d >= today]
    if raw:
        try:
            wanted = date.fromisoformat(raw[:10])
        except ValueError:
            wanted = None
        if wanted in listed:
            return wanted
    later = [d for d in listed if (d - today).days >= 14]
    choices = later or listed
    return choices[0] if choices else None


def chain_rows(chain: OptionChain, expiry: date, is_call: bool) -> list[ChainRow]:
    """The strikes of one expiry and right nearest the spot, with their quotes."""
    sel = (chain.expiry == np.datetime64(expiry, "D")) & (
        np.asarray(chain.is_call, dtype=bool) == is_call
    )
    strikes = np.asarray(chain.strike, dtype=float)[sel]
    bids = np.asarray(chain.bid, dtype=float)[sel]
    asks = np.asarray(chain.ask, dtype=float)[sel]
    nearest = np.argsort(np.abs(strikes - chain.spot))[:STRIKES_SHOWN]
    return [
        ChainRow(float(strikes[i]), _quote(bids[i]), _quote(asks[i]))
        for i in sorted(nearest, key=lambda i: strikes[i])
    ]


def _quote(x: Any) -> float | None:
    value = float(x)
    return value if np.isfinite(value) and value >= 0 else None
