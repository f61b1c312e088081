"""P&L of a strategy on a price grid: at expiry (exact intrinsic) and at dates before it.

Before expiry each option leg is valued with the American model (or European BSM) at its own
implied vol, held constant or shifted by a number of vol points; all legs × dates × prices are
priced in one vectorised call. These are the numbers the payoff charts and the P&L heat-map
draw, and the API returns them unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np

from market.data import MarketInputs
from market.payoff import KIND_CALL, KIND_PUT, KIND_STOCK
from market.pricing import Contracts, american, bsm
from strategies.legs import FloatArray, Leg
from strategies.metrics import LegArrays

MIN_VOL = 0.005


def price_grid(
    spot: float, lo: float = 0.7, hi: float = 1.3, points: int = 121, extra: Sequence[float] = ()
) -> FloatArray:
    """Prices from ``lo·spot`` to ``hi·spot`` plus the given points (strikes, breakevens)."""
    base = np.linspace(lo * spot, hi * spot, points)
    pts = [x for x in extra if lo * spot < x < hi * spot]
    return np.unique(np.concatenate([base, np.asarray(pts, dtype=float), [spot]]))


def expiry_pnl(legs: Sequence[Leg], grid: FloatArray) -> FloatArray:
    """P&L at expiry on ``grid`` (all legs expiring together): value − cost paid."""
    arr = LegArrays.from_legs([legs])
    values = arr.value_at_expiry(np.asarray(grid, dtype=float)[None, :])[0]
    return np.asarray(values - arr.cost0[0])


@dataclass(frozen=True)
class PnlSurface:
    grid: FloatArray  # (G,)
    horizons: FloatArray  # (D,) years from now
    pnl: FloatArray  # (D, G)
    model: str
    iv_shift: float


def pnl_surface(
    ctx: MarketInputs,
    legs: Sequence[Leg],
    grid: FloatArray,
    horizons: Sequence[float] | FloatArray,
    *,
    iv_shift: float = 0.0,
    style: str = "american",
) -> PnlSurface:
    """P&L on ``grid`` at each horizon (years from now); ``iv_shift`` in vol points.

    A leg whose expiry has passed at a horizon is worth its intrinsic value there.
    """
    arr = LegArrays.from_legs([legs])
    kind, units, strike = arr.kind[0], arr.units[0], arr.strike[0]
    t_leg, iv = arr.t[0], arr.iv[0]
    grid = np.asarray(grid, dtype=float)
    h = np.asarray(horizons, dtype=float)
    is_opt = (kind == KIND_CALL) | (kind == KIND_PUT)
    call = kind == KIND_CALL
    # Shapes: legs (L,1,1), horizons (1,D,1), grid (1,1,G).
    tau = t_leg[:, None, None] - h[None, :, None]
    s = grid[None, None, :]
    k = strike[:, None, None]
    intrinsic = np.where(call[:, None, None], np.maximum(s - k, 0.0), np.maximum(k - s, 0.0))
    model = "intrinsic"
    value = intrinsic
    live = is_opt[:, None, None] & (tau > 1e-9)
    if live.any():
        vol = np.maximum(np.nan_to_num(iv, nan=0.2) + iv_shift / 100.0, MIN_VOL)[:, None, None]
        tau_safe = np.where(tau > 1e-9, tau, 1e-9)
        full = np.broadcast_shapes(tau.shape, s.shape)
        contracts = Contracts(
            np.broadcast_to(s, full),
            np.broadcast_to(np.where(is_opt, strike, 1.0)[:, None, None], full),
            np.broadcast_to(tau_safe, full),
            ctx.rate,
            ctx.div_yield,
            np.broadcast_to(vol, full),
            np.broadcast_to(call[:, None, None], full),
        )
        if style not in ("american", "european"):
            raise ValueError(f"style must be 'american' or 'european', not {style!r}")
        if style == "american":
            priced = np.asarray(american(contracts))
            model = "american"
        else:
            priced = np.asarray(bsm(contracts).price)
            model = "bsm"
        value = np.where(live, priced, intrinsic)
    stock_val = np.where(kind == KIND_STOCK, 1.0, 0.0)[:, None, None] * s
    leg_val = np.where(is_opt[:, None, None], value, stock_val)
    total = np.sum(units[:, None, None] * leg_val, axis=0)  # (D, G)
    return PnlSurface(grid, h, total - arr.cost0[0], model, iv_shift)


def payoff_data(
    ctx: MarketInputs,
    legs: Sequence[Leg],
    *,
    days: Sequence[float] = (),
    iv_shift: float = 0.0,
    points: int = 121,
    style: str = "american",
    t_end: float | None = None,
) -> dict[str, Any]:
    """P&L at expiry, today and at ``days`` from now on a price grid, plus a price × date grid.

    ``t_end``: the horizon that counts as expiry (years; default: the last leg's expiry). With
    held options in the book it is the strategy's own expiry; legs expiring later are worth
    their intrinsic value on the expiry curve and their model value on the dated ones.
    """
    spot = ctx.spot
    strikes = [lg.strike for lg in legs if lg.strike]
    t_exp = max((lg.t for lg in legs if lg.is_option), default=0.0)
    if t_end is not None:
        t_exp = min(t_exp, t_end)
    lo = min([0.7 * spot, *(0.9 * k for k in strikes)]) / spot
    hi = max([1.3 * spot, *(1.1 * k for k in strikes)]) / spot
    grid = price_grid(spot, lo, hi, points, extra=strikes)
    at_exp = expiry_pnl(legs, grid)
    horizons = [0.0] + [d / 365 for d in days if 0 < d / 365 < t_exp]
    surf = pnl_surface(ctx, legs, grid, horizons, iv_shift=iv_shift, style=style)
    # Heat-map: ~11 prices × up to 6 dates from today to expiry.
    hm_prices = np.linspace(lo * spot, hi * spot, 11)
    n_dates = 6 if t_exp > 0 else 1
    hm_h = np.linspace(0.0, t_exp, n_dates) if t_exp > 0 else np.array([0.0])
    hm = pnl_surface(ctx, legs, hm_prices, hm_h, iv_shift=iv_shift, style=style)
    as_of = ctx.as_of
    return {
        "grid": [round(float(x), 4) for x in grid],
        "expiry_pnl": [round(float(x), 2) for x in at_exp],
        "curves": [
            {
                "days": round(h * 365, 3),
                "date": (as_of + timedelta(days=h * 365)).date().isoformat(),
                "pnl": [round(float(x), 2) for x in surf.pnl[i]],
            }
            for i, h in enumerate(horizons)
        ],
        "heatmap": {
            "prices": [round(float(x), 2) for x in hm_prices],
            "dates": [(as_of + timedelta(days=float(h) * 365)).date().isoformat() for h in hm_h],
            "pnl": [[round(float(x), 2) for x in row] for row in hm.pnl.T],
        },
        "iv_shift": iv_shift,
        "model": surf.model,
        "days_to_expiry": round(t_exp * 365, 3),
    }
