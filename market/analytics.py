"""Chain analytics: quotes → mid/spread, implied vols, Greeks, ATM vol, expected move, parity
checks and probabilities, for a whole :class:`~market.data.OptionChain` at once.

Conventions
-----------
* Valuation instant: the chain's ``as_of``; time to expiry by :func:`market.calendar.year_fraction`
  (to 16:00 New York on the expiry date, ACT/365).
* Implied vols are solved from the mid (``(bid+ask)/2``; nan when a side is missing or crossed).
  Greeks are evaluated at each contract's own implied vol (nan where it has none).
* ATM = the forward ``F = S e^{(r-q)T}``; ATM IV is the mean of the call and put IVs at each
  strike, linearly interpolated in strike to ``F`` (nearest strike when ``F`` is outside the grid).
* Expected move to expiry: ``S * atm_iv * sqrt(T)`` (one standard deviation of a lognormal
  return, same day count).
* Probabilities are risk-neutral under lognormal (Black–Scholes) dynamics at the contract's IV:
  finishing in the money ``N(±d2)``; touching the strike before expiry from the reflection
  principle for Brownian motion with drift ``r - q - sigma^2/2``.
* Put–call parity: European options must satisfy ``C - P = S e^{-qT} - K e^{-rT}``; the residual is
  mid(C) - mid(P) minus that. American options only satisfy the bounds
  ``S e^{-qT} - K <= C - P <= S - K e^{-rT}``; for them the residual is the distance outside those
  bounds (0 inside) — a bound check, not an equality.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
from scipy.special import ndtr

from market.calendar import year_fraction
from market.data import OptionChain
from market.iv import implied_vol
from market.pricing import MODEL_BSM, MODEL_QDFP, Contracts, price_options


@dataclass(frozen=True, eq=False)
class ExpirySummary:
    expiry: date
    t: float
    forward: float
    atm_iv: float | None
    expected_move: float | None
    contracts: int


@dataclass(frozen=True, eq=False)
class ChainAnalytics:
    """Per-contract columns (aligned with the chain's rows) and per-expiry summaries."""

    chain: OptionChain
    rate: float
    style: str
    model: str
    t: np.ndarray
    mid: np.ndarray
    spread: np.ndarray
    spread_pct: np.ndarray
    iv: np.ndarray
    iv_reason: np.ndarray
    price: np.ndarray  # model price at the contract's IV (= mid where solved)
    delta: np.ndarray
    gamma: np.ndarray
    theta: np.ndarray
    vega: np.ndarray
    rho: np.ndarray
    prob_itm: np.ndarray
    prob_touch: np.ndarray
    parity_residual: np.ndarray  # per contract row (same value on the call and the put)
    expiries: tuple[ExpirySummary, ...]

    def inputs(self) -> dict[str, Any]:
        """What is needed to reproduce the numbers (DESIGN.md §4)."""
        return {
            "spot": self.chain.spot,
            "rate": self.rate,
            "dividend_yield": self.chain.dividend_yield,
            "as_of": self.chain.as_of.isoformat(),
            "model": self.model,
            "style": self.style,
            "day_count": "ACT/365 to 16:00 America/New_York on expiry",
            "vol": "per-contract implied vol from mid",
        }


def quote_mid_spread(bid: np.ndarray, ask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """mid, spread and spread as a fraction of mid (nan when a side is missing or crossed)."""
    with np.errstate(all="ignore"):
        ok = np.isfinite(bid) & np.isfinite(ask) & (bid >= 0) & (ask > 0) & (ask >= bid)
        mid = np.where(ok, 0.5 * (bid + ask), np.nan)
        spread = np.where(ok, ask - bid, np.nan)
        pct = np.where(ok & (mid > 0), spread / mid, np.nan)
    return mid, spread, pct


def prob_itm(
    spot: Any, strike: Any, t: Any, rate: Any, div_yield: Any, vol: Any, is_call: Any
) -> np.ndarray:
    """Risk-neutral probability of finishing in the money (lognormal): N(d2) / N(-d2)."""
    S, K, T, r, q, sig = np.broadcast_arrays(
        *(np.asarray(x, float) for x in (spot, strike, t, rate, div_yield, vol))
    )
    w = np.where(np.asarray(is_call, bool), 1.0, -1.0)
    with np.errstate(all="ignore"):
        v = sig * np.sqrt(T)
        d2 = (np.log(S / K) + (r - q) * T) / v - 0.5 * v
        p = ndtr(w * d2)
        at_expiry = np.where(w * (S - K) > 0, 1.0, 0.0)
        p = np.where(T > 0, p, at_expiry)
    return np.where(np.isfinite(sig) | (T <= 0), p, np.nan)


def prob_touch(spot: Any, strike: Any, t: Any, rate: Any, div_yield: Any, vol: Any) -> np.ndarray:
    """Risk-neutral probability that the spot touches ``strike`` before ``t`` (lognormal).

    For ``b = |ln(K/S)|`` and drift ``mu = ±(r - q - sigma^2/2)`` (sign towards the barrier):
    ``P = N((-b + mu T)/(sigma sqrt T)) + exp(2 mu b / sigma^2) N((-b - mu T)/(sigma sqrt T))``.
    """
    S, K, T, r, q, sig = np.broadcast_arrays(
        *(np.asarray(x, float) for x in (spot, strike, t, rate, div_yield, vol))
    )
    with np.errstate(all="ignore"):
        up = K >= S
        b = np.abs(np.log(K / S))
        mu = r - q - 0.5 * sig * sig
        mu = np.where(up, mu, -mu)
        v = sig * np.sqrt(T)
        expo = np.minimum(2.0 * mu * b / (sig * sig), 700.0)
        p = ndtr((-b + mu * T) / v) + np.exp(expo) * ndtr((-b - mu * T) / v)
        p = np.clip(p, 0.0, 1.0)
        p = np.where(b == 0, 1.0, p)
        p = np.where(T > 0, p, np.where(b == 0, 1.0, 0.0))
    return np.where(np.isfinite(sig) | (T <= 0), p, np.nan)


def _atm_iv(strike: np.ndarray, is_call: np.ndarray, iv: np.ndarray, fwd: float) -> float | None:
    ks = np.unique(strike)
    vals = []
    for k in ks:
        m = (strike == k) & np.isfinite(iv)
        vals.append(float(np.mean(iv[m])) if m.any() else np.nan)
    v = np.array(vals)
    ok = np.isfinite(v)
    if not ok.any():
        return None
    ks, v = ks[ok], v[ok]
    if fwd <= ks[0]:
        return float(v[0])
    if fwd >= ks[-1]:
        return float(v[-1])
    return float(np.interp(fwd, ks, v))


def analyze_chain(
    chain: OptionChain,
    rate: float,
    *,
    style: str = "american",
    as_of: datetime | None = None,
    greeks: bool = True,
) -> ChainAnalytics:
    """Analytics for every contract of ``chain`` (see the module docstring for conventions)."""
    if style not in ("american", "european"):
        raise ValueError(f"style must be 'american' or 'european', not {style!r}")
    valuation = as_of or chain.as_of
    S, q = chain.spot, chain.dividend_yield
    n = len(chain)
    t = year_fraction(valuation, chain.expiry) if n else np.zeros(0)
    mid, spread, pct = quote_mid_spread(chain.bid, chain.ask)
    ivr = implied_vol(mid, S, chain.strike, t, rate, q, chain.is_call, style=style)
    iv = ivr.iv
    nan = np.full(n, np.nan)
    price, delta, gamma, theta, vega, rho = (nan.copy() for _ in range(6))
    solved = np.nonzero(np.isfinite(iv))[0]
    if greeks and solved.size:
        pr = price_options(
            Contracts(
                S, chain.strike[solved], t[solved], rate, q, iv[solved], chain.is_call[solved]
            ),
            style=style,
        )
        for arr, val in zip(
            (price, delta, gamma, theta, vega, rho),
            (pr.price, pr.delta, pr.gamma, pr.theta, pr.vega, pr.rho),
            strict=True,
        ):
            arr[solved] = val
    p_itm = prob_itm(S, chain.strike, t, rate, q, iv, chain.is_call)
    p_touch = prob_touch(S, chain.strike, t, rate, q, iv)
    parity = _parity(chain, t, mid, rate, style)
    summaries = []
    for d in chain.expiries:
        m = chain.expiry == np.datetime64(d, "D")
        tt = float(t[m][0]) if m.any() else 0.0
        fwd = S * float(np.exp((rate - q) * tt))
        atm = _atm_iv(chain.strike[m], chain.is_call[m], iv[m], fwd)
        move = None if atm is None else S * atm * float(np.sqrt(tt))
        summaries.append(ExpirySummary(d, tt, fwd, atm, move, int(m.sum())))
    return ChainAnalytics(
        chain=chain,
        rate=rate,
        style=style,
        model=MODEL_QDFP if style == "american" else MODEL_BSM,
        t=t,
        mid=mid,
        spread=spread,
        spread_pct=pct,
        iv=iv,
        iv_reason=ivr.reason,
        price=price,
        delta=delta,
        gamma=gamma,
        theta=theta,
        vega=vega,
        rho=rho,
        prob_itm=p_itm,
        prob_touch=p_touch,
        parity_residual=parity,
        expiries=tuple(summaries),
    )


def parity_residual(
    call_mid: Any,
    put_mid: Any,
    spot: Any,
    strike: Any,
    t: Any,
    rate: Any,
    div_yield: Any,
    style: str,
) -> np.ndarray:
    """European: ``C - P - (S e^{-qT} - K e^{-rT})``. American: distance outside the bounds
    ``S e^{-qT} - K <= C - P <= S - K e^{-rT}`` (negative below, positive above, 0 inside)."""
    C, P, S, K, T, r, q = np.broadcast_arrays(
        *(np.asarray(x, float) for x in (call_mid, put_mid, spot, strike, t, rate, div_yield))
    )
    with np.errstate(all="ignore"):
        diff = C - P
        if style == "european":
            return diff - (S * np.exp(-q * T) - K * np.exp(-r * T))
        lo = S * np.exp(-q * T) - K
        hi = S - K * np.exp(-r * T)
        return np.where(diff < lo, diff - lo, np.where(diff > hi, diff - hi, 0.0))


def _parity(
    chain: OptionChain, t: np.ndarray, mid: np.ndarray, rate: float, style: str
) -> np.ndarray:
    out = np.full(len(chain), np.nan)
    if not len(chain):
        return out
    # rows are sorted by (expiry, calls first, strike): match calls and puts on (expiry, strike)
    key = chain.expiry.astype("int64") * 1_000_000_000 + np.round(chain.strike * 1000).astype(
        "int64"
    )
    calls = np.nonzero(chain.is_call)[0]
    puts = np.nonzero(~chain.is_call)[0]
    pos = {int(k): i for k, i in zip(key[puts], puts, strict=True)}
    ci, pi = [], []
    for i in calls:
        j = pos.get(int(key[i]))
        if j is not None:
            ci.append(i)
            pi.append(j)
    if not ci:
        return out
    c, p = np.array(ci), np.array(pi)
    res = parity_residual(
        mid[c], mid[p], chain.spot, chain.strike[c], t[c], rate, chain.dividend_yield, style
    )
    out[c] = res
    out[p] = res
    return out
