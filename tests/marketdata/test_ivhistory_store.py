"""IV history in the database: the synthetic vol regime, the daily record from a live chain
(once per day, only after the close, leader only), the backfills and the rank from storage."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from io import StringIO

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from market import ivhistory as ivh
from market.calendar import is_trading_day
from market.providers.replay import snapshot_dict, write_snapshots
from market.providers.synthetic import SyntheticProvider
from market.service import MarketService
from marketdata import ivrecord
from marketdata.models import IVObservation
from portfolio.publisher import Publisher
from tests.support.clock import freeze
from tests.support.market import synthetic_service, use_market_service

pytestmark = pytest.mark.django_db

CLOSE = datetime(2026, 3, 4, 21, 5, tzinfo=UTC)  # Wednesday 16:05 New York
MORNING = datetime(2026, 3, 4, 15, 30, tzinfo=UTC)  # 10:30 New York


@pytest.fixture(autouse=True)
def _fresh_cache():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


def market(at: datetime, regime: bool = True) -> MarketService:
    return synthetic_service(at, vol_regime=regime)


def test_vol_regime_is_deterministic_and_moves():
    a = SyntheticProvider(seed=7, vol_regime=True)
    b = SyntheticProvider(seed=7, vol_regime=True)
    days = [date(2025, 1, 2) + timedelta(i) for i in range(365)]
    la = np.array([a.vol_level("GLD", d) for d in days])
    assert np.array_equal(la, [b.vol_level("GLD", d) for d in days])
    assert 0.6 <= la.min() < 0.95 and 1.05 < la.max() <= 1.8
    assert SyntheticProvider(seed=7).vol_level("GLD", days[0]) == 1.0
    assert not np.array_equal(
        la, [SyntheticProvider(seed=8, vol_regime=True).vol_level("GLD", d) for d in days]
    )


def test_atm_term_matches_the_chain_it_quotes():
    """The backfill's ATM vols are the ones the live chain's quotes imply (IV solved from the
    rounded bid/ask mids of the chain at the same close): within the quote rounding."""
    from market.analytics import analyze_chain

    p = SyntheticProvider(seed=7, rate=0.04, clock=lambda: CLOSE, vol_regime=True)
    an = analyze_chain(p.chain("GLD"), 0.04, greeks=False)
    expiries, t, vol = p.atm_term("GLD", date(2026, 3, 4))
    assert [e.expiry for e in an.expiries] == expiries
    solved = np.array([e.atm_iv for e in an.expiries], dtype=float)
    far = t > 7 / 365  # the shortest expiries' mids are a few ticks: rounding dominates
    assert np.allclose(solved[far], vol[far], rtol=0.03)
    live = ivrecord.chain_iv30(p.chain("GLD"), 0.04).value
    assert live == pytest.approx(ivh.constant_maturity_iv(t, vol)[0], rel=0.02)


def test_record_today_once_and_never_from_a_stale_chain(monkeypatch):
    freeze(monkeypatch, CLOSE)
    with use_market_service(market(CLOSE)):
        obs = ivrecord.record_today("GLD", CLOSE)
        assert obs is not None and obs.date == date(2026, 3, 4)
        assert obs.source == "live" and obs.expiries >= 10 and 0.05 < obs.iv30 < 0.6
        assert ivrecord.record_today("GLD", CLOSE) is None  # once per day
    assert IVObservation.objects.count() == 1

    class Stale:
        def chain(self, symbol):
            from dataclasses import replace

            c = market(CLOSE).chain(symbol)
            return replace(c, stale=True)

        def quote(self, symbol):  # pragma: no cover - not asked for
            raise AssertionError

    with use_market_service(Stale()):
        assert ivrecord.record_today("GLD", CLOSE + timedelta(days=1)) is None
    assert IVObservation.objects.count() == 1


@pytest.mark.django_db(transaction=True)  # the publisher writes from a worker thread
def test_publisher_records_after_the_close_on_trading_days_only(monkeypatch):
    freeze(monkeypatch, CLOSE)
    with use_market_service(market(CLOSE)):
        pub = Publisher(record_iv=True)
        assert asyncio.run(pub.daily_iv(MORNING)) is False  # before the close
        assert asyncio.run(pub.daily_iv(CLOSE)) is True
        assert asyncio.run(pub.daily_iv(CLOSE + timedelta(minutes=5))) is False
        saturday = datetime(2026, 3, 7, 21, 5, tzinfo=UTC)
        assert asyncio.run(pub.daily_iv(saturday)) is False
        # A second publisher (a takeover) the same evening writes nothing more.
        assert asyncio.run(Publisher(record_iv=True).daily_iv(CLOSE)) is True
    assert list(IVObservation.objects.values_list("symbol", "date")) == [("GLD", date(2026, 3, 4))]


def test_tick_records_only_as_leader(monkeypatch):
    freeze(monkeypatch, CLOSE)
    calls = []

    async def fake(self, now=None):
        calls.append(self.leader)
        return True

    monkeypatch.setattr(Publisher, "daily_iv", fake)
    pub = Publisher(record_iv=True, render=None)
    pub.leader = False
    asyncio.run(pub.tick())
    pub.leader = True
    asyncio.run(pub.tick())
    assert calls == [True]


def test_backfill_synthetic_is_deterministic_and_idempotent():
    out = StringIO()
    backfill = ("backfill_iv_history", "--symbol", "GLD", "--days", "120")
    call_command(*backfill, "--until", "2026-03-04", stdout=out)
    rows = list(IVObservation.objects.filter(symbol="GLD").order_by("date"))
    expected_days = [
        d for d in (date(2026, 3, 4) - timedelta(i) for i in range(120)) if is_trading_day(d)
    ]
    assert [r.date for r in rows] == sorted(expected_days)
    assert {r.source for r in rows} == {"synthetic"}
    # Each stored value is the interpolation of that day's ATM term structure.
    p = SyntheticProvider(seed=7, rate=0.04, vol_regime=True)
    _, t, v = p.atm_term("GLD", rows[-1].date)
    assert rows[-1].iv30 == pytest.approx(ivh.constant_maturity_iv(t, v)[0], rel=1e-12)
    assert np.std([r.iv30 for r in rows]) > 0.005  # the regime moves it
    call_command(*backfill, "--until", "2026-03-04", stdout=out)
    assert IVObservation.objects.count() == len(rows)
    assert "0 day(s) added" in out.getvalue()


def test_backfill_never_overwrites_a_live_day():
    IVObservation.objects.create(
        symbol="GLD", date=date(2026, 3, 4), iv30=0.5, method="m", source="live"
    )
    backfill = ("backfill_iv_history", "--symbol", "GLD", "--days", "10")
    call_command(*backfill, "--until", "2026-03-04", stdout=StringIO())
    assert IVObservation.objects.get(date=date(2026, 3, 4)).iv30 == 0.5


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--symbol", "gl$d"], "symbol"),
        (["--days", "0"], "--days"),
        (["--until", "yesterday"], "YYYY-MM-DD"),
        (["--source", "replay"], "--replay FILE"),
        (["--replay", "/nonexistent/file.json"], "not found"),
        (["--days", "30", "--until", "2019-12-01"], "before"),
    ],
)
def test_backfill_bad_input_is_one_line(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("backfill_iv_history", *args, stdout=StringIO(), stderr=StringIO())


def test_backfill_refuses_synthetic_history_for_a_real_provider(settings):
    settings.MARKET_DATA_PROVIDER = "yfinance"
    with pytest.raises(CommandError, match="not synthetic"):
        call_command("backfill_iv_history", stdout=StringIO())


def test_backfill_replay_takes_each_days_last_chain(tmp_path):
    snaps = []
    for at in (MORNING, CLOSE, CLOSE + timedelta(days=1)):

        def clock(at: datetime = at) -> datetime:
            return at

        p = SyntheticProvider(seed=7, rate=0.04, clock=clock, vol_regime=True)
        snaps.append(snapshot_dict(p.quote("GLD"), p.chain("GLD")))
    path = tmp_path / "snaps.json"
    write_snapshots(path, snaps)
    call_command("backfill_iv_history", "--replay", str(path), stdout=StringIO())
    rows = list(IVObservation.objects.order_by("date"))
    assert [(r.date, r.source) for r in rows] == [
        (date(2026, 3, 4), "replay"),
        (date(2026, 3, 5), "replay"),
    ]
    p = SyntheticProvider(seed=7, rate=0.04, clock=lambda: CLOSE, vol_regime=True)
    assert rows[0].iv30 == pytest.approx(ivrecord.chain_iv30(p.chain("GLD"), 0.04).value, rel=1e-12)


def test_rank_from_storage_and_when_out_of_date():
    call_command(
        "backfill_iv_history",
        "--symbol",
        "GLD",
        "--days",
        "400",
        "--until",
        "2026-03-04",
        stdout=StringIO(),
    )
    dates, values = ivrecord.stored("GLD")
    r = ivrecord.rank_for("GLD", date(2026, 3, 5))
    window = values[dates >= np.datetime64("2025-03-05")]
    lo, hi = window.min(), window.max()
    assert r.observations == window.size and 240 <= r.observations <= 260
    assert r.rank == pytest.approx((values[-1] - lo) / (hi - lo) * 100)
    assert r.percentile == pytest.approx((window[:-1] < values[-1]).mean() * 100)
    old = ivrecord.rank_for("GLD", date(2026, 3, 20))
    assert old.rank is None and "out of date" in old.reason
    block = ivrecord.rank_block("GLD", date(2026, 3, 5))
    assert block["window_days"] == 365 and "total variance" in block["iv30_method"]


def test_rank_cache_is_dropped_on_write():
    assert ivrecord.rank_for("GLD", date(2026, 3, 5)).reason == "no IV history yet"
    call_command(
        "backfill_iv_history",
        "--symbol",
        "GLD",
        "--days",
        "60",
        "--until",
        "2026-03-04",
        stdout=StringIO(),
    )
    assert ivrecord.rank_for("GLD", date(2026, 3, 5)).observations > 20


def test_chart_series_aligns_realised_vol_on_iv_dates(monkeypatch):
    freeze(monkeypatch, CLOSE)
    call_command(
        "backfill_iv_history",
        "--symbol",
        "GLD",
        "--days",
        "200",
        "--until",
        "2026-03-04",
        stdout=StringIO(),
    )
    p = SyntheticProvider(seed=7, rate=0.04, clock=lambda: CLOSE)
    h = p.history("GLD", 500)
    s = ivrecord.chart_series("GLD", (h.dates, h.close))
    assert s["dates"].size == s["iv30"].size == s["rv20"].size > 100
    # Recompute one realised vol by hand from the trading-day closes.
    keep = np.array([is_trading_day(d.item()) for d in h.dates])
    cd, cc = h.dates[keep], h.close[keep]
    # (The synthetic history ends yesterday: today's IV has no close, so no realised vol.)
    j = int(np.flatnonzero(np.isfinite(s["rv20"]))[-1])
    assert j >= s["dates"].size - 2
    i = int(np.nonzero(cd == s["dates"][j])[0][0])
    rets = np.diff(np.log(cc[i - 20 : i + 1]))
    assert s["rv20"][j] == pytest.approx(rets.std(ddof=1) * np.sqrt(252), rel=1e-12)
    assert np.isfinite(s["rv60"][-100:-1]).all()


def test_the_apps_synthetic_provider_has_the_vol_regime_and_the_publisher_records():
    from market.providers import make_provider

    assert getattr(make_provider("synthetic"), "vol_regime", None) is True
    assert Publisher.from_settings().record_iv is True
    assert Publisher().record_iv is False
