"""Hand-made legs, candidates and an expiry slice shared by the strategies maths tests."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np

from market.data import MarketInputs
from strategies import metrics
from strategies.candidates import ExpirySlice
from strategies.legs import Candidate, Leg

AS_OF = datetime(2025, 1, 6, 15, 0, tzinfo=UTC)
EXP = date(2025, 4, 17)
T = 0.25


def ctx(spot: float = 100.0, rate: float = 0.04, q: float = 0.0) -> MarketInputs:
    return MarketInputs("GLD", spot, rate, q, AS_OF)


def put(k: float, price: float, qty: float = 1, iv: float = 0.2) -> Leg:
    return Leg(
        "put", qty, k, EXP, price, bid=price - 0.05, ask=price, iv=iv, t=T, open_interest=500
    )


def call(k: float, price: float, qty: float = -1, iv: float = 0.2) -> Leg:
    return Leg(
        "call", qty, k, EXP, price, bid=price, ask=price + 0.05, iv=iv, t=T, open_interest=80
    )


def stock(shares: float = 100, spot: float = 100.0) -> Leg:
    return Leg("stock", shares, price=spot)


def evaluate(*legs: Leg, vol: float = 0.2, c: MarketInputs | None = None) -> dict:
    cand = Candidate("test", "custom", EXP, tuple(legs), t=T)
    return metrics.evaluate(c or ctx(), [cand], {EXP: vol})[0]


def expiry_slice(spot: float = 100.0) -> ExpirySlice:
    strikes = np.arange(80.0, 121.0, 1.0)
    k = np.concatenate([strikes, strikes])
    is_call = np.concatenate([np.ones(strikes.size, bool), np.zeros(strikes.size, bool)])
    # Simple monotone quotes: calls fall, puts rise with the strike.
    mid = np.where(
        is_call,
        np.maximum(spot - k, 0) + 4 * np.exp(-(((k - spot) / 12) ** 2)) + 0.05,
        np.maximum(k - spot, 0) + 4 * np.exp(-(((k - spot) / 12) ** 2)) + 0.05,
    )
    half = 0.05
    n = k.size
    return ExpirySlice(
        EXP,
        T,
        k,
        is_call,
        mid - half,
        mid + half,
        mid,
        np.full(n, 10.0),
        np.full(n, 100.0),
        np.full(n, 0.2),
        np.full(n, "", dtype=str),
        0.2,
    )
