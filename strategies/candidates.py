"""Hedge candidates for a holding, generated from one listed expiry at a time.

For each expiry 7–400 days out (by default): protective puts at the money and 5/10/15 % out,
collars, zero-cost collars (call strike solved so the premiums cancel), put spreads, put-spread
collars and covered calls, sized in whole contracts to the shares held (per 100 shares without
a holding). Strikes are the listed ones nearest each target; prices come from the chain's
quotes in the chosen price mode.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray

from market.data import CONTRACT_MULTIPLIER, MarketInputs
from strategies.legs import Candidate, FloatArray, Leg, exec_price


@dataclass(frozen=True)
class ExpirySlice:
    """One expiry of a chain with solved implied vols (arrays over that expiry's contracts)."""

    expiry: date
    t: float
    strike: FloatArray
    is_call: NDArray[np.bool_]
    bid: FloatArray
    ask: FloatArray
    last: FloatArray
    volume: FloatArray
    open_interest: FloatArray
    iv: FloatArray
    iv_reason: NDArray[np.str_]
    atm_iv: float

    @property
    def mid(self) -> FloatArray:
        with np.errstate(invalid="ignore"):
            ok = (self.bid > 0) & (self.ask >= self.bid)
            return np.where(ok, (self.bid + self.ask) / 2, np.nan)


def atm_iv(strike: FloatArray, iv: FloatArray, forward: float) -> float:
    """ATM vol: linear interpolation in strike of the OTM-side IVs at the forward."""
    ok = np.isfinite(iv) & np.isfinite(strike)
    if not ok.any():
        return math.nan
    k, v = strike[ok], iv[ok]
    order = np.argsort(k, kind="stable")
    k, v = k[order], v[order]
    # Several contracts can share a strike (call and put): average them first.
    uk, inv = np.unique(k, return_inverse=True)
    uv = np.bincount(inv, weights=v) / np.bincount(inv)
    return float(np.interp(forward, uk, uv))


def build_slices(
    chain: Any,
    rate: float,
    as_of: datetime,
    *,
    min_days: float = 0.0,
    max_days: float = math.inf,
    iv_solver: Callable[..., Any] | None = None,
    solved: tuple[FloatArray, NDArray[np.str_]] | None = None,
) -> list[ExpirySlice]:
    """Solve IV for every contract of the chain in one call and split it by expiry.

    ``solved`` = (iv, reason) columns already solved for this chain skips the solve.
    """
    from market.calendar import year_fraction

    strike = np.asarray(chain.strike, dtype=float)
    is_call = np.asarray(chain.is_call, dtype=bool)
    bid = np.asarray(chain.bid, dtype=float)
    ask = np.asarray(chain.ask, dtype=float)
    expiry_col = np.asarray(chain.expiry).astype("datetime64[D]")
    expiries = list(chain.expiries)
    t_by_exp = {e: float(year_fraction(as_of, e)) for e in expiries}
    t = _t_column(expiry_col, t_by_exp)
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(bid) & np.isfinite(ask) & (bid >= 0) & (ask > 0) & (ask >= bid)
        mid = np.where(ok, (bid + ask) / 2, np.nan)
    spot = float(chain.spot)
    q = float(chain.dividend_yield or 0.0)
    if solved is None:
        if iv_solver is None:
            from market.iv import implied_vol

            iv_solver = implied_vol
        res = iv_solver(
            np.nan_to_num(mid, nan=0.0), spot, strike, t, rate, q, is_call, style="american"
        )
        iv = np.where(ok, np.asarray(res.iv, dtype=float), np.nan)
        reason = np.asarray(res.reason).astype(str)
    else:
        iv, reason = solved
    slices: list[ExpirySlice] = []
    for e in expiries:
        te = t_by_exp[e]
        days = te * 365.0
        if days < min_days or days > max_days or te <= 0:
            continue
        m = expiry_col == np.datetime64(e, "D")
        fwd = spot * math.exp((rate - q) * te)
        # OTM side only for the ATM estimate: puts below the forward, calls above.
        otm = m & np.where(is_call, strike >= fwd, strike <= fwd)
        a = atm_iv(strike[otm], iv[otm], fwd)
        if not math.isfinite(a):
            a = atm_iv(strike[m], iv[m], fwd)
        slices.append(
            ExpirySlice(
                expiry=e,
                t=te,
                strike=strike[m],
                is_call=is_call[m],
                bid=bid[m],
                ask=ask[m],
                last=np.asarray(chain.last, dtype=float)[m],
                volume=np.asarray(chain.volume, dtype=float)[m],
                open_interest=np.asarray(chain.open_interest, dtype=float)[m],
                iv=iv[m],
                iv_reason=reason[m],
                atm_iv=a,
            )
        )
    return slices


def _t_column(expiry_col: NDArray[Any], t_by_exp: dict[date, float]) -> FloatArray:
    keys = np.array([np.datetime64(e, "D") for e in t_by_exp], dtype="datetime64[D]")
    vals = np.array(list(t_by_exp.values()), dtype=float)
    if keys.size == 0:
        return np.zeros(expiry_col.shape)
    order = np.argsort(keys)
    keys, vals = keys[order], vals[order]
    idx = np.clip(np.searchsorted(keys, expiry_col), 0, keys.size - 1)
    return np.where(keys[idx] == expiry_col, vals[idx], 0.0)


def _nearest(sl: ExpirySlice, call: bool, target: float) -> int | None:
    m = (sl.is_call == call) & np.isfinite(sl.bid) & np.isfinite(sl.ask) & (sl.ask > 0)
    if not m.any():
        return None
    idx = np.flatnonzero(m)
    return int(idx[np.argmin(np.abs(sl.strike[idx] - target))])


def _leg(sl: ExpirySlice, i: int, contracts: float, mode: str) -> Leg | None:
    buy = contracts > 0
    price = exec_price(float(sl.bid[i]), float(sl.ask[i]), buy, mode)
    if price is None:
        return None
    iv = float(sl.iv[i])
    src = "chain"
    if not math.isfinite(iv):
        iv, src = sl.atm_iv, "atm_fallback"
    return Leg(
        kind="call" if sl.is_call[i] else "put",
        quantity=contracts,
        strike=float(sl.strike[i]),
        expiry=sl.expiry,
        price=price,
        bid=float(sl.bid[i]),
        ask=float(sl.ask[i]),
        iv=iv,
        t=sl.t,
        open_interest=float(sl.open_interest[i]),
        volume=float(sl.volume[i]),
        iv_source=src,
    )


def solve_zero_cost_call(
    sl: ExpirySlice, target: float, spot: float, mode: str
) -> tuple[float, int, int] | None:
    """Call strike whose sell price equals ``target`` (the put's buy price).

    The sell price is interpolated linearly in strike between adjacent listed calls above spot
    (it falls as the strike rises). Returns ``(K*, i_low, i_high)`` with the bracketing listed
    contracts, or None when no listed call bracket contains the target.
    """
    idx = np.flatnonzero(sl.is_call & (sl.strike >= spot))
    if idx.size < 2:
        return None
    idx = idx[np.argsort(sl.strike[idx])]
    prices = np.array(
        [exec_price(float(sl.bid[i]), float(sl.ask[i]), False, mode) or 0.0 for i in idx]
    )
    strikes = sl.strike[idx]
    for j in range(idx.size - 1):
        p0, p1 = prices[j], prices[j + 1]
        if p0 >= target >= p1 and p0 > p1:
            k = strikes[j] + (p0 - target) * (strikes[j + 1] - strikes[j]) / (p0 - p1)
            return float(k), int(idx[j]), int(idx[j + 1])
        if p0 == target:
            return float(strikes[j]), int(idx[j]), int(idx[j])
    return None


def holding_size(shares: float) -> tuple[float, float, list[str]]:
    """(shares to model, contracts per hedge leg, notes): hedge whole round lots of 100."""
    notes: list[str] = []
    if shares < CONTRACT_MULTIPLIER:
        notes.append(
            "no holding of the symbol: shown per 100 shares"
            if shares <= 0
            else f"holding of {shares:g} shares is under one contract: shown per 100 shares"
        )
        return float(CONTRACT_MULTIPLIER), 1.0, notes
    contracts = math.floor(shares / CONTRACT_MULTIPLIER)
    if contracts * CONTRACT_MULTIPLIER != shares:
        notes.append(
            f"{contracts} contracts cover {contracts * CONTRACT_MULTIPLIER:g} of {shares:g} shares"
        )
    return float(shares), float(contracts), notes


PUT_OTM = (0.0, 0.05, 0.10, 0.15)
COLLARS = ((0.05, 0.05), (0.05, 0.10), (0.10, 0.10))
PUT_SPREADS = ((0.0, 0.10), (0.05, 0.15))
PUT_SPREAD_COLLARS = ((0.05, 0.15, 0.05),)
COVERED_CALLS = (0.05, 0.10)
ZERO_COST_PUTS = (0.05, 0.10)


def generate_candidates(
    ctx: MarketInputs,
    slices: Sequence[ExpirySlice],
    shares: float,
    mode: str = "ask_bid",
) -> list[Candidate]:
    """Hedges sized to the holding, for each expiry slice (see module docstring)."""
    held, n, size_notes = holding_size(shares)
    s = ctx.spot
    stock = Leg(kind="stock", quantity=held, price=s)
    out: list[Candidate] = []
    base_notes = tuple(size_notes)
    seen: set[tuple[Any, ...]] = set()

    def add(
        sl: ExpirySlice, name: str, family: str, legs: tuple[Leg, ...], params: dict[str, Any]
    ) -> None:
        """The hedge of the holding with these option legs, once per expiry, family and strikes."""
        cand = Candidate(name, family, sl.expiry, (stock, *legs), params, base_notes)
        key = (sl.expiry, family, *((lg.kind, lg.strike, lg.quantity) for lg in cand.legs))
        if key not in seen:
            seen.add(key)
            out.append(cand)

    for sl in slices:
        out.append(Candidate("No hedge", "baseline", sl.expiry, (stock,), {}, base_notes, sl.t))
        for otm in PUT_OTM:
            i = _nearest(sl, False, s * (1 - otm))
            put = _leg(sl, i, n, mode) if i is not None else None
            if put:
                label = "ATM" if otm == 0 else f"{otm:.0%} OTM"
                add(
                    sl,
                    f"Protective put {label} {put.strike:g}",
                    "protective_put",
                    (put,),
                    {"put_otm_pct": otm * 100},
                )
        for p_otm, c_otm in COLLARS:
            ip, ic = _nearest(sl, False, s * (1 - p_otm)), _nearest(sl, True, s * (1 + c_otm))
            if ip is None or ic is None:
                continue
            put, call = _leg(sl, ip, n, mode), _leg(sl, ic, -n, mode)
            if put and call:
                add(
                    sl,
                    f"Collar {put.strike:g}P / {call.strike:g}C",
                    "collar",
                    (put, call),
                    {"put_otm_pct": p_otm * 100, "call_otm_pct": c_otm * 100},
                )
        for p_otm in ZERO_COST_PUTS:
            ip = _nearest(sl, False, s * (1 - p_otm))
            put = _leg(sl, ip, n, mode) if ip is not None else None
            if put is None:
                continue
            sol = solve_zero_cost_call(sl, put.price, s, mode)
            if sol is None:
                continue
            k_star, i_lo, i_hi = sol
            # Listed strike nearest the solved one; the exact solution is reported alongside.
            i_call = (
                i_lo if abs(sl.strike[i_lo] - k_star) <= abs(sl.strike[i_hi] - k_star) else i_hi
            )
            call = _leg(sl, i_call, -n, mode)
            if call is None:
                continue
            add(
                sl,
                f"Zero-cost collar {put.strike:g}P / {call.strike:g}C",
                "zero_cost_collar",
                (put, call),
                {
                    "put_otm_pct": p_otm * 100,
                    "solved_call_strike": round(k_star, 4),
                    "solve_method": "call strike where the call's sell price equals the "
                    "put's buy price, linear in strike between the bracketing listed calls",
                },
            )
        for long_otm, short_otm in PUT_SPREADS:
            il, is_ = (
                _nearest(sl, False, s * (1 - long_otm)),
                _nearest(sl, False, s * (1 - short_otm)),
            )
            if il is None or is_ is None or sl.strike[is_] >= sl.strike[il]:
                continue
            lp, sp = _leg(sl, il, n, mode), _leg(sl, is_, -n, mode)
            if lp and sp:
                add(
                    sl,
                    f"Put spread {lp.strike:g}/{sp.strike:g}",
                    "put_spread",
                    (lp, sp),
                    {"long_otm_pct": long_otm * 100, "short_otm_pct": short_otm * 100},
                )
        for long_otm, short_otm, c_otm in PUT_SPREAD_COLLARS:
            il = _nearest(sl, False, s * (1 - long_otm))
            is_ = _nearest(sl, False, s * (1 - short_otm))
            ic = _nearest(sl, True, s * (1 + c_otm))
            if il is None or is_ is None or ic is None or sl.strike[is_] >= sl.strike[il]:
                continue
            lp, sp, sc = _leg(sl, il, n, mode), _leg(sl, is_, -n, mode), _leg(sl, ic, -n, mode)
            if lp and sp and sc:
                add(
                    sl,
                    f"Put-spread collar {lp.strike:g}/{sp.strike:g}P / {sc.strike:g}C",
                    "put_spread_collar",
                    (lp, sp, sc),
                    {
                        "long_otm_pct": long_otm * 100,
                        "short_otm_pct": short_otm * 100,
                        "call_otm_pct": c_otm * 100,
                    },
                )
        if shares >= CONTRACT_MULTIPLIER or shares <= 0:
            for c_otm in COVERED_CALLS:
                ic = _nearest(sl, True, s * (1 + c_otm))
                call = _leg(sl, ic, -n, mode) if ic is not None else None
                if call:
                    add(
                        sl,
                        f"Covered call {call.strike:g}C",
                        "covered_call",
                        (call,),
                        {"call_otm_pct": c_otm * 100},
                    )
    return out
