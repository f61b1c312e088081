"""Metrics of hedge strategies, computed for whole sets of strategies at once.

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
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtr

from core.numbers import finite
from market.data import MarketInputs
from market.payoff import KIND_CALL, KIND_NONE, KIND_PUT, KIND_STOCK, value_at_expiry
from market.pricing import Contracts, bsm, price_options
from strategies.legs import Candidate, FloatArray, Leg

if TYPE_CHECKING:
    from strategies.wholebook import HeldBook

PROBABILITY_MODEL = (
    "lognormal terminal price, risk-neutral drift r - q, volatility = ATM implied volatility of "
    "the expiry (American model IV of the mid quotes), time ACT/365 to 16:00 America/New_York "
    "on the expiry date; expected value is the undiscounted mean P&L at expiry"
)


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
        return value_at_expiry(self.kind, self.units, self.strike, s)


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


def price_legs(ctx: MarketInputs, legs: LegArrays) -> LegModel:
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
    contracts = Contracts(ctx.spot, k, t, ctx.rate, ctx.div_yield, vol, call)
    am = price_options(contracts, style="american")
    eu = bsm(contracts)

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


def evaluate(
    ctx: MarketInputs,
    candidates: Sequence[Candidate],
    atm_vol: dict[date | None, float],
    *,
    held: HeldBook | None = None,
) -> list[dict[str, Any]]:
    """Metrics for every candidate (see module docstring). ``atm_vol`` maps expiry → ATM IV.

    ``held``: options already held. Each candidate is then evaluated as the whole book it
    leaves (:mod:`strategies.wholebook`): floor, cap, breakevens, probabilities and Greeks are
    the book's; cost, debit and the legs listed are the candidate's own.
    """
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
    from strategies import wholebook  # it builds on LegArrays: imported here, not at the top

    held = held or wholebook.NO_HELD
    book, at_expiry = wholebook.stack(legs, held, t_exp) if held else (legs, legs)
    width = legs.kind.shape[1]
    em = expiry_metrics(at_expiry, mu, sd)
    model = price_legs(ctx, book)
    risk, extrinsic, eep = assignment_risk(ctx, book, model)

    stock_units = np.sum(legs.units * (legs.kind == KIND_STOCK), axis=1)
    base = np.where(
        stock_units != 0,
        np.abs(stock_units) * ctx.spot,
        np.sum(np.abs(legs.units) * is_opt, axis=1) * ctx.spot,
    )
    base = np.where(base > 0, base, 1.0)
    debit = np.sum(legs.units * legs.price * is_opt, axis=1)
    model_value = np.sum(legs.units * model.price[:, :width], axis=1)
    g = {
        name: np.sum(book.units * getattr(model, name), axis=1)
        + (stock_units if name == "delta" else 0)
        for name in ("delta", "gamma", "theta", "vega", "rho")
    }
    hedge_ratio, book_warnings = wholebook.book_flags(
        book.kind, book.units, book.t, stock_units, g["delta"]
    )
    n_held = len(held.legs)
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
                "book": {
                    "held_options": n_held,
                    "hedge_ratio": finite(hedge_ratio[r], 6),
                    "net_delta": finite(g["delta"][r], 6),
                    "warnings": book_warnings[r],
                },
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
