"""Data model round trips, symbol validation, time to expiry and the listed calendar."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from market.calendar import (
    is_trading_day,
    market_date,
    monthly_expiry,
    nyse_holidays,
    year_fraction,
)
from market.data import OptionChain, Quote, normalize_symbol
from market.errors import InvalidSymbol, ProviderUnavailable, UnknownSymbol
from market.providers import make_provider
from market.providers.replay import ReplayProvider, snapshot_dict, write_snapshots

AS_OF = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def _chain() -> OptionChain:
    return OptionChain.build(
        symbol="GLD",
        spot=380.0,
        as_of=AS_OF,
        provider="test",
        dividend_yield=0.0,
        expiry=["2026-04-17", "2026-03-20", "2026-03-20"],
        strike=[380.0, 390.0, 370.0],
        is_call=[True, False, True],
        bid=[10.0, np.nan, 12.0],
        ask=[10.5, 12.0, 12.4],
        volume=[1, 2, np.nan],
        open_interest=[10, 20, 30],
    )


def test_chain_build_sorts_and_round_trips_through_json():
    c = _chain()
    assert c.expiries == (date(2026, 3, 20), date(2026, 4, 17))
    assert list(c.strike) == [370.0, 390.0, 380.0] and list(c.is_call) == [True, False, True]
    assert c.volume.dtype == np.int64 and c.volume[0] == 0
    again = OptionChain.from_dict(json.loads(json.dumps(c.to_dict())))
    assert np.array_equal(again.strike, c.strike) and np.isnan(again.bid[1])
    assert again.as_of == AS_OF and again.expiries == c.expiries
    assert len(c.for_expiry(date(2026, 3, 20))) == 2 and len(c.for_expiry("2026-05-15")) == 0
    assert np.isnan(c.mid[1]) and c.mid[0] == pytest.approx(12.2)
    assert c.nearest_expiry() == date(2026, 3, 20)


def test_quote_round_trip_and_day_change():
    q = Quote("GLD", 381.0, 380.0, 380.9, 381.1, AS_OF, "test")
    assert Quote.from_dict(json.loads(json.dumps(q.to_dict()))) == q
    assert q.day_change == pytest.approx(1.0)
    assert q.with_staleness(True, 12.3456).age_s == 12.346


@pytest.mark.parametrize("sym", ["GLD", " gld ", "BRK.B", "^VIX", "GC=F"])
def test_valid_symbols(sym):
    assert normalize_symbol(sym) == sym.strip().upper()


@pytest.mark.parametrize("sym", ["", "   ", "GLD SPY", "<script>", "A" * 11, "../x", 42, None])
def test_invalid_symbols(sym):
    with pytest.raises(InvalidSymbol):
        normalize_symbol(sym)


def test_year_fraction_to_four_pm_new_york():
    ny = ZoneInfo("America/New_York")
    # 10:00 New York on the expiry day: 6 hours to go
    assert year_fraction(
        datetime(2026, 3, 20, 10, 0, tzinfo=ny), date(2026, 3, 20)
    ) == pytest.approx(6 / 24 / 365)
    # across the DST change (8 March 2026): exactly 24h * days minus one hour
    t = year_fraction(datetime(2026, 3, 6, 16, 0, tzinfo=ny), date(2026, 3, 13))
    assert t == pytest.approx((7 * 24 - 1) / 24 / 365)
    assert year_fraction(datetime(2026, 3, 21, tzinfo=UTC), "2026-03-20") == 0.0
    naive = datetime(2026, 3, 20, 14, 0)  # taken as UTC = 10:00 New York
    assert year_fraction(naive, date(2026, 3, 20)) == pytest.approx(6 / 24 / 365)
    arr = year_fraction(
        datetime(2026, 3, 20, 20, 0, tzinfo=timezone(timedelta(hours=4))),
        np.array(["2026-03-20", "2026-03-27"], dtype="datetime64[D]"),
    )
    assert arr.shape == (2,) and arr[0] == pytest.approx(4 / 24 / 365)


def test_exchange_calendar():
    assert date(2026, 4, 3) in nyse_holidays(2026)  # Good Friday
    assert date(2026, 11, 26) in nyse_holidays(2026)  # Thanksgiving
    assert date(2027, 6, 18) in nyse_holidays(2027)  # Juneteenth (Saturday 19th observed Friday)
    assert not is_trading_day(date(2026, 12, 25)) and is_trading_day(date(2026, 12, 24))
    assert monthly_expiry(2026, 3) == date(2026, 3, 20)
    assert monthly_expiry(2027, 6) == date(2027, 6, 17)  # third Friday is a holiday


def test_replay_provider_plays_snapshots_in_order(tmp_path):
    q1 = Quote("GLD", 380.0, 379.0, None, None, AS_OF, "synthetic")
    q2 = Quote("GLD", 381.0, 379.0, None, None, AS_OF + timedelta(seconds=10), "synthetic")
    path = tmp_path / "s.json"
    write_snapshots(path, [snapshot_dict(q2, None), snapshot_dict(q1, _chain())])
    now = [0.0]
    p = ReplayProvider(path, clock=lambda: now[0])
    assert p.quote("GLD").spot == 380.0 and p.quote("gld").provider == "replay"
    now[0] = 10.5
    assert p.quote("GLD").spot == 381.0
    now[0] = 20.5
    assert p.quote("GLD").spot == 380.0  # loops
    with pytest.raises(UnknownSymbol):
        p.quote("SLV")


@pytest.mark.parametrize(
    "content",
    ["not json", '{"version": 2, "snapshots": []}', '{"version": 1, "snapshots": [{"quote": {}}]}'],
)
def test_replay_bad_files_are_provider_errors(tmp_path, content):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ProviderUnavailable):
        ReplayProvider(path).quote("GLD")
    with pytest.raises(ProviderUnavailable):
        ReplayProvider(tmp_path / "missing.json").quote("GLD")


def test_make_provider():
    assert make_provider("synthetic", seed=1).name == "synthetic"
    assert make_provider("yfinance").name == "yfinance"
    with pytest.raises(ValueError):
        make_provider("replay")
    with pytest.raises(ValueError):
        make_provider("bloomberg")


@pytest.mark.parametrize(
    ("instant", "day"),
    [
        (datetime(2026, 3, 10, 0, 30, tzinfo=UTC), date(2026, 3, 9)),  # EDT: 20:30 the day before
        (datetime(2026, 7, 1, 3, 59, tzinfo=UTC), date(2026, 6, 30)),
        (datetime(2026, 7, 1, 4, 0, tzinfo=UTC), date(2026, 7, 1)),  # New York midnight (EDT)
        (datetime(2026, 1, 15, 4, 59, tzinfo=UTC), date(2026, 1, 14)),
        (datetime(2026, 1, 15, 5, 0, tzinfo=UTC), date(2026, 1, 15)),  # New York midnight (EST)
        (datetime(2026, 1, 15, 4, 59), date(2026, 1, 14)),  # naive is UTC
    ],
)
def test_market_date_is_new_yorks_date(instant, day):
    assert market_date(instant) == day


def test_market_date_defaults_to_now(monkeypatch):
    from market import calendar

    monkeypatch.setattr(calendar, "_utcnow", lambda: datetime(2026, 11, 2, 4, 30, tzinfo=UTC))
    assert market_date() == date(2026, 11, 1)
