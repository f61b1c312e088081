"""The value history: the book at each daily close from the ledger, against hand arithmetic
and QuantLib; recorded daily by the publisher or the command, never by page views."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D
from io import StringIO

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from market.errors import ProviderUnavailable
from market.providers.replay import ReplayProvider, snapshot_dict, write_snapshots
from market.service import MarketService
from market.surface import pick_vol
from marketdata import snapshot
from portfolio import history, ledger
from portfolio import services as portfolio_services
from portfolio.models import PortfolioSnapshot, Position, Trade
from tests.factories import PortfolioFactory, PositionFactory, UserFactory
from tests.portfolio.fakes import ql_price
from tests.support.clock import freeze
from tests.support.market import DictCache, synthetic_service, use_market_service

NOW = datetime(2026, 3, 4, 15, 30, tzinfo=UTC)


def _service(seed: int = 7) -> MarketService:
    return synthetic_service(NOW, seed)


@pytest.fixture
def market(monkeypatch):
    freeze(monkeypatch, NOW)
    with use_market_service(_service()) as svc:
        yield svc


@pytest.fixture
def pf():
    """A portfolio of its own user's (``pf.owner``)."""
    return PortfolioFactory(owner=UserFactory())


def _closes(svc: MarketService, days: int) -> dict[date, float]:
    h = svc.history("GLD", days)
    return {d.astype(object): float(c) for d, c in zip(h.dates, h.close, strict=True)}


def _points(pf) -> dict[date, PortfolioSnapshot]:
    return {
        s.taken_at.astimezone(history.calendar.NEW_YORK).date(): s
        for s in PortfolioSnapshot.objects.filter(portfolio=pf, symbol="GLD")
    }


def _buy(pf, user, qty: int, price: str, on: date, **kw) -> None:
    action = "buy" if qty > 0 else "sell"
    ledger.record_one(
        pf, user, symbol="GLD", action=action, quantity=D(qty), price=D(price), traded_on=on, **kw
    )


def test_synthetic_history_is_deterministic():
    a = _service(7).history("GLD", 40)
    b = _service(7).history("GLD", 40)
    c = _service(8).history("GLD", 40)
    assert (a.dates == b.dates).all() and (a.close == b.close).all()
    assert not np.array_equal(a.close, c.close)
    assert a.dates[-1] < np.datetime64(NOW.date(), "D")  # today's close is not in yet


@pytest.mark.django_db(transaction=True)
def test_shares_follow_the_ledger_day_by_day(market, pf):
    user = pf.owner
    closes = _closes(market, 30)
    days = sorted(closes)
    d_buy, d_more, d_sell = days[5], days[12], days[20]
    _buy(pf, user, 1000, "300", d_buy)
    _buy(pf, user, 500, "320", d_more)
    _buy(pf, user, -600, "330", d_sell)
    assert history.fill(pf, "GLD", 30) == len(days) - 5
    pts = _points(pf)
    assert min(pts) == d_buy  # nothing held before the first buy: no $0 points
    for d in days[5:]:
        qty = 1000 if d < d_more else (1500 if d < d_sell else 900)
        # FIFO: the sale of 600 closes 600 of the first lot at 300.
        cost = (
            1000 * 300
            if d < d_more
            else (1000 * 300 + 500 * 320 if d < d_sell else 400 * 300 + 500 * 320)
        )
        assert pts[d].value == pytest.approx(qty * closes[d], abs=1e-6), d
        assert pts[d].spot == closes[d]
        assert pts[d].cost == pytest.approx(cost, abs=1e-6), d
        assert pts[d].pnl == pytest.approx(qty * closes[d] - cost, abs=1e-6)
        assert pts[d].delta == pytest.approx(qty)
        assert pts[d].taken_at == history.close_instant(d)
    # Idempotent: a second run writes nothing; --replace rewrites the same values.
    assert history.fill(pf, "GLD", 30) == 0
    assert history.fill(pf, "GLD", 30, replace_existing=True) == len(days) - 5
    assert PortfolioSnapshot.objects.filter(portfolio=pf).count() == len(days) - 5


@pytest.mark.django_db(transaction=True)
def test_a_put_is_valued_with_quantlib_at_each_past_close(market, pf):
    user = pf.owner
    closes = _closes(market, 15)
    days = sorted(closes)
    chain = market.chain("GLD")
    # An expiry before the switch to daylight time (8 March), as every close here: the time to
    # expiry is then whole days / 365, QuantLib's Actual/365 date arithmetic.
    expiry = max(e for e in chain.expiries if e < date(2026, 3, 8))
    assert expiry > days[-1]
    strike = min({float(k) for k in chain.strike}, key=lambda k: abs(k - 0.98 * chain.spot))
    _buy(pf, user, 1000, "300", days[0])
    ledger.record_one(
        pf, user, symbol="GLD", kind=Position.Kind.OPTION, expiry=expiry, strike=D(str(strike)),
        right="P", action="buy", quantity=D(10), price=D("4.00"), traded_on=days[3],
    )  # fmt: skip
    history.fill(pf, "GLD", 15)
    pts = _points(pf)
    snap = snapshot.load("GLD")
    cv = portfolio_services.chain_vols(snap, [p.as_input() for p in pf.open_positions()])
    rate, div = snap.valuation_inputs.rate, snap.valuation_inputs.div_yield
    for d in days[3:]:
        at = history.close_instant(d)
        vol = pick_vol(cv, expiry, strike, False, at).vol
        put = ql_price(closes[d], strike, expiry, vol, False, today=d, rate=rate, div=div)
        assert put > 0.01  # the put's time value is part of the check
        expected = 1000 * closes[d] + 10 * 100 * put
        assert pts[d].value == pytest.approx(expected, rel=1e-6, abs=0.05), d
        assert pts[d].cost == pytest.approx(1000 * 300 + 10 * 100 * 4.0)
    assert pts[days[2]].value == pytest.approx(1000 * closes[days[2]])  # before the put


@pytest.mark.django_db(transaction=True)
def test_a_position_without_trades_counts_from_its_open_date(market):
    pf = PortfolioFactory()
    closes = _closes(market, 10)
    days = sorted(closes)
    PositionFactory(portfolio=pf, quantity=D(200), opened_on=days[4])
    assert history.fill(pf, "GLD", 10) == len(days) - 4
    pts = _points(pf)
    assert pts[days[-1]].value == pytest.approx(200 * closes[days[-1]])


@pytest.mark.django_db(transaction=True)
def test_command_and_its_bad_input(market):
    pf = PortfolioFactory()
    PositionFactory(portfolio=pf, quantity=D(100), opened_on=date(2026, 1, 1))
    out = StringIO()
    call_command("backfill_history", "--days", "20", stdout=out)
    assert "point(s) written" in out.getvalue()
    assert PortfolioSnapshot.objects.filter(portfolio=pf).count() > 5
    for bad in (["--days", "0"], ["--portfolio", "999999"], ["--symbol", "GLD;"]):
        with pytest.raises(CommandError):
            call_command("backfill_history", *bad, stdout=StringIO())


@pytest.mark.django_db(transaction=True)
def test_the_publisher_records_the_close_once_a_day(market):
    from portfolio.publisher import MemoryRegistry, Publisher

    pf = PortfolioFactory()
    PositionFactory(portfolio=pf, quantity=D(100), opened_on=date(2026, 2, 1))

    def compute(symbol: str, portfolio_id: int | None = None) -> dict:
        return {}

    pub = Publisher(compute=compute, registry=MemoryRegistry(), process_expiries=True)
    after_close = datetime(2026, 3, 3, 21, 30, tzinfo=UTC)  # 16:30 New York, 3 March
    assert asyncio.run(pub.daily_expiries(after_close)) is True
    written = PortfolioSnapshot.objects.filter(portfolio=pf).count()
    assert written >= 5  # the catch-up window's closes
    last = PortfolioSnapshot.objects.filter(portfolio=pf).latest()
    assert last.taken_at == history.close_instant(date(2026, 3, 3))
    assert asyncio.run(pub.daily_expiries(after_close)) is False  # once a day


@pytest.mark.django_db
def test_page_views_record_no_history(client, market, pf):
    user = pf.owner
    PositionFactory(portfolio=pf)
    client.force_login(user)
    for _ in range(2):
        assert client.get("/", {"portfolio": pf.pk}).status_code == 200
    assert not PortfolioSnapshot.objects.exists()


# --- replay snapshots carry a history -------------------------------------------------------


def test_replay_carries_a_history_and_appends_its_recorded_days(tmp_path):
    svc = _service()
    quote = svc.quote("GLD")
    carried = svc.history("GLD", 10)
    path = tmp_path / "snap.json"
    write_snapshots(path, [snapshot_dict(quote, None, carried)])
    h = ReplayProvider(path).history("GLD", 30)
    assert list(h.dates[:-1]) == list(carried.dates)
    assert list(h.close[:-1]) == list(carried.close)
    assert h.dates[-1] == np.datetime64(quote.as_of.date(), "D") and h.close[-1] == quote.spot
    assert len(ReplayProvider(path).history("GLD", 3).close) == 3


def test_replay_without_history_gives_one_close_per_recorded_day(tmp_path):
    svc = _service()
    q = svc.quote("GLD")
    later = type(q)(**{**q.__dict__, "as_of": q.as_of + timedelta(hours=1), "spot": q.spot + 1})
    path = tmp_path / "snap.json"
    write_snapshots(path, [snapshot_dict(q, None), snapshot_dict(later, None)])
    h = ReplayProvider(path).history("GLD", 30)
    assert len(h.close) == 1 and h.close[0] == later.spot  # the day's last quote


def test_replay_malformed_history_is_unavailable(tmp_path):
    q = _service().quote("GLD")
    snap = snapshot_dict(q, None)
    snap["history"] = {"dates": ["2026-01-02"], "close": [1.0, 2.0]}
    path = tmp_path / "snap.json"
    path.write_text(json.dumps({"version": 1, "snapshots": [snap]}))
    with pytest.raises(ProviderUnavailable, match="malformed"):
        ReplayProvider(path).history("GLD", 5)


@pytest.mark.django_db
def test_record_market_snapshot_with_history(tmp_path, settings):
    path = tmp_path / "snap.json"
    call_command(
        "record_market_snapshot", "GLD", "--out", str(path), "--provider", "synthetic",
        "--no-chain", "--history", "15", stdout=StringIO(),
    )  # fmt: skip
    block = json.loads(path.read_text())["snapshots"][0]["history"]
    assert len(block["dates"]) == len(block["close"]) == 15
    with pytest.raises(CommandError):
        call_command(
            "record_market_snapshot", "GLD", "--out", str(path), "--provider", "synthetic",
            "--history", "-1", stdout=StringIO(),
        )  # fmt: skip


# --- the dashboard's panel: range picker, markers, events table -----------------------------


def test_parse_range_presets_custom_and_bad_input():
    from django.http import QueryDict

    from portfolio.history_chart import parse_range

    today = date(2026, 3, 4)
    r = parse_range(QueryDict(""), today)
    assert (r.start, r.end, r.preset, r.error) == (date(2026, 2, 2), today, "30d", "")
    assert parse_range(QueryDict("hist=all"), today).start is None
    r = parse_range(QueryDict("hist_from=2026-01-05&hist_to=2026-02-01"), today)
    assert (r.start, r.end, r.preset, r.error) == (date(2026, 1, 5), date(2026, 2, 1), "", "")
    for bad in (
        "hist=forever",
        "hist_from=2026-13-01",
        "hist_from=2026-02-10&hist_to=2026-02-01",
        "hist_to=2027-01-01",
        "hist_from=1990-01-01",
    ):
        r = parse_range(QueryDict(bad), today)
        assert r.error and "\n" not in r.error and r.preset == "30d", bad


@pytest.mark.django_db(transaction=True)
def test_panel_marks_trades_and_rolls_and_lists_them(client, market, pf):
    user = pf.owner
    days = sorted(_closes(market, 30))
    _buy(pf, user, 1000, "300", days[2])
    chain = market.chain("GLD")
    e1, e2 = sorted(chain.expiries)[3:5]
    opt: dict = {"symbol": "GLD", "kind": Position.Kind.OPTION, "strike": D("300"), "right": "P"}
    ledger.record_one(pf, user, expiry=e1, action="buy", quantity=D(10), price=D(2),
                      traded_on=days[5], **opt)  # fmt: skip
    ledger.record(pf, user, [
        Trade(expiry=e1, action="close", quantity=D(-10), price=D(1), traded_on=days[9],
              source=Trade.Source.ROLL, **opt),
        Trade(expiry=e2, action="open", quantity=D(10), price=D(3), traded_on=days[9],
              source=Trade.Source.ROLL, **opt),
    ])  # fmt: skip
    history.fill(pf, "GLD", 30)
    client.force_login(user)
    HX = {"HTTP_HX_REQUEST": "true"}
    html = client.get("/", {"portfolio": pf.pk, "panel": "history", "hist": "all"}, **HX)
    text = html.content.decode()
    assert html.status_code == 200 and 'id="history-chart"' in text
    assert text.count('class="marker"') == 3  # the buy, the put, the roll
    assert text.count("<polygon") == 1 and "roll · " in text
    assert 'id="history-events"' in text and text.count('<tr class="roll">') == 2
    # A custom range that leaves out the roll.
    r = client.get(
        "/", {"portfolio": pf.pk, "panel": "history", "hist_from": days[0].isoformat(),
              "hist_to": days[7].isoformat()}, **HX,
    )  # fmt: skip
    assert r.content.decode().count('class="marker"') == 2
    bad = client.get("/", {"portfolio": pf.pk, "panel": "history", "hist_to": "x"}, **HX)
    assert bad.status_code == 200 and 'id="history-error"' in bad.content.decode()


@pytest.mark.django_db(transaction=True)
def test_backfill_through_yfinance_parses_yahoos_recorded_chart(monkeypatch):
    """The real yfinance library parses Yahoo's recorded daily chart (no network): the one
    bar of QQQ on 2 January 2020, close 216.16, values a book of 50 shares bought before."""
    from tests.market.test_yfinance import make

    provider, session, _ = make()
    at = datetime(2020, 1, 3, 22, 0, tzinfo=UTC)
    freeze(monkeypatch, at)
    svc = MarketService(provider, DictCache(), chain_ttl=300, quote_ttl=5)
    with use_market_service(svc):
        user = UserFactory()
        pf = PortfolioFactory(owner=user)
        ledger.record_one(
            pf, user, symbol="QQQ", action="buy", quantity=D(50), price=D("200"),
            traded_on=date(2019, 12, 16),
        )  # fmt: skip
        assert history.fill(pf, "QQQ", 10, now=at) == 1
    (point,) = PortfolioSnapshot.objects.filter(portfolio=pf, symbol="QQQ")
    assert point.taken_at == history.close_instant(date(2020, 1, 2))
    assert point.spot == pytest.approx(216.16)
    assert point.value == pytest.approx(50 * 216.16) and point.cost == pytest.approx(50 * 200)
    assert session.data_requests("/v8/finance/chart/QQQ")
