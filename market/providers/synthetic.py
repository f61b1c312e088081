"""Synthetic market data: deterministic for a (seed, clock), shaped like a listed chain.

* Spot: daily closes follow a slowly mean-reverting lognormal walk from a per-symbol reference
  level (one draw per New York calendar day since 2020-01-01); inside a day the price ticks every
  ``tick_seconds`` along a Brownian bridge between the two closes, so the same instant always
  gives the same price and consecutive ticks move like a random walk.
* Expiries: Friday weeklies for ~5 weeks, monthlies on third Fridays for 6 months, quarterlies
  (Mar/Jun/Sep/Dec) to a year, January LEAPS out to ~2 years; holiday Fridays move to Thursday.
* Strikes: the symbol's grid (e.g. GLD $1 near the money for short expiries, $5 further out and
  for long ones), spanning about ±3.5 standard deviations.
* Vols: ATM term structure (short end -> long end) with put skew and a little smile in
  standardised moneyness ``ln(K/F)/(sigma sqrt T)``. With ``vol_regime`` (on when built through
  ``make_provider``, the app's path) the whole surface is scaled by a deterministic daily vol
  level: ``exp(x_d)`` with ``x`` an AR(1) in the New York day index (about 40-day mean reversion,
  stationary sd 0.2, clipped to [0.6, 1.8]), so implied vol has a history to rank.
  :meth:`SyntheticProvider.atm_term` gives any day's ATM term structure at the 16:00 close
  without building a chain (what ``manage.py backfill_iv_history`` records).
* Quotes: American (QdFp) model price at the surface vol; bid/ask on the symbol's tick grid around
  it with spreads that widen away from the money and for cheap options; volume and open interest
  peak at the money and on round strikes.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import numpy as np

from market.calendar import (
    NEW_YORK,
    market_date,
    monthly_expiry,
    previous_trading_day,
    year_fraction,
)
from market.data import OptionChain, PriceHistory, Quote, normalize_symbol
from market.errors import ProviderUnavailable, UnknownSymbol
from market.pricing import Contracts, american

EPOCH = date(2020, 1, 1)


@dataclass(frozen=True)
class SymbolSpec:
    spot: float  # reference level the walk reverts to
    vol: float  # long-dated ATM vol
    vol_short: float  # short-dated ATM vol
    skew: float  # relative vol change per standard deviation of moneyness (negative: put skew)
    smile: float  # relative vol change per squared standard deviation
    div_yield: float
    fine_step: float
    coarse_step: float
    fine_band: float  # |K/S - 1| inside which short expiries use the fine step
    penny_all: bool  # $0.01 ticks at every price (else $0.05 above $3)
    oi_scale: float
    description: str


SPECS: dict[str, SymbolSpec] = {
    "GLD": SymbolSpec(
        380.0, 0.17, 0.19, -0.04, 0.020, 0.0, 1.0, 5.0, 0.10, False, 3000, "SPDR Gold Shares"
    ),
    "IAU": SymbolSpec(
        72.0, 0.17, 0.19, -0.04, 0.020, 0.0, 0.5, 1.0, 0.10, False, 2500, "iShares Gold Trust"
    ),
    "SLV": SymbolSpec(
        45.0, 0.30, 0.34, -0.03, 0.025, 0.0, 0.5, 1.0, 0.12, False, 6000, "iShares Silver Trust"
    ),
    "SPY": SymbolSpec(
        670.0, 0.17, 0.14, -0.12, 0.015, 0.012, 1.0, 5.0, 0.06, True, 20000, "SPDR S&P 500 ETF"
    ),
}


def _hash(*parts: object) -> int:
    h = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(h, "little")


def listed_expiries(today: date, now: datetime | None = None) -> list[date]:
    """Weeklies (~5 weeks), monthlies (6 months), quarterlies (1 year), January LEAPS (~2 years)."""
    out: set[date] = set()
    friday = today + timedelta(days=(4 - today.weekday()) % 7)
    for i in range(6):
        out.add(previous_trading_day(friday + timedelta(weeks=i)))
    y, m = today.year, today.month
    for i in range(0, 7):
        yy, mm = y + (m - 1 + i) // 12, (m - 1 + i) % 12 + 1
        out.add(monthly_expiry(yy, mm))
    for i in range(0, 13):
        yy, mm = y + (m - 1 + i) // 12, (m - 1 + i) % 12 + 1
        if mm in (3, 6, 9, 12):
            out.add(monthly_expiry(yy, mm))
    for yy in (y + 1, y + 2, y + 3):
        d = monthly_expiry(yy, 1)
        if (d - today).days <= 800:
            out.add(d)
    cutoff = today + timedelta(days=36)
    keep = sorted(d for d in out if d >= today)
    # weeklies only ~5 weeks out; monthlies/quarterlies/LEAPS are third Fridays (or Thursdays)
    keep = [d for d in keep if d <= cutoff or 15 <= d.day <= 21]
    if now is not None:
        keep = [d for d in keep if year_fraction(now, d) > 0]
    return keep


def ar1(noise: np.ndarray, phi: float, scale: float) -> np.ndarray:
    """The AR(1) path x[t] = phi·x[t-1] + scale·noise[t], from x[-1] = 0.

    A recursion has no array form; it runs once per symbol and process (the levels are kept),
    over a few thousand days. (scipy.signal.lfilter would do it, but the image keeps only the
    scipy.special part of scipy: see the Dockerfile.)"""
    out = np.empty(len(noise))
    x = 0.0
    for t, e in enumerate(noise.tolist()):
        x = scale * e + phi * x
        out[t] = x
    return out


class SyntheticProvider:
    name = "synthetic"

    def __init__(
        self,
        seed: int = 7,
        rate: float = 0.04,
        clock: Callable[[], datetime] | None = None,
        tick_seconds: int = 5,
        vol_regime: bool = False,
    ) -> None:
        self.seed = int(seed)
        self.vol_regime = bool(vol_regime)
        self._levels: dict[str, np.ndarray] = {}
        self.rate = float(rate)
        self.clock = clock or (lambda: datetime.now(UTC))
        self.tick_seconds = max(1, int(tick_seconds))
        self._lock = threading.Lock()
        self._closes: dict[str, np.ndarray] = {}
        self._bridges: dict[tuple[str, int], np.ndarray] = {}

    # ---- spot path -----------------------------------------------------------------------

    def _spec(self, symbol: str) -> tuple[str, SymbolSpec]:
        sym = normalize_symbol(symbol)
        spec = SPECS.get(sym)
        if spec is None:
            raise UnknownSymbol(f"unknown symbol {sym!r} (synthetic data has {', '.join(SPECS)})")
        return sym, spec

    def _daily_closes(self, sym: str, spec: SymbolSpec, upto: int) -> np.ndarray:
        """Log closes for day indices 0..upto (day 0 = EPOCH), cached and extended in blocks."""
        have = self._closes.get(sym)
        if have is not None and have.shape[0] > upto:
            return have
        n = (upto // 1024 + 1) * 1024 + 1
        rng = np.random.default_rng([self.seed, _hash("daily", sym)])
        z = rng.standard_normal(n)
        sd = spec.vol / math.sqrt(365.0)
        kappa = 0.003
        mean = math.log(spec.spot)
        out = np.empty(n)
        x = mean
        for i in range(n):
            x = x + kappa * (mean - x) - 0.5 * sd * sd + sd * z[i]
            out[i] = x
        self._closes[sym] = out
        return out

    def _bridge(self, sym: str, spec: SymbolSpec, day: int) -> np.ndarray:
        key = (sym, day)
        b = self._bridges.get(key)
        if b is None:
            n = 86400 // self.tick_seconds
            rng = np.random.default_rng([self.seed, _hash("intraday", sym), day])
            w = np.concatenate(([0.0], np.cumsum(rng.standard_normal(n))))
            k = np.arange(n + 1) / n
            b = (w - k * w[-1]) * (spec.vol / math.sqrt(365.0)) / math.sqrt(n)
            if len(self._bridges) > 64:
                self._bridges.clear()
            self._bridges[key] = b
        return b

    def _spot_at(self, sym: str, spec: SymbolSpec, now: datetime) -> tuple[float, float]:
        """(spot, previous day's close) at ``now``."""
        local = now.astimezone(NEW_YORK)
        day = (local.date() - EPOCH).days
        if day < 1:
            raise ProviderUnavailable(f"no synthetic data before {EPOCH} (clock: {now})")
        midnight = datetime.combine(local.date(), datetime.min.time(), tzinfo=NEW_YORK)
        secs = (local - midnight).total_seconds()
        n = 86400 // self.tick_seconds
        k = min(int(secs // self.tick_seconds), n)
        with self._lock:
            closes = self._daily_closes(sym, spec, day)
            bridge = self._bridge(sym, spec, day)
        prev, close = closes[day - 1], closes[day]
        frac = k / n
        log_s = prev + frac * (close - prev) + bridge[k]
        return float(np.exp(log_s)), float(np.exp(prev))

    def _tick_time(self, now: datetime) -> datetime:
        now = now if now.tzinfo else now.replace(tzinfo=UTC)
        ts = math.floor(now.timestamp() / self.tick_seconds) * self.tick_seconds
        return datetime.fromtimestamp(ts, tz=UTC)

    # ---- public interface -----------------------------------------------------------------

    def quote(self, symbol: str) -> Quote:
        sym, spec = self._spec(symbol)
        now = self._tick_time(self.clock())
        spot, prev = self._spot_at(sym, spec, now)
        spot = round(spot, 2)
        half = max(0.01, round(spot * 0.00005, 2))
        return Quote(
            symbol=sym,
            spot=spot,
            prev_close=round(prev, 2),
            bid=round(spot - half, 2),
            ask=round(spot + half, 2),
            as_of=now,
            provider=self.name,
            dividend_yield=spec.div_yield,
        )

    def history(self, symbol: str, days: int = 30) -> PriceHistory:
        sym, spec = self._spec(symbol)
        days = max(1, min(int(days), 3650))
        now = self._tick_time(self.clock())
        today = (market_date(now) - EPOCH).days
        first = max(0, today - days)
        with self._lock:
            closes = self._daily_closes(sym, spec, today)
        idx = np.arange(first, today)
        dates = np.array([np.datetime64(EPOCH + timedelta(days=int(i)), "D") for i in idx])
        return PriceHistory(sym, self.name, dates, np.round(np.exp(closes[idx]), 2))

    def vol_level(self, symbol: str, day: date) -> float:
        """The surface's scale on New York date ``day`` (1.0 without ``vol_regime``)."""
        if not self.vol_regime:
            return 1.0
        sym, _ = self._spec(symbol)
        i = (day - EPOCH).days
        if i < 0:
            raise ProviderUnavailable(f"no synthetic data before {EPOCH}")
        with self._lock:
            levels = self._levels.get(sym)
            if levels is None or levels.shape[0] <= i:
                n = (i // 1024 + 1) * 1024 + 1
                rng = np.random.default_rng([self.seed, _hash("vol-level", sym)])
                phi, sd = math.exp(-1.0 / 40.0), 0.2
                x = ar1(rng.standard_normal(n), phi, sd * math.sqrt(1.0 - phi * phi))
                levels = np.clip(np.exp(x), 0.6, 1.8)
                self._levels[sym] = levels
        return float(levels[i])

    def atm_term(self, symbol: str, day: date) -> tuple[list[date], np.ndarray, np.ndarray]:
        """(expiries, years to each, ATM vol at the forward) listed at 16:00 New York on ``day``:
        the same surface :meth:`chain` quotes from, without pricing a chain."""
        sym, spec = self._spec(symbol)
        close = datetime.combine(day, time(16, 0), tzinfo=NEW_YORK)
        expiries = listed_expiries(day, close)
        t = np.asarray(year_fraction(close, np.array(expiries, dtype="datetime64[D]")), float)
        vol = self.surface_vol(spec, np.zeros_like(t), t) * self.vol_level(sym, day)
        return expiries, t, vol

    def surface_vol(self, spec: SymbolSpec, log_moneyness: np.ndarray, t: np.ndarray) -> np.ndarray:
        t_eff = np.maximum(t, 2.0 / 365.0)
        atm = spec.vol + (spec.vol_short - spec.vol) * np.exp(-t_eff / 0.25)
        x = np.clip(log_moneyness / (atm * np.sqrt(t_eff)), -4.0, 4.0)
        return np.clip(atm * (1.0 + spec.skew * x + spec.smile * x * x), 0.5 * atm, 3.0 * atm)

    def chain(self, symbol: str) -> OptionChain:
        sym, spec = self._spec(symbol)
        now = self._tick_time(self.clock())
        spot, _ = self._spot_at(sym, spec, now)
        spot = round(spot, 2)
        today = market_date(now)
        expiries = listed_expiries(today, now)
        exp_col: list[np.ndarray] = []
        k_col: list[np.ndarray] = []
        for d in expiries:
            k = self._strikes(spec, spot, year_fraction(now, d))
            exp_col.append(np.full(k.shape[0], np.datetime64(d, "D")))
            k_col.append(k)
        expiry = np.concatenate(exp_col + exp_col)
        strike = np.concatenate(k_col + k_col)
        n = strike.shape[0] // 2
        is_call = np.concatenate([np.ones(n, bool), np.zeros(n, bool)])
        t = year_fraction(now, expiry)
        q = spec.div_yield
        fwd = spot * np.exp((self.rate - q) * t)
        lm = np.log(strike / fwd)
        vol = self.surface_vol(spec, lm, t) * self.vol_level(sym, today)
        model = american(Contracts(spot, strike, t, self.rate, q, vol, is_call))
        # standardised distance from the money, used by spreads and open interest
        x = np.abs(lm) / (vol * np.sqrt(np.maximum(t, 2.0 / 365.0)))
        day_rng = np.random.default_rng([self.seed, _hash("chain", sym), (today - EPOCH).days])
        jitter = day_rng.uniform(0.85, 1.15, strike.shape[0])
        tick = np.where((model < 3.0) | spec.penny_all, 0.01, 0.05)
        spread = (0.02 + 0.012 * model) * (1.0 + 0.6 * np.minimum(x, 5.0)) * jitter
        spread = np.maximum(spread, tick)
        bid = np.floor((model - 0.5 * spread) / tick + 1e-9) * tick
        ask = np.ceil((model + 0.5 * spread) / tick - 1e-9) * tick
        bid = np.round(np.maximum(bid, 0.0), 2)
        ask = np.round(np.maximum(ask, bid + tick), 2)
        weekly = np.array([not (15 <= d.item().day <= 21) for d in expiry])
        term = np.where(weekly, 0.35, np.where(t > 1.0, 0.5, 1.0))
        round_strike = np.isclose(np.mod(strike, 5.0 * spec.coarse_step), 0.0)
        base = (
            spec.oi_scale * term * np.exp(-0.5 * (x / 1.3) ** 2) * np.where(round_strike, 1.6, 1.0)
        )
        oi = np.floor(base * day_rng.lognormal(0.0, 0.5, base.shape[0]))
        vol_frac = np.clip(0.25 * np.exp(-t * 4.0), 0.01, 0.3) * day_rng.uniform(
            0.3, 1.7, base.shape[0]
        )
        volume = np.floor(oi * vol_frac)
        last = np.where(
            volume > 0, np.round(model * day_rng.uniform(0.98, 1.02, base.shape[0]), 2), np.nan
        )
        return OptionChain.build(
            symbol=sym,
            spot=spot,
            as_of=now,
            provider=self.name,
            dividend_yield=q,
            expiry=expiry,
            strike=strike,
            is_call=is_call,
            bid=bid,
            ask=ask,
            last=last,
            volume=volume.astype(np.int64),
            open_interest=oi.astype(np.int64),
            meta={"rate": self.rate, "seed": self.seed, "model": "american-qdfp"},
        )

    @staticmethod
    def _strikes(spec: SymbolSpec, spot: float, t: float) -> np.ndarray:
        sd = max(spec.vol * math.sqrt(max(t, 2.0 / 365.0)), 0.04)
        lo = spot * max(math.exp(-3.5 * sd), 0.3)
        hi = spot * min(math.exp(3.5 * sd), 2.5)
        coarse = spec.coarse_step
        ks = set(np.arange(math.ceil(lo / coarse) * coarse, hi + 1e-9, coarse).round(4).tolist())
        if t <= 0.5:
            flo = max(lo, spot * (1.0 - spec.fine_band))
            fhi = min(hi, spot * (1.0 + spec.fine_band))
            fine = spec.fine_step
            ks.update(np.arange(math.ceil(flo / fine) * fine, fhi + 1e-9, fine).round(4).tolist())
        return np.array(sorted(k for k in ks if k > 0), dtype=float)
