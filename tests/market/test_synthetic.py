"""The synthetic provider: deterministic, ticking, and shaped like a listed chain."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from market.analytics import analyze_chain
from market.calendar import is_trading_day, third_friday
from market.errors import InvalidSymbol, MarketDataError, UnknownSymbol
from market.providers.synthetic import SPECS, SyntheticProvider

NOW = datetime(2026, 11, 30, 15, 0, 2, tzinfo=UTC)  # a Monday, 10:00 New York


def provider(seed=7, at=NOW):
    return SyntheticProvider(seed=seed, rate=0.04, clock=lambda: at)


@pytest.fixture(scope="module")
def gld_chain():
    return provider().chain("GLD")


def test_deterministic_for_seed_and_clock(gld_chain):
    again = provider().chain("GLD")
    assert provider().quote("GLD") == provider().quote("GLD")
    assert np.array_equal(again.bid, gld_chain.bid) and np.array_equal(
        again.open_interest, gld_chain.open_interest
    )
    assert provider(seed=8).quote("GLD").spot != provider().quote("GLD").spot


def test_spot_ticks_like_a_random_walk():
    same_tick = provider(at=NOW + timedelta(seconds=1)).quote("GLD").spot
    assert same_tick == provider().quote("GLD").spot
    spots = np.array(
        [provider(at=NOW + timedelta(seconds=5 * i)).quote("GLD").spot for i in range(200)]
    )
    moves = np.diff(np.log(spots))
    assert (moves != 0).mean() > 0.5  # it moves most ticks
    # per-tick volatility of the right order for an annual vol of ~17 %
    per_tick = SPECS["GLD"].vol * np.sqrt(5 / (365 * 86400))
    assert 0.3 * per_tick < moves.std() < 3 * per_tick + 0.01 / spots.mean()
    q = provider().quote("GLD")
    assert q.bid < q.spot < q.ask and q.prev_close and abs(q.spot / q.prev_close - 1) < 0.1


def test_listed_style_expiries(gld_chain):
    exps = gld_chain.expiries
    today = NOW.date()
    weeklies = [d for d in exps if (d - today).days <= 36]
    assert len(weeklies) >= 5
    assert all(d.weekday() == 4 or not is_trading_day(d + timedelta(days=1)) for d in weeklies)
    later = [d for d in exps if (d - today).days > 36]
    assert all(15 <= d.day <= 21 for d in later)  # third Fridays (Thursday before a holiday)
    assert third_friday(2026, 12) in exps
    assert any(d.month in (3, 6, 9, 12) and (d - today).days > 180 for d in exps)  # quarterlies
    assert max(exps) >= today + timedelta(days=600) and max(exps).month == 1  # LEAPS ~2 years
    assert date(2026, 12, 25) not in exps and all(is_trading_day(d) for d in exps)


def test_strike_grid_like_gld(gld_chain):
    s = gld_chain.spot
    front = gld_chain.for_expiry(gld_chain.expiries[0])
    ks = np.unique(front.strike)
    near = ks[np.abs(ks / s - 1) < 0.05]
    far = ks[np.abs(ks / s - 1) > 0.15]
    assert np.allclose(np.diff(near), 1.0)
    assert np.allclose(np.mod(far, 5.0), 0.0)
    leaps = gld_chain.for_expiry(gld_chain.expiries[-1])
    assert np.allclose(np.mod(np.unique(leaps.strike), 5.0), 0.0)
    assert np.unique(leaps.strike).max() / s > 1.4  # wider range for long expiries


def test_quotes_skew_spreads_volume(gld_chain):
    c = gld_chain
    assert np.all(c.ask > c.bid) and np.all(c.bid >= 0)
    assert np.all(c.open_interest >= 0) and c.volume.sum() > 0
    a = analyze_chain(c, 0.04)
    exp = c.expiries[6]
    m = (c.expiry == np.datetime64(exp)) & ~c.is_call
    k, iv, pct = c.strike[m], a.iv[m], a.spread_pct[m]
    atm = np.argmin(np.abs(k - c.spot))
    otm_put = np.argmin(np.abs(k - 0.9 * c.spot))
    assert iv[otm_put] > iv[atm]  # put skew
    otm = (k < c.spot) & np.isfinite(pct)
    assert pct[otm][0] > pct[otm][-1]  # spreads (relative) widen away from the money
    assert c.open_interest[m][atm] > c.open_interest[m][0]
    # term structure: short-dated ATM vol above long-dated for GLD
    front, back = a.expiries[0].atm_iv, a.expiries[-1].atm_iv
    assert front is not None and back is not None
    assert front > back
    # mids invert to the surface: ATM vol near the symbol's parameters
    assert 0.12 < back < 0.25


def test_other_symbols_have_plausible_parameters():
    p = provider()
    for sym, lo, hi in (("SPY", 300, 1500), ("SLV", 10, 150), ("IAU", 20, 200), ("gld", 150, 900)):
        q = p.quote(sym)
        assert lo < q.spot < hi and q.symbol == sym.upper()
    assert p.quote("SPY").dividend_yield > 0 and p.quote("GLD").dividend_yield == 0
    assert len(p.history("SLV", 20).close) == 20


def test_unknown_and_malformed_symbols():
    p = provider()
    with pytest.raises(UnknownSymbol):
        p.quote("ZZZZ")
    with pytest.raises(UnknownSymbol):
        p.chain("AAPL")
    for bad in ("", "GLD;DROP", "x" * 30, "../etc", None):
        with pytest.raises(InvalidSymbol) as err:
            p.quote(bad)
        assert isinstance(err.value, MarketDataError) and isinstance(err.value, ValueError)


def test_ar1_is_scipy_lfilter_without_scipy_signal() -> None:
    """The synthetic vol regime's AR(1) path equals scipy.signal.lfilter's bit for bit (the
    image keeps only scipy.special, so the app must not import scipy.signal)."""
    import math

    from scipy.signal import lfilter

    from market.providers.synthetic import ar1

    noise = np.random.default_rng(3).standard_normal(3000)
    phi = math.exp(-1 / 40)
    scale = 0.2 * math.sqrt(1 - phi * phi)
    assert np.array_equal(ar1(noise, phi, scale), lfilter([scale], [1.0, -phi], noise))


def test_the_app_loads_no_scipy_beyond_what_scipy_special_loads() -> None:
    """The Dockerfile drops every scipy subpackage that `import scipy.special` does not load;
    a lazy import of another one (scipy.signal once) is a 503 in the image only."""
    import subprocess
    import sys

    from tests.support.server import ROOT, app_env

    script = """
import sys, scipy.special
kept = {m.split(".")[1] for m in sys.modules if m.startswith("scipy.")}
import django
django.setup()
from django.urls import get_resolver
get_resolver().url_patterns
from datetime import date
from market.providers.synthetic import SyntheticProvider
from strategies.services import load_market
provider = SyntheticProvider(seed=7, vol_regime=True)
provider.vol_level("GLD", date(2026, 6, 1))
provider.atm_term("GLD", date(2026, 6, 1))
load_market("GLD")
used = {m.split(".")[1] for m in sys.modules if m.startswith("scipy.")}
print(" ".join(sorted(used - kept)))
"""
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=app_env({}),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "", f"scipy subpackages the image does not keep: {done.stdout}"
