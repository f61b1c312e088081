"""Option-chain analytics for the options page and ``/api/options`` (pure; no ORM).

IV is solved once for the whole chain (American model, from mid quotes); Greeks are priced for
the expiry on show. Parity residuals use mids against European put–call parity and say whether
they sit inside the American bounds ``S e^{-qT} − K ≤ C − P ≤ S − K e^{-rT}``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray

from core.numbers import finite
from market.pricing import Contracts, price_options
from strategies.candidates import atm_iv
from strategies.legs import FloatArray

NEAR_EXPIRY_DAYS = 7
WIDE_SPREAD_PCT = 10.0
LOW_OI = 100


@dataclass(frozen=True)
class SolvedChain:
    """A chain with per-contract time to expiry, mid, spread and American IV (all contracts)."""

    chain: Any
    rate: float
    t: FloatArray
    mid: FloatArray
    spread_pct: FloatArray
    iv: FloatArray
    iv_reason: NDArray[np.str_]
    expiry_col: NDArray[Any]
    atm_iv: dict[date, float]
    t_by_expiry: dict[date, float]

    @property
    def spot(self) -> float:
        return float(self.chain.spot)

    @property
    def div_yield(self) -> float:
        return float(self.chain.dividend_yield or 0.0)

    @property
    def as_of(self) -> datetime:
        as_of: datetime = self.chain.as_of
        return as_of


def solve_chain(chain: Any, rate: float) -> SolvedChain:
    from market.calendar import year_fraction
    from market.iv import implied_vol

    expiry_col = np.asarray(chain.expiry).astype("datetime64[D]")
    t = np.asarray(year_fraction(chain.as_of, expiry_col), dtype=float)
    bid = np.asarray(chain.bid, dtype=float)
    ask = np.asarray(chain.ask, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        ok = np.isfinite(bid) & np.isfinite(ask) & (bid >= 0) & (ask > 0) & (ask >= bid)
        mid = np.where(ok, (bid + ask) / 2, np.nan)
        spread_pct = np.where(ok & (mid > 0), (ask - bid) / mid * 100, np.nan)
    strike = np.asarray(chain.strike, dtype=float)
    is_call = np.asarray(chain.is_call, dtype=bool)
    q = float(chain.dividend_yield or 0.0)
    spot = float(chain.spot)
    res = implied_vol(
        np.nan_to_num(mid, nan=0.0), spot, strike, t, rate, q, is_call, style="american"
    )
    iv = np.where(ok, np.asarray(res.iv, dtype=float), np.nan)
    reason = np.where(ok, np.asarray(res.reason).astype(str), "no_price")
    atm: dict[date, float] = {}
    t_by: dict[date, float] = {}
    for e in chain.expiries:
        m = expiry_col == np.datetime64(e, "D")
        te = float(t[m][0]) if m.any() else 0.0
        t_by[e] = te
        fwd = spot * math.exp((rate - q) * te)
        otm = m & np.where(is_call, strike >= fwd, strike <= fwd)
        a = atm_iv(strike[otm], iv[otm], fwd)
        atm[e] = a if math.isfinite(a) else atm_iv(strike[m], iv[m], fwd)
    return SolvedChain(chain, rate, t, mid, spread_pct, iv, reason, expiry_col, atm, t_by)


def default_expiry(expiries: tuple[date, ...], t_by: dict[date, float]) -> date | None:
    """Nearest expiry at least a week away (else the last one)."""
    for e in expiries:
        if t_by.get(e, 0.0) * 365 >= NEAR_EXPIRY_DAYS:
            return e
    return expiries[-1] if expiries else None


def expiry_table(
    sc: SolvedChain,
    expiry: date,
    *,
    min_oi: int | None = None,
    max_spread_pct: float | None = None,
) -> dict[str, Any]:
    """Calls and puts of one expiry by strike, with Greeks, flags, ATM IV and parity."""
    chain = sc.chain
    m = sc.expiry_col == np.datetime64(expiry, "D")
    idx = np.flatnonzero(m)
    strike = np.asarray(chain.strike, dtype=float)[idx]
    is_call = np.asarray(chain.is_call, dtype=bool)[idx]
    oi = np.asarray(chain.open_interest, dtype=float)[idx]
    spread = sc.spread_pct[idx]
    keep = np.ones(idx.size, dtype=bool)
    if min_oi is not None:
        keep &= oi >= min_oi
    if max_spread_pct is not None:
        keep &= np.nan_to_num(spread, nan=np.inf) <= max_spread_pct
    te = sc.t_by_expiry.get(expiry, 0.0)
    spot, r, q = sc.spot, sc.rate, sc.div_yield
    iv = sc.iv[idx]
    has_iv = np.isfinite(iv)
    contracts = Contracts(spot, strike, max(te, 1e-9), r, q, np.where(has_iv, iv, 0.2), is_call)
    priced = price_options(contracts, style="american")
    model = str(getattr(priced, "model", "american"))
    cols = {
        name: np.where(has_iv, np.asarray(getattr(priced, name), dtype=float), np.nan)
        for name in ("price", "delta", "gamma", "theta", "vega", "rho")
    }
    bid = np.asarray(chain.bid, dtype=float)[idx]
    ask = np.asarray(chain.ask, dtype=float)[idx]
    last = np.asarray(chain.last, dtype=float)[idx]
    vol = np.asarray(chain.volume, dtype=float)[idx]
    mid = sc.mid[idx]
    reason = sc.iv_reason[idx]
    itm = np.where(is_call, strike < spot, strike > spot)

    def contract(i: int) -> dict[str, Any]:
        flags = []
        if not math.isfinite(spread[i]) or spread[i] > WIDE_SPREAD_PCT:
            flags.append("wide_spread")
        if oi[i] < LOW_OI:
            flags.append("low_oi")
        if not (bid[i] > 0):
            flags.append("no_bid")
        return {
            "bid": finite(bid[i], 4),
            "ask": finite(ask[i], 4),
            "mid": finite(mid[i], 4),
            "last": finite(last[i], 4),
            "volume": int(vol[i]),
            "open_interest": int(oi[i]),
            "spread_pct": finite(spread[i], 3),
            "iv": finite(iv[i], 6),
            "iv_reason": str(reason[i]) or None,
            "delta": finite(cols["delta"][i], 6),
            "gamma": finite(cols["gamma"][i], 6),
            "theta": finite(cols["theta"][i], 6),
            "vega": finite(cols["vega"][i], 6),
            "rho": finite(cols["rho"][i], 6),
            "model_price": finite(cols["price"][i], 4),
            "model": model if has_iv[i] else None,
            "itm": bool(itm[i]),
            "flags": flags,
        }

    rows: dict[float, dict[str, Any]] = {}
    for i in np.flatnonzero(keep):
        k = float(strike[i])
        row = rows.setdefault(k, {"strike": k, "call": None, "put": None, "parity": None})
        row["call" if is_call[i] else "put"] = contract(int(i))
    disc_r, disc_q = math.exp(-r * te), math.exp(-q * te)
    for k, row in rows.items():
        c, p = row["call"], row["put"]
        if c and p and c["mid"] is not None and p["mid"] is not None:
            diff = c["mid"] - p["mid"]
            resid = diff - (spot * disc_q - k * disc_r)
            lo, hi = spot * disc_q - k, spot - k * disc_r
            row["parity"] = {
                "residual": round(resid, 6),
                "within_american_bounds": bool(lo - 1e-9 <= diff <= hi + 1e-9),
            }
    strikes_sorted = sorted(rows)
    atm_strike = min(strikes_sorted, key=lambda k: abs(k - spot)) if strikes_sorted else None
    a = sc.atm_iv.get(expiry, math.nan)
    return {
        "expiry": expiry.isoformat(),
        "days": finite(te * 365, 4),
        "t": finite(te, 8),
        "atm_iv": finite(a, 6),
        "atm_strike": atm_strike,
        "expected_move": finite(spot * a * math.sqrt(te), 4) if math.isfinite(a) else None,
        "model": model,
        "rows": [rows[k] for k in strikes_sorted],
    }


def smile(
    sc: SolvedChain, expiry: date
) -> tuple[list[float], list[float | None], list[float | None]]:
    """(strikes, call IVs, put IVs) for one expiry, for the IV smile chart."""
    m = sc.expiry_col == np.datetime64(expiry, "D")
    strike = np.asarray(sc.chain.strike, dtype=float)
    is_call = np.asarray(sc.chain.is_call, dtype=bool)
    ks = sorted({float(k) for k in strike[m]})
    c = dict(zip(strike[m & is_call].tolist(), sc.iv[m & is_call].tolist(), strict=True))
    p = dict(zip(strike[m & ~is_call].tolist(), sc.iv[m & ~is_call].tolist(), strict=True))

    def v(d: dict[float, float], k: float) -> float | None:
        x = d.get(k)
        return x if x is not None and math.isfinite(x) else None

    return ks, [v(c, k) for k in ks], [v(p, k) for k in ks]


def term_structure(sc: SolvedChain) -> list[tuple[date, float, float]]:
    """(expiry, days, ATM IV) for every expiry with an ATM IV."""
    out = []
    for e in sc.chain.expiries:
        a = sc.atm_iv.get(e, math.nan)
        if math.isfinite(a) and sc.t_by_expiry.get(e, 0) > 0:
            out.append((e, sc.t_by_expiry[e] * 365, a))
    return out
