"""Hedge candidates for a holding, and their metrics, computed for whole sets of strategies at once.

Pure maths over market data (no ORM). A *strategy* is a set of legs: the stock held plus listed
options. At expiry its P&L is piecewise linear in the terminal price ``S_T`` with kinks at the
strikes, so every metric below is exact, found from the values at ``S_T = 0`` and at the kinks
plus the slope beyond the last kink:

- floor: the position's worst value at expiry net of the hedge's cost, when losses stop at a
  positive price (``floor_price``); cap: its best value when gains stop (``cap_price``);
- breakevens: zeros of the P&L; max loss / max gain (``None`` = unlimited);
- probabilities and expected value under a lognormal terminal distribution: risk-neutral drift
  ``r - q``, volatility = the expiry's ATM implied vol, time = ACT/365 to 16:00 New York on the
  expiry date. ``P(profit)`` integrates the lognormal density over the intervals where the P&L is
  positive; the expected P&L integrates the piecewise-linear P&L against it in closed form
  (``E[S 1{S<x}] = F e^{...} Φ(...)``), not by sampling.

Everything is vectorised over candidates × legs with numpy: one pricing call prices every leg
of every candidate, so evaluating all expiries costs a handful of array operations.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtr

from core.numbers import finite
from market.data import CONTRACT_MULTIPLIER, MarketInputs

TICK = 0.01
KIND_NONE, KIND_STOCK, KIND_CALL, KIND_PUT = 0, 1, 2, 3
PriceMode = Literal["ask_bid", "mid"]
PRICE_MODES: tuple[str, ...] = ("ask_bid", "mid")

PROBABILITY_MODEL = (
    "lognormal terminal price, risk-neutral drift r - q, volatility = ATM implied volatility of "
    "the expiry (American model IV of the mid quotes), time ACT/365 to 16:00 America/New_York "
    "on the expiry date; expected value is the undiscounted mean P&L at expiry"
)

FloatArray = NDArray[np.float64]


# --- inputs ----------------------------------------------------------------------------------


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

    @property
    def mid(self) -> float | None:
        if self.bid is None or self.ask is None:
            return None
        return (self.bid + self.ask) / 2


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


@dataclass(frozen=True)
class Candidate:
    name: str
    family: str
    expiry: date | None
    legs: tuple[Leg, ...]
    params: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    t: float = 0.0  # time to the strategy's expiry (years)


Pricer = Callable[..., Any]


def _default_pricer() -> Pricer:
    from market.pricing import price_options

    return price_options


def _european_pricer() -> Pricer:
    from market.pricing import bsm

    return bsm


# --- chain preparation -----------------------------------------------------------------------


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


# --- candidate generation --------------------------------------------------------------------


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
    for sl in slices:
        base_notes = tuple(size_notes)
        out.append(Candidate("No hedge", "baseline", sl.expiry, (stock,), {}, base_notes, sl.t))
        seen: set[tuple[Any, ...]] = set()

        def add(cand: Candidate, seen: set[tuple[Any, ...]] = seen) -> None:
            key = (cand.family, *((lg.kind, lg.strike, lg.quantity) for lg in cand.legs))
            if key not in seen:
                seen.add(key)
                out.append(cand)

        for otm in PUT_OTM:
            i = _nearest(sl, False, s * (1 - otm))
            put = _leg(sl, i, n, mode) if i is not None else None
            if put:
                label = "ATM" if otm == 0 else f"{otm:.0%} OTM"
                add(
                    Candidate(
                        f"Protective put {label} {put.strike:g}",
                        "protective_put",
                        sl.expiry,
                        (stock, put),
                        {"put_otm_pct": otm * 100},
                        base_notes,
                    )
                )
        for p_otm, c_otm in COLLARS:
            ip, ic = _nearest(sl, False, s * (1 - p_otm)), _nearest(sl, True, s * (1 + c_otm))
            if ip is None or ic is None:
                continue
            put, call = _leg(sl, ip, n, mode), _leg(sl, ic, -n, mode)
            if put and call:
                add(
                    Candidate(
                        f"Collar {put.strike:g}P / {call.strike:g}C",
                        "collar",
                        sl.expiry,
                        (stock, put, call),
                        {"put_otm_pct": p_otm * 100, "call_otm_pct": c_otm * 100},
                        base_notes,
                    )
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
                Candidate(
                    f"Zero-cost collar {put.strike:g}P / {call.strike:g}C",
                    "zero_cost_collar",
                    sl.expiry,
                    (stock, put, call),
                    {
                        "put_otm_pct": p_otm * 100,
                        "solved_call_strike": round(k_star, 4),
                        "solve_method": "call strike where the call's sell price equals the "
                        "put's buy price, linear in strike between the bracketing listed calls",
                    },
                    base_notes,
                )
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
                    Candidate(
                        f"Put spread {lp.strike:g}/{sp.strike:g}",
                        "put_spread",
                        sl.expiry,
                        (stock, lp, sp),
                        {"long_otm_pct": long_otm * 100, "short_otm_pct": short_otm * 100},
                        base_notes,
                    )
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
                    Candidate(
                        f"Put-spread collar {lp.strike:g}/{sp.strike:g}P / {sc.strike:g}C",
                        "put_spread_collar",
                        sl.expiry,
                        (stock, lp, sp, sc),
                        {
                            "long_otm_pct": long_otm * 100,
                            "short_otm_pct": short_otm * 100,
                            "call_otm_pct": c_otm * 100,
                        },
                        base_notes,
                    )
                )
        if shares >= CONTRACT_MULTIPLIER or shares <= 0:
            for c_otm in COVERED_CALLS:
                ic = _nearest(sl, True, s * (1 + c_otm))
                call = _leg(sl, ic, -n, mode) if ic is not None else None
                if call:
                    add(
                        Candidate(
                            f"Covered call {call.strike:g}C",
                            "covered_call",
                            sl.expiry,
                            (stock, call),
                            {"call_otm_pct": c_otm * 100},
                            base_notes,
                        )
                    )
    return out


# --- vectorised evaluation -------------------------------------------------------------------


@dataclass(frozen=True)
class LegArrays:
    """Legs of N strategies padded to L columns (kind 0 = padding)."""

    kind: NDArray[np.int8]
    units: FloatArray
    strike: FloatArray
    price: FloatArray
    t: FloatArray
    iv: FloatArray

    @classmethod
    def from_legs(cls, strategies: Sequence[Sequence[Leg]]) -> LegArrays:
        n = len(strategies)
        width = max((len(s) for s in strategies), default=1) or 1
        kind = np.zeros((n, width), dtype=np.int8)
        units = np.zeros((n, width))
        strike = np.zeros((n, width))
        price = np.zeros((n, width))
        t = np.zeros((n, width))
        iv = np.full((n, width), np.nan)
        codes = {"stock": KIND_STOCK, "call": KIND_CALL, "put": KIND_PUT}
        for r, legs in enumerate(strategies):
            for c, lg in enumerate(legs):
                kind[r, c] = codes[lg.kind]
                units[r, c] = lg.units
                strike[r, c] = lg.strike or 0.0
                price[r, c] = lg.price
                t[r, c] = lg.t
                iv[r, c] = lg.iv if lg.iv is not None else np.nan
        return cls(kind, units, strike, price, t, iv)

    @property
    def cost0(self) -> FloatArray:
        """Money paid to set the strategy up (stock at its price, premiums signed)."""
        return np.sum(self.units * self.price * (self.kind != KIND_NONE), axis=-1)

    def value_at_expiry(self, s: FloatArray) -> FloatArray:
        """Value at expiry for prices ``s`` of shape (N, P) → (N, P)."""
        x = s[..., None]
        k = self.strike[:, None, :]
        kind = self.kind[:, None, :]
        pay = np.where(
            kind == KIND_STOCK,
            x,
            np.where(
                kind == KIND_CALL,
                np.maximum(x - k, 0.0),
                np.where(kind == KIND_PUT, np.maximum(k - x, 0.0), 0.0),
            ),
        )
        return np.sum(self.units[:, None, :] * pay, axis=-1)


def lognormal_params(
    spot: float | FloatArray, rate: float, q: float, vol: Any, t: Any
) -> tuple[FloatArray, FloatArray]:
    """(μ, s) of ln S_T under the risk-neutral lognormal model."""
    vol = np.asarray(vol, dtype=float)
    t = np.asarray(t, dtype=float)
    mu = np.log(spot) + (rate - q - 0.5 * vol**2) * t
    sd = vol * np.sqrt(t)
    return mu, sd


def _cdf(x: FloatArray, mu: FloatArray, sd: FloatArray) -> FloatArray:
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (np.log(x) - mu) / sd
    return np.asarray(ndtr(z))


def _partial_mean(x: FloatArray, mu: FloatArray, sd: FloatArray) -> FloatArray:
    """E[S 1{S < x}] for ln S ~ N(mu, sd²)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (np.log(x) - mu - sd**2) / sd
    return np.asarray(np.exp(mu + 0.5 * sd**2) * ndtr(z))


@dataclass(frozen=True)
class ExpiryMetrics:
    """Exact expiry metrics for N strategies (arrays of shape (N,) unless noted)."""

    cost0: FloatArray
    min_pnl: FloatArray  # -inf = unlimited loss
    max_pnl: FloatArray  # +inf = unlimited gain
    floor_price: FloatArray  # nan = no floor
    cap_price: FloatArray  # nan = no cap
    breakevens: list[list[float]]
    prob_profit: FloatArray
    prob_floor: FloatArray
    expected_pnl: FloatArray


def expiry_metrics(legs: LegArrays, mu: FloatArray, sd: FloatArray) -> ExpiryMetrics:
    """Exact piecewise-linear analysis of the P&L at expiry, for all strategies at once."""
    n, width = legs.kind.shape
    is_opt = (legs.kind == KIND_CALL) | (legs.kind == KIND_PUT)
    knots = np.where(is_opt, legs.strike, np.inf)
    knots = np.sort(knots, axis=1)
    # Padding: repeat the last real knot (zero-length segments carry no probability).
    last = np.where(np.isfinite(knots), knots, -np.inf).max(axis=1)
    last = np.where(np.isfinite(last), last, 0.0)
    knots = np.where(np.isfinite(knots), knots, last[:, None])
    pts = np.concatenate([np.zeros((n, 1)), knots], axis=1)  # (N, P)
    cost0 = legs.cost0
    v = legs.value_at_expiry(pts) - cost0[:, None]
    slope_inf = np.sum(legs.units * ((legs.kind == KIND_STOCK) | (legs.kind == KIND_CALL)), axis=1)
    scale = np.maximum(np.abs(cost0), np.sum(np.abs(legs.units) * np.maximum(legs.strike, 1), 1))
    tol = 1e-9 * np.maximum(scale, 1.0)
    slope_tol = 1e-9

    min_v = v.min(axis=1)
    max_v = v.max(axis=1)
    min_pnl = np.where(slope_inf < -slope_tol, -np.inf, min_v)
    max_pnl = np.where(slope_inf > slope_tol, np.inf, max_v)

    is_min = v <= min_v[:, None] + tol[:, None]
    run_min = np.cumprod(is_min, axis=1).sum(axis=1)  # prefix run from S=0
    floor_idx = np.maximum(run_min - 1, 0)
    floor_x = np.take_along_axis(pts, floor_idx[:, None], 1)[:, 0]
    has_floor = (run_min >= 1) & (floor_x > 0) & (slope_inf >= -slope_tol)
    floor_price = np.where(has_floor, floor_x, np.nan)

    is_max = v >= max_v[:, None] - tol[:, None]
    run_max = np.cumprod(is_max[:, ::-1], axis=1).sum(axis=1)  # suffix run to the right end
    cap_idx = np.clip(pts.shape[1] - run_max, 0, pts.shape[1] - 1)
    cap_x = np.take_along_axis(pts, cap_idx[:, None], 1)[:, 0]
    has_cap = (run_max >= 1) & (np.abs(slope_inf) <= slope_tol) & (cap_x > 0)
    cap_price = np.where(has_cap, cap_x, np.nan)

    # Segments [x_j, x_{j+1}) plus [x_last, ∞); P&L = a + b x on each.
    lo = pts
    hi = np.concatenate([pts[:, 1:], np.full((n, 1), np.inf)], axis=1)
    dx = hi[:, :-1] - lo[:, :-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        b_fin = np.where(dx > 0, (v[:, 1:] - v[:, :-1]) / np.where(dx > 0, dx, 1.0), 0.0)
    b = np.concatenate([b_fin, slope_inf[:, None]], axis=1)
    a = v - b * lo
    with np.errstate(divide="ignore", invalid="ignore"):
        x0 = np.where(b != 0, -a / np.where(b != 0, b, 1.0), np.nan)
    is_be = (b != 0) & (x0 >= lo) & (x0 < hi) & (x0 > 0) & (np.abs(b) > slope_tol)
    p_lo = np.where(b > 0, np.maximum(lo, np.nan_to_num(x0, nan=0.0)), lo)
    p_hi = np.where(b < 0, np.minimum(hi, np.nan_to_num(x0, nan=np.inf)), hi)
    p_lo = np.where((b == 0) & (a <= 0), hi, p_lo)  # flat and not profitable: empty
    p_hi = np.maximum(p_hi, p_lo)
    mu2, sd2 = mu[:, None], sd[:, None]
    prob_profit = np.sum(_cdf(p_hi, mu2, sd2) - _cdf(p_lo, mu2, sd2), axis=1)
    seg_p = _cdf(hi, mu2, sd2) - _cdf(lo, mu2, sd2)
    seg_m = _partial_mean(hi, mu2, sd2) - _partial_mean(lo, mu2, sd2)
    expected = np.sum(np.where(seg_p > 0, a * seg_p, 0.0) + np.where(b != 0, b * seg_m, 0.0), 1)
    prob_floor = np.where(has_floor, _cdf(np.where(has_floor, floor_x, 1.0), mu, sd), np.nan)
    breakevens = [
        sorted({round(float(x), 6) for x in row[m]}) for row, m in zip(x0, is_be, strict=True)
    ]
    return ExpiryMetrics(
        cost0=cost0,
        min_pnl=min_pnl,
        max_pnl=max_pnl,
        floor_price=floor_price,
        cap_price=cap_price,
        breakevens=breakevens,
        prob_profit=prob_profit,
        prob_floor=prob_floor,
        expected_pnl=expected,
    )


@dataclass(frozen=True)
class LegModel:
    """Model values for every option leg (flattened), priced in one call."""

    price: FloatArray
    delta: FloatArray
    gamma: FloatArray
    theta: FloatArray
    vega: FloatArray
    rho: FloatArray
    european: FloatArray
    model: str


def price_legs(
    ctx: MarketInputs,
    legs: LegArrays,
    pricer: Pricer | None = None,
    european: Pricer | None = None,
) -> LegModel:
    pricer = pricer or _default_pricer()
    european = european or _european_pricer()
    is_opt = (legs.kind == KIND_CALL) | (legs.kind == KIND_PUT)
    shape = legs.kind.shape
    if not is_opt.any():
        z = np.zeros(shape)
        return LegModel(z, z, z, z, z, z, z, "none")
    # Price each distinct contract once: candidates share most of their legs.
    key = np.stack(
        [legs.strike[is_opt], legs.t[is_opt], (legs.kind == KIND_CALL)[is_opt], legs.iv[is_opt]],
        axis=1,
    )
    uniq, inverse = np.unique(key, axis=0, return_inverse=True)
    k, t, call = uniq[:, 0], np.maximum(uniq[:, 1], 1e-9), uniq[:, 2] > 0.5
    vol = np.where(np.isfinite(uniq[:, 3]), uniq[:, 3], 0.2)
    am = pricer(ctx.spot, k, t, ctx.rate, ctx.div_yield, vol, call, style="american")
    eu = european(ctx.spot, k, t, ctx.rate, ctx.div_yield, vol, call)

    def scatter(values: Any) -> FloatArray:
        out = np.zeros(shape)
        out[is_opt] = np.asarray(values, dtype=float).reshape(-1)[inverse.reshape(-1)]
        return out

    return LegModel(
        price=scatter(am.price),
        delta=scatter(am.delta),
        gamma=scatter(am.gamma),
        theta=scatter(am.theta),
        vega=scatter(am.vega),
        rho=scatter(am.rho),
        european=scatter(eu.price),
        model=str(getattr(am, "model", "american")),
    )


def assignment_risk(
    ctx: MarketInputs, legs: LegArrays, model: LegModel
) -> tuple[NDArray[np.str_], FloatArray, FloatArray]:
    """Early-assignment risk of short American legs: level, extrinsic value, exercise premium.

    A holder exercises early when the option's remaining time value is worth less than what
    exercising earns: for puts the interest on the strike, for calls the dividend. ``high``:
    in the money and the model's time value has fallen to the early-exercise premium (or under
    0.1 % of the strike) where exercise can be optimal; ``medium``: in the money; ``low``: out
    of the money (calls on a non-dividend symbol are at most ``medium``).
    """
    short = (legs.units < 0) & ((legs.kind == KIND_CALL) | (legs.kind == KIND_PUT))
    call = legs.kind == KIND_CALL
    intrinsic = np.where(
        call, np.maximum(ctx.spot - legs.strike, 0), np.maximum(legs.strike - ctx.spot, 0)
    )
    extrinsic = np.maximum(model.price - intrinsic, 0.0)
    eep = np.maximum(model.price - model.european, 0.0)
    itm = intrinsic > 0
    can_be_optimal = ~call | (ctx.div_yield > 0)
    high = itm & can_be_optimal & (extrinsic <= np.maximum(eep, 1e-3 * legs.strike))
    level = np.where(~short, "", np.where(high, "high", np.where(itm, "medium", "low")))
    return level, extrinsic, eep


# --- full evaluation -------------------------------------------------------------------------


def evaluate(
    ctx: MarketInputs,
    candidates: Sequence[Candidate],
    atm_vol: dict[date | None, float],
    *,
    pricer: Pricer | None = None,
    european: Pricer | None = None,
) -> list[dict[str, Any]]:
    """Metrics for every candidate (see module docstring). ``atm_vol`` maps expiry → ATM IV."""
    if not candidates:
        return []
    legs = LegArrays.from_legs([c.legs for c in candidates])
    is_opt = (legs.kind == KIND_CALL) | (legs.kind == KIND_PUT)
    t_exp = np.array(
        [max((lg.t for lg in c.legs if lg.is_option), default=c.t) for c in candidates]
    )
    vol = np.array([atm_vol.get(c.expiry, math.nan) for c in candidates])
    vol = np.where(
        np.isfinite(vol) & (vol > 0), vol, np.nanmean(vol) if np.isfinite(vol).any() else 0.2
    )
    mu, sd = lognormal_params(ctx.spot, ctx.rate, ctx.div_yield, vol, np.maximum(t_exp, 1e-9))
    em = expiry_metrics(legs, mu, sd)
    model = price_legs(ctx, legs, pricer, european)
    risk, extrinsic, eep = assignment_risk(ctx, legs, model)

    stock_units = np.sum(legs.units * (legs.kind == KIND_STOCK), axis=1)
    base = np.where(
        stock_units != 0,
        np.abs(stock_units) * ctx.spot,
        np.sum(np.abs(legs.units) * is_opt, axis=1) * ctx.spot,
    )
    base = np.where(base > 0, base, 1.0)
    debit = np.sum(legs.units * legs.price * is_opt, axis=1)
    model_value = np.sum(legs.units * model.price, axis=1)
    g = {
        name: np.sum(legs.units * getattr(model, name), axis=1)
        + (stock_units if name == "delta" else 0)
        for name in ("delta", "gamma", "theta", "vega", "rho")
    }
    with np.errstate(invalid="ignore", divide="ignore"):
        spread_pct = np.where(is_opt, _spread_pct_matrix(candidates, legs.kind.shape), np.nan)
    worst_spread = np.where(
        is_opt.any(1), np.nanmax(np.where(is_opt, spread_pct, -np.inf), 1), np.nan
    )
    min_oi = _min_oi(candidates)
    cost_pct = debit / base * 100
    ann = np.where(t_exp > 0, cost_pct / np.maximum(t_exp, 1e-9), np.nan)
    floor_value = base + em.min_pnl
    cap_value = base + em.max_pnl
    out: list[dict[str, Any]] = []
    for r, c in enumerate(candidates):
        has_floor = math.isfinite(em.floor_price[r])
        has_cap = math.isfinite(em.cap_price[r])
        fl_pct = floor_value[r] / base[r] * 100 if has_floor else math.nan
        protection = fl_pct if has_floor else math.nan
        leg_rows = []
        for j, lg in enumerate(c.legs):
            row: dict[str, Any] = {
                "kind": lg.kind,
                "side": lg.side,
                "quantity": lg.quantity,
                "strike": lg.strike,
                "expiry": lg.expiry.isoformat() if lg.expiry else None,
                "price": finite(lg.price, 4),
                "bid": finite(lg.bid, 4) if lg.bid is not None else None,
                "ask": finite(lg.ask, 4) if lg.ask is not None else None,
                "iv": finite(lg.iv, 6) if lg.iv is not None else None,
                "iv_source": lg.iv_source if lg.is_option else None,
                "t": finite(lg.t, 8) if lg.is_option else None,
                "open_interest": lg.open_interest,
                "model_price": finite(model.price[r, j], 4) if lg.is_option else None,
                "delta": finite(model.delta[r, j], 10) if lg.is_option else 1.0,
                "spread_pct": finite(spread_pct[r, j], 3) if lg.is_option else None,
                "assignment_risk": None,
            }
            if lg.is_option and lg.quantity < 0:
                row["assignment_risk"] = {
                    "level": str(risk[r, j]),
                    "extrinsic": finite(extrinsic[r, j], 4),
                    "early_exercise_premium": finite(eep[r, j], 4),
                }
            leg_rows.append(row)
        short_levels = [str(risk[r, j]) for j in range(len(c.legs)) if risk[r, j]]
        worst_risk = (
            max(short_levels, key=["low", "medium", "high"].index) if short_levels else None
        )
        out.append(
            {
                "name": c.name,
                "family": c.family,
                "expiry": c.expiry.isoformat() if c.expiry else None,
                "days": finite(t_exp[r] * 365, 3),
                "t": finite(t_exp[r], 8),
                "legs": leg_rows,
                "params": c.params,
                "notes": list(c.notes),
                "position_value": finite(base[r], 2),
                "net_debit": finite(debit[r], 2),
                "net_debit_pct": finite(cost_pct[r], 4),
                "annual_cost_pct": finite(ann[r], 4),
                "model_value": finite(model_value[r], 2),
                "floor_price": finite(em.floor_price[r], 4),
                "floor_value": finite(floor_value[r], 2) if has_floor else None,
                "floor_pct": finite(fl_pct, 4),
                "cap_price": finite(em.cap_price[r], 4),
                "cap_value": finite(cap_value[r], 2) if has_cap else None,
                "cap_pct": finite(cap_value[r] / base[r] * 100, 4) if has_cap else None,
                "breakevens": em.breakevens[r],
                "max_loss": finite(-em.min_pnl[r], 2) if math.isfinite(em.min_pnl[r]) else None,
                "max_gain": finite(em.max_pnl[r], 2) if math.isfinite(em.max_pnl[r]) else None,
                "greeks": {k: finite(v[r], 8) for k, v in g.items()},
                "vol": finite(vol[r], 6),
                "prob_profit": finite(em.prob_profit[r], 10),
                "prob_floor": finite(em.prob_floor[r], 10),
                "expected_pnl": finite(em.expected_pnl[r], 2),
                "liquidity": {
                    "worst_spread_pct": finite(worst_spread[r], 3),
                    "min_open_interest": min_oi[r],
                },
                "assignment_risk": worst_risk,
                "cost_per_protection": finite(ann[r] / protection, 6)
                if has_floor and protection > 0 and math.isfinite(ann[r])
                else None,
            }
        )
    return out


def _spread_pct_matrix(candidates: Sequence[Candidate], shape: tuple[int, int]) -> FloatArray:
    bid = np.full(shape, np.nan)
    ask = np.full(shape, np.nan)
    for r, c in enumerate(candidates):
        for j, lg in enumerate(c.legs):
            if lg.bid is not None and lg.ask is not None:
                bid[r, j], ask[r, j] = lg.bid, lg.ask
    mid = (bid + ask) / 2
    return np.where(mid > 0, (ask - bid) / mid * 100, np.nan)


def _min_oi(candidates: Sequence[Candidate]) -> list[float | None]:
    out: list[float | None] = []
    for c in candidates:
        ois = [lg.open_interest for lg in c.legs if lg.is_option and lg.open_interest is not None]
        out.append(min(ois) if ois else None)
    return out


# --- ranking and filters ---------------------------------------------------------------------

RANKINGS: dict[str, tuple[str, bool, str]] = {
    "cost_per_protection": (
        "cost_per_protection",
        False,
        "annualised net cost (% of position per year) divided by the floor in % of position "
        "(points of the position's value protected at expiry); lower is better; candidates "
        "without a floor rank after those with one",
    ),
    "cost": ("annual_cost_pct", False, "annualised net cost, % of position per year; lower first"),
    "floor": ("floor_pct", True, "floor as % of position value; higher first"),
    "cap": ("cap_pct", True, "cap as % of position value; higher first (uncapped first)"),
    "expected_value": (
        "expected_pnl",
        True,
        "expected P&L at expiry under the model; higher first",
    ),
    "prob_profit": ("prob_profit", True, "probability of profit at expiry; higher first"),
}


def rank(rows: list[dict[str, Any]], method: str = "cost_per_protection") -> list[dict[str, Any]]:
    key, desc, _ = RANKINGS[method]

    def sort_key(row: dict[str, Any]) -> tuple[int, float, str, str]:
        v = row.get(key)
        if key == "cap_pct" and v is None and row["max_gain"] is None:
            return (0, -math.inf, row["expiry"] or "", row["name"])
        if v is None:
            return (1, 0.0, row["expiry"] or "", row["name"])
        return (0, -v if desc else v, row["expiry"] or "", row["name"])

    ordered = sorted(rows, key=sort_key)
    for i, row in enumerate(ordered, 1):
        row["rank"] = i
    return ordered


def apply_filters(
    rows: list[dict[str, Any]],
    *,
    max_cost_pct: float | None = None,
    min_floor_pct: float | None = None,
    min_cap_pct: float | None = None,
) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        if max_cost_pct is not None and (row["net_debit_pct"] or 0.0) > max_cost_pct:
            continue
        if min_floor_pct is not None and (
            row["floor_pct"] is None or row["floor_pct"] < min_floor_pct
        ):
            continue
        if min_cap_pct is not None and row["cap_pct"] is not None and row["cap_pct"] < min_cap_pct:
            continue
        out.append(row)
    return out


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
