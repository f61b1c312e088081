"""Portfolio valuation, hedge panel and scenarios: pure functions over market data.

Nothing here touches the ORM or the cache; :mod:`portfolio.services` feeds it plain
:class:`PositionIn` rows and a :class:`MarketInputs` snapshot and gets JSON-ready dicts back. Every
number that depends on market data is returned beside the inputs that reproduce it (spot, rate,
dividend yield, time to expiry, volatility and where it came from, pricing model, timestamp).

Conventions (DESIGN.md §4): contract multiplier 100; delta in share-equivalents; gamma per $1
(and "dollar gamma" = change of dollar delta for a 1 % move = Γ·S²/100); theta in $ per calendar
day; vega in $ per volatility point.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from market import calendar, iv, pricing
from market.models import MarketInputs

MULTIPLIER = 100
NEW_YORK = ZoneInfo("America/New_York")
SPOT_MOVES: tuple[float, ...] = tuple(round(x / 100, 2) for x in range(-30, 31, 5))
VOL_SHIFTS: tuple[float, ...] = (-10.0, -5.0, 0.0, 5.0, 10.0)
MIN_VOL = 0.01
FALLBACK_VOL = 0.20
DEEP_ITM_MONEYNESS = 0.05
DEEP_ITM_DELTA = 0.90

Array = npt.NDArray[np.float64]


@dataclass(frozen=True)
class PositionIn:
    """One position, decoupled from the ORM (quantities as floats)."""

    kind: str  # "underlying" | "physical" | "option"
    quantity: float
    cost_basis: float
    id: int | None = None
    label: str = ""
    expiry: date | None = None
    strike: float | None = None
    is_call: bool | None = None
    style: str = "american"
    units_per_share: float | None = None
    opened_on: date | None = None

    @property
    def is_option(self) -> bool:
        return self.kind == "option"

    @property
    def multiplier(self) -> int:
        return MULTIPLIER if self.is_option else 1

    @property
    def share_equivalents(self) -> float:
        """Shares of the underlying this holding stands for (options: contracts × 100)."""
        if self.kind == "physical":
            return self.quantity / float(self.units_per_share or 1.0)
        return self.quantity * self.multiplier


@dataclass(frozen=True)
class VolPick:
    vol: float
    source: str  # chain_iv | chain_smile | surface_interp | chain_median | default
    mid: float | None = None
    bid: float | None = None
    ask: float | None = None


@dataclass
class ChainVols:
    """Implied vols solved once for the chain rows valuation needs (vectorised)."""

    expiry: npt.NDArray[Any]  # datetime64[D]
    strike: Array
    is_call: npt.NDArray[np.bool_]
    iv: Array
    bid: Array
    ask: Array
    mid: Array
    expiries: tuple[date, ...] = field(default_factory=tuple)


def _finite(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _close_datetime(d: date) -> datetime:
    return datetime.combine(d, time(16, 0), tzinfo=NEW_YORK)


def year_fraction(as_of: datetime, expiry: date) -> float:
    return max(0.0, float(calendar.year_fraction(as_of, expiry)))


def days_until(as_of: datetime, expiry: date) -> int:
    return (expiry - as_of.astimezone(NEW_YORK).date()).days


# --- implied vols from the chain ---------------------------------------------------------


def _mid(bid: Array, ask: Array, last: Array) -> Array:
    ok = (bid > 0) & (ask > 0) & (ask >= bid)
    return np.where(ok, (bid + ask) / 2.0, np.where(last > 0, last, np.nan))


def solve_chain_vols(chain: Any, expiries: Iterable[date], rate: float) -> ChainVols:
    """IVs (American model, from mid prices) for every contract of the listed expiries wanted.

    Only the expiries the positions need are solved, so a tick costs one vectorised solve over
    a few hundred contracts instead of the whole chain. The chain's own spot is used: the option
    prices were observed against it.
    """
    wanted = {np.datetime64(d, "D") for d in expiries}
    listed = tuple(chain.expiries)
    exp_col = np.asarray(chain.expiry).astype("datetime64[D]")
    # Expiries not listed get the two bracketing listed ones for the surface interpolation.
    listed64 = np.array(sorted(np.datetime64(d, "D") for d in listed), dtype="datetime64[D]")
    for w in list(wanted):
        if listed64.size and w not in set(listed64.tolist()):
            i = int(np.searchsorted(listed64, w))
            for j in (i - 1, i):
                if 0 <= j < listed64.size:
                    wanted.add(listed64[j])
    mask = (
        np.isin(exp_col, np.array(sorted(wanted), dtype="datetime64[D]"))
        if wanted
        else (np.zeros(exp_col.shape, dtype=bool))
    )
    strike = np.asarray(chain.strike, dtype=float)[mask]
    is_call = np.asarray(chain.is_call, dtype=bool)[mask]
    bid = np.asarray(chain.bid, dtype=float)[mask]
    ask = np.asarray(chain.ask, dtype=float)[mask]
    last = np.asarray(chain.last, dtype=float)[mask]
    exps = exp_col[mask]
    mid = _mid(bid, ask, last)
    ivs = np.full(strike.shape, np.nan)
    if strike.size:
        t = np.asarray(calendar.year_fraction(chain.as_of, exps), dtype=float)
        res = iv.implied_vol(
            np.nan_to_num(mid, nan=0.0),
            float(chain.spot),
            strike,
            t,
            rate,
            float(chain.dividend_yield or 0.0),
            is_call,
            style="american",
        )
        ivs = np.where(np.isfinite(mid), np.asarray(res.iv, dtype=float), np.nan)
    return ChainVols(exps, strike, is_call, ivs, bid, ask, mid, listed)


def _smile(cv: ChainVols, expiry64: Any, strike: float, is_call: bool) -> tuple[float | None, str]:
    sel = (cv.expiry == expiry64) & np.isfinite(cv.iv)
    same = sel & (cv.is_call == is_call)
    use = same if same.any() else sel
    if not use.any():
        return None, ""
    ks, vs = cv.strike[use], cv.iv[use]
    order = np.argsort(ks)
    ks, vs = ks[order], vs[order]
    exact = np.isclose(ks, strike, rtol=0, atol=1e-6)
    if exact.any() and same.any():
        return float(vs[exact][0]), "chain_iv"
    return float(np.interp(strike, ks, vs)), "chain_smile"


def pick_vol(cv: ChainVols | None, p: PositionIn, as_of: datetime) -> VolPick:
    """The contract's chain IV; else the smile at its expiry; else the surface; else a fallback."""
    if cv is None or p.expiry is None or p.strike is None:
        return VolPick(FALLBACK_VOL, "default")
    e64 = np.datetime64(p.expiry, "D")
    quote_sel = (
        (cv.expiry == e64) & (cv.is_call == bool(p.is_call)) & np.isclose(cv.strike, p.strike)
    )
    bid = ask = mid = None
    if quote_sel.any():
        i = int(np.flatnonzero(quote_sel)[0])
        bid, ask, mid = _finite(cv.bid[i]), _finite(cv.ask[i]), _finite(cv.mid[i])
    vol, source = _smile(cv, e64, p.strike, bool(p.is_call))
    if vol is None:
        # Expiry not listed (or no IV there): interpolate total variance between neighbours.
        listed = np.unique(cv.expiry[np.isfinite(cv.iv)])
        if listed.size:
            i = int(np.searchsorted(listed, e64))
            sides = [listed[j] for j in (i - 1, i) if 0 <= j < listed.size]
            pts = []
            for e in sides:
                v, _ = _smile(cv, e, p.strike, bool(p.is_call))
                if v is not None:
                    pts.append((year_fraction(as_of, e.astype(object)), v))
            if pts:
                t = year_fraction(as_of, p.expiry)
                if len(pts) == 2 and pts[1][0] > pts[0][0]:
                    (t0, v0), (t1, v1) = pts
                    w = min(max((t - t0) / (t1 - t0), 0.0), 1.0)
                    var = (1 - w) * v0 * v0 * t0 + w * v1 * v1 * t1
                    vol = math.sqrt(var / t) if t > 0 and var > 0 else v0 if w < 0.5 else v1
                else:
                    vol = pts[0][1]
                source = "surface_interp"
    if vol is None:
        finite = cv.iv[np.isfinite(cv.iv)]
        if finite.size:
            vol, source = float(np.median(finite)), "chain_median"
        else:
            vol, source = FALLBACK_VOL, "default"
    return VolPick(max(vol, MIN_VOL), source, mid, bid, ask)


# --- pricing helpers ----------------------------------------------------------------------


def _price(
    spot: Array | float,
    strike: Array,
    t: Array,
    rate: float,
    q: float,
    vol: Array,
    is_call: npt.NDArray[np.bool_],
    styles: Sequence[str],
    greeks: bool = True,
) -> tuple[dict[str, Array], list[str]]:
    """Price 1-d option rows, grouped by exercise style; intrinsic at and after expiry.

    Returns the Greeks arrays (zeros when ``greeks`` is false: scenario grids need prices
    only, which is several times cheaper for the American model) and, per row, the model name.
    """
    spot_a, strike, t, vol, is_call = np.broadcast_arrays(
        np.asarray(spot, dtype=float), strike, t, vol, is_call
    )
    out = {k: np.zeros(spot_a.shape) for k in ("price", "delta", "gamma", "theta", "vega")}
    models = np.full(spot_a.shape, "intrinsic", dtype=object)
    style_arr = np.asarray(list(styles), dtype=object)
    live = t > 0
    for style in ("american", "european"):
        m = live & (style_arr == style)
        if not m.any():
            continue
        args = (spot_a[m], strike[m], t[m], rate, q, vol[m], is_call[m])
        if greeks:
            priced = pricing.price_options(*args, style=style)
            for k in out:
                out[k][m] = np.asarray(getattr(priced, k), dtype=float)
            models[m] = str(priced.model)
        elif style == "american":
            out["price"][m] = np.asarray(pricing.american(*args), dtype=float)
            models[m] = pricing.MODEL_QDFP
        else:
            out["price"][m] = np.asarray(pricing.bsm_price(*args), dtype=float)
            models[m] = pricing.MODEL_BSM
    dead = ~live
    if dead.any():
        intrinsic = np.where(is_call, spot_a - strike, strike - spot_a).clip(min=0.0)
        itm = intrinsic > 0
        out["price"][dead] = intrinsic[dead]
        out["delta"][dead] = np.where(itm, np.where(is_call, 1.0, -1.0), 0.0)[dead]
    return out, [str(x) for x in models]


# --- valuation ----------------------------------------------------------------------------


def value_positions(
    positions: Sequence[PositionIn], mkt: MarketInputs, chain_vols: ChainVols | None
) -> dict[str, Any]:
    """Market value, cost, P&L, day change and Greeks per position and in total."""
    as_of = mkt.as_of
    opts = [p for p in positions if p.is_option]
    picks = {id(p): pick_vol(chain_vols, p, as_of) for p in opts}
    now: dict[str, Array] = {}
    prev: dict[str, Array] = {}
    models: list[str] = []
    if opts:
        strike = np.array([p.strike for p in opts], dtype=float)
        t = np.array([year_fraction(as_of, p.expiry) for p in opts if p.expiry], dtype=float)
        vol = np.array([picks[id(p)].vol for p in opts], dtype=float)
        is_call = np.array([bool(p.is_call) for p in opts], dtype=bool)
        styles = [p.style for p in opts]
        now, models = _price(mkt.spot, strike, t, mkt.rate, mkt.div_yield, vol, is_call, styles)
        if mkt.prev_close:
            prev, _ = _price(
                mkt.prev_close,
                strike,
                t + 1 / 365,
                mkt.rate,
                mkt.div_yield,
                vol,
                is_call,
                styles,
                greeks=False,
            )

    rows: list[dict[str, Any]] = []
    tot = dict.fromkeys(
        ("value", "cost", "pnl", "day_change", "delta_shares", "gamma_shares", "theta", "vega"),
        0.0,
    )
    day_known = mkt.prev_close is not None
    oi = 0
    spot = mkt.spot
    for p in positions:
        sh = p.share_equivalents
        cost = p.quantity * p.cost_basis * p.multiplier
        inputs: dict[str, Any] = {"spot": spot}
        if p.is_option:
            if p.expiry is None or p.strike is None:
                raise ValueError(f"option position {p.label} lacks expiry or strike")
            pick = picks[id(p)]
            price = float(now["price"][oi])
            d, g = float(now["delta"][oi]), float(now["gamma"][oi])
            th, ve = float(now["theta"][oi]), float(now["vega"][oi])
            value = price * sh
            day = (price - float(prev["price"][oi])) * sh if day_known and prev else None
            t_years = year_fraction(as_of, p.expiry)
            inputs.update(
                strike=p.strike,
                right="C" if p.is_call else "P",
                style=p.style,
                expiry=p.expiry.isoformat(),
                days_to_expiry=days_until(as_of, p.expiry),
                t=t_years,
                rate=mkt.rate,
                div_yield=mkt.div_yield,
                vol=pick.vol,
                vol_source=pick.source,
                model=models[oi],
                bid=pick.bid,
                ask=pick.ask,
                mid=pick.mid,
            )
            intrinsic = max(0.0, (spot - p.strike) if p.is_call else (p.strike - spot))
            greeks = {
                "delta_per_unit": round(d, 6),
                "delta_shares": d * sh,
                "gamma_shares": g * sh,
                "theta": th * sh,
                "vega": ve * sh,
            }
            oi += 1
        else:
            price = spot if p.kind == "underlying" else spot / float(p.units_per_share or 1.0)
            value = price * p.quantity
            day = (spot - mkt.prev_close) * sh if mkt.prev_close is not None else None
            intrinsic = price
            greeks = {
                "delta_per_unit": 1.0 if p.kind == "underlying" else round(sh / p.quantity, 8),
                "delta_shares": sh,
                "gamma_shares": 0.0,
                "theta": 0.0,
                "vega": 0.0,
            }
            inputs["model"] = "spot" if p.kind == "underlying" else "spot/units_per_share"
            if p.kind == "physical":
                inputs["units_per_share"] = p.units_per_share
        pnl = value - cost
        tot["value"] += value
        tot["cost"] += cost
        tot["pnl"] += pnl
        if day is not None:
            tot["day_change"] += day
        tot["delta_shares"] += greeks["delta_shares"]
        tot["gamma_shares"] += greeks["gamma_shares"]
        tot["theta"] += greeks["theta"]
        tot["vega"] += greeks["vega"]
        rows.append(
            {
                "id": p.id,
                "instrument": p.label,
                "kind": p.kind,
                "quantity": p.quantity,
                "multiplier": p.multiplier,
                "share_equivalents": sh,
                "cost_basis": p.cost_basis,
                "price": price,
                "intrinsic": intrinsic,
                "value": value,
                "cost": cost,
                "pnl": pnl,
                "pnl_pct": (pnl / abs(cost) * 100) if cost else None,
                "day_change": day,
                "greeks": _dollar_greeks(greeks, spot),
                "inputs": inputs,
            }
        )
    prev_value = tot["value"] - tot["day_change"]
    totals = {
        "value": tot["value"],
        "cost": tot["cost"],
        "pnl": tot["pnl"],
        "pnl_pct": tot["pnl"] / abs(tot["cost"]) * 100 if tot["cost"] else None,
        "day_change": tot["day_change"] if day_known else None,
        "day_change_pct": (
            tot["day_change"] / prev_value * 100 if day_known and prev_value else None
        ),
        "greeks": _dollar_greeks(tot, spot),
    }
    return {"positions": rows, "totals": totals}


def _dollar_greeks(g: dict[str, float], spot: float) -> dict[str, float]:
    return {
        "delta_shares": g["delta_shares"],
        "delta_dollars": g["delta_shares"] * spot,
        "gamma_shares": g["gamma_shares"],
        "gamma_dollars": g["gamma_shares"] * spot * spot / 100.0,
        "theta_dollars": g["theta"],
        "vega_dollars": g["vega"],
    }


# --- hedge panel --------------------------------------------------------------------------


def _payoff(shares: float, legs: Sequence[PositionIn], s: Array) -> Array:
    """Value at spot ``s`` with every option leg at intrinsic (a lower bound for American)."""
    v = shares * s
    for p in legs:
        if p.strike is None:
            raise ValueError(f"option position {p.label} lacks a strike")
        intr = np.maximum(s - p.strike, 0.0) if p.is_call else np.maximum(p.strike - s, 0.0)
        v = v + p.quantity * MULTIPLIER * intr
    return v


def floor_and_cap(
    shares: float, legs: Sequence[PositionIn], spot: float
) -> tuple[float, float, float | None, float | None]:
    """(floor value, spot where it is reached, cap value or None, spot where the cap starts).

    The payoff with options at intrinsic is piecewise linear with kinks at the strikes, so its
    minimum over [0, spot] and maximum over [spot, ∞) are found at kinks or the ends.
    """
    strikes = sorted({float(p.strike) for p in legs if p.strike is not None})
    down = np.array(sorted({0.0, spot, *[k for k in strikes if k <= spot]}))
    vals = _payoff(shares, legs, down)
    fmin = float(np.min(vals))
    at = float(down[np.flatnonzero(np.isclose(vals, fmin, rtol=1e-12, atol=1e-6))].max())
    slope_inf = shares + sum(p.quantity * MULTIPLIER for p in legs if p.is_call)
    if slope_inf > 1e-9:
        return fmin, at, None, None
    up = np.array(sorted({spot, *[k for k in strikes if k >= spot]}))
    uvals = _payoff(shares, legs, up)
    cmax = float(np.max(uvals))
    cap_at = float(up[np.flatnonzero(np.isclose(uvals, cmax, rtol=1e-12, atol=1e-6))].min())
    return fmin, at, cmax, cap_at


def hedge_panel(
    positions: Sequence[PositionIn],
    valued: dict[str, Any],
    mkt: MarketInputs,
    warning_days: int = 21,
) -> dict[str, Any]:
    as_of = mkt.as_of
    today = as_of.astimezone(NEW_YORK).date()
    spot = mkt.spot
    shares = sum(p.share_equivalents for p in positions if not p.is_option)
    rows = {id(p): r for p, r in zip(positions, valued["positions"], strict=True)}
    live_opts = [p for p in positions if p.is_option and p.expiry and p.expiry >= today]
    long_puts = [p for p in live_opts if not p.is_call and p.quantity > 0]
    short_calls = [p for p in live_opts if p.is_call and p.quantity < 0]
    hedge_legs = long_puts + short_calls
    underlying_value = shares * spot
    total_value = valued["totals"]["value"]

    expiries = []
    for e in sorted({p.expiry for p in long_puts if p.expiry}):
        alive = [p for p in live_opts if p.expiry and p.expiry >= e]
        floor, floor_at, cap, cap_at = floor_and_cap(shares, alive, spot)
        puts_e = sum(p.quantity for p in long_puts if p.expiry and p.expiry >= e)
        expiries.append(
            {
                "expiry": e.isoformat(),
                "days": days_until(as_of, e),
                "put_contracts": puts_e,
                "hedge_ratio": puts_e * MULTIPLIER / shares if shares > 0 else None,
                "floor_value": floor,
                "floor_pct": floor / total_value * 100 if total_value > 0 else None,
                "floor_per_share": floor / shares if shares > 0 else None,
                "floor_spot": floor_at,
                "cap_value": cap,
                "cap_pct": cap / total_value * 100 if cap is not None and total_value > 0 else None,
                "cap_spot": cap_at,
            }
        )
    cap_now = floor_and_cap(shares, live_opts, spot)[2:] if short_calls else (None, None)

    put_contracts = sum(p.quantity for p in long_puts)
    call_contracts = -sum(p.quantity for p in short_calls)
    cost_paid = sum(p.quantity * MULTIPLIER * p.cost_basis for p in hedge_legs)
    per_year = 0.0
    for p in hedge_legs:
        if p.expiry is None:
            raise ValueError(f"option position {p.label} lacks an expiry")
        start = p.opened_on or today
        tenor = max((p.expiry - start).days, 1) / 365.0
        per_year += p.quantity * MULTIPLIER * p.cost_basis / tenor
    current = sum(rows[id(p)]["value"] for p in hedge_legs)
    time_value = sum(
        (rows[id(p)]["price"] - rows[id(p)]["intrinsic"]) * p.quantity * MULTIPLIER
        for p in hedge_legs
    )
    time_value_per_year = 0.0
    for p in hedge_legs:
        if p.expiry is None:
            raise ValueError(f"option position {p.label} lacks an expiry")
        t = max(year_fraction(as_of, p.expiry), 1 / 365)
        r = rows[id(p)]
        time_value_per_year += (r["price"] - r["intrinsic"]) * p.quantity * MULTIPLIER / t

    def pct(x: float) -> float | None:
        return x / underlying_value * 100 if underlying_value > 0 else None

    nearest = min((p.expiry for p in long_puts if p.expiry), default=None)
    return {
        "shares": shares,
        "underlying_value": underlying_value,
        "put_contracts": put_contracts,
        "covered_shares": put_contracts * MULTIPLIER,
        "hedge_ratio": put_contracts * MULTIPLIER / shares if shares > 0 else None,
        "short_call_contracts": call_contracts,
        "call_cover_ratio": call_contracts * MULTIPLIER / shares if shares > 0 else None,
        "floor": expiries[0] if expiries else None,
        "expiries": expiries,
        "cap_value": cap_now[0],
        "cap_spot": cap_now[1],
        "cost": {
            "paid": cost_paid,
            "paid_pct": pct(cost_paid),
            "paid_pct_per_year": pct(per_year),
            "current_value": current,
            "time_value": time_value,
            "time_value_pct_per_year": pct(time_value_per_year),
        },
        "nearest_expiry": nearest.isoformat() if nearest else None,
        "days_to_nearest_expiry": days_until(as_of, nearest) if nearest else None,
        "warning_days": warning_days,
        "warnings": hedge_warnings(positions, valued, mkt, warning_days, shares),
    }


def hedge_warnings(
    positions: Sequence[PositionIn],
    valued: dict[str, Any],
    mkt: MarketInputs,
    warning_days: int,
    shares: float,
) -> list[dict[str, Any]]:
    as_of = mkt.as_of
    out: list[dict[str, Any]] = []
    has_put = False
    for p, row in zip(positions, valued["positions"], strict=True):
        if not p.is_option or p.expiry is None or p.strike is None:
            continue
        days = days_until(as_of, p.expiry)
        label = p.label or f"{p.expiry} {p.strike}{'C' if p.is_call else 'P'}"
        if days < 0:
            out.append(_warn("expired", "bad", f"{label} expired {-days} d ago; close it.", p))
            continue
        if p.quantity > 0 and not p.is_call:
            has_put = True
            if days <= warning_days:
                out.append(
                    _warn("hedge_expiring", "warn", f"Hedge {label} expires in {days} d.", p)
                )
        if p.quantity < 0 and days <= warning_days:
            money = (mkt.spot / p.strike - 1) if p.is_call else (1 - mkt.spot / p.strike)
            delta = abs(float(row["greeks"]["delta_shares"]) / (p.quantity * MULTIPLIER))
            if money >= DEEP_ITM_MONEYNESS or delta >= DEEP_ITM_DELTA:
                kind = "call" if p.is_call else "put"
                out.append(
                    _warn(
                        "assignment_risk",
                        "bad",
                        f"Short {kind} {label} is deep in the money ({money * 100:.1f} %, "
                        f"Δ {delta:.2f}) {days} d before expiry: early assignment is likely.",
                        p,
                    )
                )
    if shares > 0 and not has_put:
        out.append(_warn("unhedged", "warn", "No long puts: the position is unprotected.", None))
    if mkt.stale:
        out.append(
            _warn("stale_data", "warn", f"Market data is stale ({mkt.age_s:.0f} s old).", None)
        )
    return out


def _warn(code: str, severity: str, message: str, p: PositionIn | None) -> dict[str, Any]:
    return {
        "code": code,
        "severity": severity,
        "message": message,
        "position_id": p.id if p else None,
    }


# --- scenarios ----------------------------------------------------------------------------


def _scenario_values(
    positions: Sequence[PositionIn],
    vols: dict[int, float],
    mkt: MarketInputs,
    spots: Array,
    vol_shift: float,
    at: datetime,
) -> tuple[Array, str]:
    """Portfolio value at each spot in ``spots`` on date ``at`` with IVs shifted by points."""
    total = np.zeros(spots.shape)
    opts = [p for p in positions if p.is_option]
    for p in positions:
        if not p.is_option:
            total += p.share_equivalents * spots
    if not opts:
        return total, "spot"
    n, m = len(opts), spots.size
    strike = np.repeat(np.array([p.strike for p in opts], dtype=float)[:, None], m, axis=1)
    t = np.repeat(
        np.array([year_fraction(at, p.expiry) for p in opts if p.expiry])[:, None], m, axis=1
    )
    vol = np.repeat(
        np.array([max(vols[id(p)] + vol_shift / 100, MIN_VOL) for p in opts])[:, None], m, axis=1
    )
    is_call = np.repeat(np.array([bool(p.is_call) for p in opts])[:, None], m, axis=1)
    s = np.broadcast_to(spots, (n, m))
    styles = [p.style for p in opts]
    flat, models = _price(
        s.ravel(),
        strike.ravel(),
        t.ravel(),
        mkt.rate,
        mkt.div_yield,
        vol.ravel(),
        is_call.ravel(),
        [st for st in styles for _ in range(m)],
        greeks=False,
    )
    prices = flat["price"].reshape(n, m)
    qty = np.array([p.share_equivalents for p in opts])[:, None]
    total += (prices * qty).sum(axis=0)
    model = ",".join(sorted({x for x in models if x}))
    return total, model


def scenarios(
    positions: Sequence[PositionIn],
    valued: dict[str, Any],
    mkt: MarketInputs,
    chain_vols: ChainVols | None,
    chosen: date | None = None,
) -> dict[str, Any]:
    """Spot × vol-shift matrix (today) and spot × date matrix (today, next hedge expiry, chosen)."""
    as_of = mkt.as_of
    today = as_of.astimezone(NEW_YORK).date()
    vols = {id(p): pick_vol(chain_vols, p, as_of).vol for p in positions if p.is_option}
    spots = np.array([mkt.spot * (1 + m) for m in SPOT_MOVES])
    current = valued["totals"]["value"]
    cost = valued["totals"]["cost"]
    vol_rows, models = [], set()
    for shift in VOL_SHIFTS:
        v, model = _scenario_values(positions, vols, mkt, spots, shift, as_of)
        models.add(model)
        vol_rows.append(v)
    vol_m = np.array(vol_rows)

    hedge_exp = sorted(
        p.expiry
        for p in positions
        if p.is_option and not p.is_call and p.quantity > 0 and p.expiry and p.expiry >= today
    )
    dates: list[tuple[str, datetime]] = [("today", as_of)]
    if hedge_exp:
        dates.append((f"hedge expiry {hedge_exp[0].isoformat()}", _close_datetime(hedge_exp[0])))
    if chosen is None:
        chosen = today + timedelta(days=30)
    chosen_dt = max(_close_datetime(chosen), as_of)
    dates.append((f"chosen {chosen.isoformat()}", chosen_dt))
    date_rows = []
    for _, at in dates:
        v, model = _scenario_values(positions, vols, mkt, spots, 0.0, at)
        models.add(model)
        date_rows.append(v)
    date_m = np.array(date_rows)

    def pack(values: Array, labels: list[str]) -> dict[str, Any]:
        return {
            "rows": labels,
            "value": np.round(values, 2).tolist(),
            "change": np.round(values - current, 2).tolist(),
            "pnl": np.round(values - cost, 2).tolist(),
        }

    return {
        "spot_moves_pct": [round(m * 100, 1) for m in SPOT_MOVES],
        "spots": np.round(spots, 4).tolist(),
        "vol_shifts_pts": list(VOL_SHIFTS),
        "dates": [
            {"label": label, "date": at.astimezone(NEW_YORK).date().isoformat()}
            for label, at in dates
        ],
        "spot_vol": pack(vol_m, [f"{s:+.0f} vol pts" for s in VOL_SHIFTS]),
        "spot_date": pack(date_m, [label for label, _ in dates]),
        "model": ",".join(sorted(x for x in models if x)),
        "assumptions": "IV per contract held fixed (plus the shift); options valued with the "
        "American model, at intrinsic on and after expiry; rate and dividend yield unchanged.",
    }


def clean_json(obj: Any) -> Any:
    """Floats rounded sensibly; NaN/inf become None so the result is strict JSON."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, np.floating):
        return clean_json(float(obj))
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, dict):
        return {k: clean_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [clean_json(v) for v in obj]
    return obj
