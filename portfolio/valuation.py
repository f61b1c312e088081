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

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from market import calendar, pricing
from market.data import CONTRACT_MULTIPLIER, MarketInputs
from market.surface import MIN_VOL, ChainVols, pick_vol

NEW_YORK = ZoneInfo("America/New_York")
SPOT_MOVES: tuple[float, ...] = tuple(round(x / 100, 2) for x in range(-30, 31, 5))
VOL_SHIFTS: tuple[float, ...] = (-10.0, -5.0, 0.0, 5.0, 10.0)

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
        return CONTRACT_MULTIPLIER if self.is_option else 1

    @property
    def share_equivalents(self) -> float:
        """Shares of the underlying this holding stands for (options: contracts × 100)."""
        if self.kind == "physical":
            return self.quantity / float(self.units_per_share or 1.0)
        return self.quantity * self.multiplier


def _close_datetime(d: date) -> datetime:
    return datetime.combine(d, time(16, 0), tzinfo=NEW_YORK)


def year_fraction(as_of: datetime, expiry: date) -> float:
    return max(0.0, float(calendar.year_fraction(as_of, expiry)))


def days_until(as_of: datetime, expiry: date) -> int:
    return (expiry - calendar.market_date(as_of)).days


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
        contracts = pricing.Contracts(spot_a[m], strike[m], t[m], rate, q, vol[m], is_call[m])
        if greeks:
            priced = pricing.price_options(contracts, style=style)
            for k in out:
                out[k][m] = np.asarray(getattr(priced, k), dtype=float)
            models[m] = str(priced.model)
        elif style == "american":
            out["price"][m] = np.asarray(pricing.american(contracts), dtype=float)
            models[m] = pricing.MODEL_QDFP
        else:
            out["price"][m] = np.asarray(pricing.bsm_price(contracts), dtype=float)
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
    picks = {id(p): pick_vol(chain_vols, p.expiry, p.strike, bool(p.is_call), as_of) for p in opts}
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
    today = calendar.market_date(as_of)
    vols = {
        id(p): pick_vol(chain_vols, p.expiry, p.strike, bool(p.is_call), as_of).vol
        for p in positions
        if p.is_option
    }
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
            {"label": label, "date": calendar.market_date(at).isoformat()} for label, at in dates
        ],
        "spot_vol": pack(vol_m, [f"{s:+.0f} vol pts" for s in VOL_SHIFTS]),
        "spot_date": pack(date_m, [label for label, _ in dates]),
        "model": ",".join(sorted(x for x in models if x)),
        "assumptions": "IV per contract held fixed (plus the shift); options valued with the "
        "American model, at intrinsic on and after expiry; rate and dividend yield unchanged.",
    }
