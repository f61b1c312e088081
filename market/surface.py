"""The volatility a held contract is valued at, taken from the listed chain.

The chain's implied vols (American model, from mid quotes) are solved once, vectorised, for
the expiries a book needs; a contract then gets, in order of preference: its own chain IV, the
smile of its expiry interpolated at its strike, the total variance interpolated between the
neighbouring listed expiries (an expiry no longer listed), the chain's median IV, or a fixed
fallback. ``VolPick.source`` says which, so every valuation can state where its vol came from.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from core.numbers import finite
from market import calendar, iv

MIN_VOL = 0.01
FALLBACK_VOL = 0.20

Array = npt.NDArray[np.float64]


def _years(as_of: datetime, expiry: date) -> float:
    return max(0.0, float(calendar.year_fraction(as_of, expiry)))


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


def pick_vol(
    cv: ChainVols | None,
    expiry: date | None,
    strike: float | None,
    is_call: bool,
    as_of: datetime,
) -> VolPick:
    """The contract's chain IV; else the smile at its expiry; else the surface; else a fallback."""
    if cv is None or expiry is None or strike is None:
        return VolPick(FALLBACK_VOL, "default")
    e64 = np.datetime64(expiry, "D")
    quote_sel = (cv.expiry == e64) & (cv.is_call == is_call) & np.isclose(cv.strike, strike)
    bid = ask = mid = None
    if quote_sel.any():
        i = int(np.flatnonzero(quote_sel)[0])
        bid, ask, mid = finite(cv.bid[i]), finite(cv.ask[i]), finite(cv.mid[i])
    vol, source = _smile(cv, e64, strike, is_call)
    if vol is None:
        # Expiry not listed (or no IV there): interpolate total variance between neighbours.
        listed = np.unique(cv.expiry[np.isfinite(cv.iv)])
        if listed.size:
            i = int(np.searchsorted(listed, e64))
            sides = [listed[j] for j in (i - 1, i) if 0 <= j < listed.size]
            pts = []
            for e in sides:
                v, _ = _smile(cv, e, strike, is_call)
                if v is not None:
                    pts.append((_years(as_of, e.astype(object)), v))
            if pts:
                t = _years(as_of, expiry)
                if len(pts) == 2 and pts[1][0] > pts[0][0]:
                    (t0, v0), (t1, v1) = pts
                    w = min(max((t - t0) / (t1 - t0), 0.0), 1.0)
                    var = (1 - w) * v0 * v0 * t0 + w * v1 * v1 * t1
                    vol = math.sqrt(var / t) if t > 0 and var > 0 else v0 if w < 0.5 else v1
                else:
                    vol = pts[0][1]
                source = "surface_interp"
    if vol is None:
        solved = cv.iv[np.isfinite(cv.iv)]
        if solved.size:
            vol, source = float(np.median(solved)), "chain_median"
        else:
            vol, source = FALLBACK_VOL, "default"
    return VolPick(max(vol, MIN_VOL), source, mid, bid, ask)
