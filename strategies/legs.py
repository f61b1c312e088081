"""Legs and strategies: the inputs every hedge calculation takes.

A *leg* is a quantity of stock or of one listed option with the price it trades at; a
*candidate* is a named set of legs sharing one expiry (the stock held plus the options). Prices
follow the chosen mode: buy at the ask and sell at the bid, or every leg at the mid.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from market.data import CONTRACT_MULTIPLIER

TICK = 0.01
PriceMode = Literal["ask_bid", "mid"]
PRICE_MODES: tuple[str, ...] = ("ask_bid", "mid")
FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Leg:
    """One leg. ``quantity`` is signed: shares for stock, contracts for options.

    ``price`` is the execution price per share (the premium for options, spot for stock).
    """

    kind: Literal["stock", "call", "put"]
    quantity: float
    strike: float | None = None
    expiry: date | None = None
    price: float = 0.0
    bid: float | None = None
    ask: float | None = None
    iv: float | None = None
    t: float = 0.0
    open_interest: float | None = None
    volume: float | None = None
    iv_source: str = "chain"

    @property
    def is_option(self) -> bool:
        return self.kind != "stock"

    @property
    def units(self) -> float:
        return self.quantity * (CONTRACT_MULTIPLIER if self.is_option else 1)

    @property
    def side(self) -> str:
        return "buy" if self.quantity > 0 else "sell"

    def contract(self) -> dict[str, Any]:
        """An option leg as JSON: right (C/P), strike, expiry (ISO) and signed contracts."""
        return {
            "right": "C" if self.kind == "call" else "P",
            "strike": self.strike,
            "expiry": self.expiry.isoformat() if self.expiry else None,
            "quantity": self.quantity,
        }

    @property
    def mid(self) -> float | None:
        if self.bid is None or self.ask is None:
            return None
        return (self.bid + self.ask) / 2


@dataclass(frozen=True)
class Candidate:
    name: str
    family: str
    expiry: date | None
    legs: tuple[Leg, ...]
    params: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    t: float = 0.0  # time to the strategy's expiry (years)


def exec_price(bid: float, ask: float, buy: bool, mode: str) -> float | None:
    """Buy at the ask and sell at the bid (default), or both at mid. None = not tradable."""
    bid_ok = math.isfinite(bid) and bid > 0
    ask_ok = math.isfinite(ask) and ask > 0
    if mode == "mid":
        if not (bid_ok and ask_ok) or ask < bid:
            return None
        return (bid + ask) / 2
    if buy:
        return ask if ask_ok else None
    return bid if bid_ok else None


def with_mode(legs: Sequence[Leg], mode: str) -> tuple[Leg, ...]:
    """Re-price option legs at ask/bid or mid (stock legs unchanged)."""
    out = []
    for lg in legs:
        if lg.is_option and lg.bid is not None and lg.ask is not None:
            p = exec_price(lg.bid, lg.ask, lg.quantity > 0, mode)
            if p is not None:
                lg = replace(lg, price=p)
        out.append(lg)
    return tuple(out)
