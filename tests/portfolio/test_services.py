from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime
from decimal import Decimal

import numpy as np
import pytest
from django.core.cache import cache
from django.core.management import call_command

from marketdata import ivrecord
from marketdata.models import IVObservation
from portfolio import access, ledger, services
from portfolio.management.commands.seed_demo import DEMO_NAME
from portfolio.models import Lot, Portfolio, PortfolioSnapshot
from portfolio.models import instrument_lookup as trade_lookup
from tests.factories import (
    DemoPortfolioFactory,
    OptionPositionFactory,
    PortfolioFactory,
    PositionFactory,
)
from tests.portfolio.fakes import SPOT
from tests.support.clock import freeze
from tests.support.market import synthetic_service, use_market_service

pytestmark = pytest.mark.django_db


def test_live_snapshot_is_json_and_values_the_demo(fake_market):
    demo = DemoPortfolioFactory()
    PositionFactory(portfolio=demo)
    OptionPositionFactory(portfolio=demo, expiry="2026-08-21", strike=180)
    PositionFactory(portfolio=PortfolioFactory(), quantity=5)  # someone's private holding
    snap = services.live_snapshot("GLD")
    assert {
        "symbol",
        "spot",
        "value",
        "pnl",
        "day_change",
        "greeks",
        "hedge",
        "stale",
        "ts",
    } <= set(snap)
    json.dumps(snap, allow_nan=False)
    assert snap["portfolio"]["id"] == demo.pk
    assert snap["spot"] == SPOT
    assert snap["hedge"]["floor_value"] == pytest.approx(180_000)
    assert snap["greeks"]["delta_shares"] < 1000
    # The value history is recorded once a day (portfolio.history), not per tick.
    assert not PortfolioSnapshot.objects.filter(portfolio=demo).exists()


def test_live_snapshot_is_cheap_on_repeat(fake_market, django_assert_max_num_queries):
    demo = DemoPortfolioFactory()
    PositionFactory(portfolio=demo)
    services.live_snapshot("GLD")
    calls = dict(fake_market.calls)
    with django_assert_max_num_queries(0):
        services.live_snapshot("GLD")
    assert fake_market.calls == {"quote": calls["quote"] + 1, "chain": calls["chain"] + 1}


def test_live_snapshot_without_any_portfolio(fake_market):
    snap = services.live_snapshot("GLD")
    assert snap["portfolio"] is None and snap["value"] == 0


def test_memo_sees_position_changes(fake_market):
    pf = PortfolioFactory()
    pos = PositionFactory(portfolio=pf)

    def value() -> float:
        fresh = Portfolio.objects.get(pk=pf.pk)  # as each request loads it
        return services.value_portfolio(fresh, "GLD")["totals"]["value"]

    assert value() == 200_000
    pos.quantity = Decimal(500)
    pos.save()
    assert value() == 100_000
    OptionPositionFactory(portfolio=pf, expiry="2026-08-21", strike=180)
    assert value() > 100_000
    pf.positions.filter(kind="option").get().delete()
    assert value() == 100_000
    pos.delete()
    assert value() == 0


def test_seed_demo_is_idempotent(fake_market):
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    call_command("seed_demo", stdout=out)
    demo = Portfolio.objects.get(name=DEMO_NAME)
    assert demo.is_demo and demo.owner is None
    positions = list(demo.positions.order_by("kind"))
    assert [p.kind for p in positions] == ["option", "underlying"]
    put, shares = positions
    assert put.strike is not None and put.expiry is not None
    assert shares.quantity == 1000 and put.quantity == 10 and put.right == "P"
    chain = fake_market.chain("GLD")
    listed = chain.strike[(chain.expiry == np.datetime64(put.expiry)) & ~chain.is_call]
    assert float(put.strike) in listed.tolist()
    # the listed strike closest to 10 % below spot
    assert abs(float(put.strike) - SPOT * 0.9) == min(abs(listed - SPOT * 0.9))
    assert 60 <= (put.expiry - put.opened_on).days <= 210
    assert "already exists" in out.getvalue()
    call_command("seed_demo", "--reset", stdout=out)
    assert Portfolio.objects.filter(name=DEMO_NAME).count() == 1
    assert Portfolio.objects.get(name=DEMO_NAME).positions.count() == 2


def test_seed_demo_keeps_its_book_in_the_ledger(fake_market):
    """The demo's positions follow trades and lots like a user's book, also after --reset."""
    for argv in ([], ["--reset"]):
        call_command("seed_demo", *argv, stdout=io.StringIO())
        demo = Portfolio.objects.get(name=DEMO_NAME)
        trades = list(demo.trades.order_by("traded_on"))
        assert [(t.action, t.source, t.kind) for t in trades] == [
            ("buy", "demo", "underlying"),
            ("buy", "demo", "option"),
        ]
        for trade in trades:
            position = demo.open_positions().get(**trade_lookup(trade))
            assert position.quantity == trade.quantity
            assert position.cost_basis == trade.price
            assert position.opened_on == trade.traded_on
        assert Lot.objects.filter(portfolio=demo).count() == 2
        assert ledger.realised_pnl(demo) == 0


def test_resolve_portfolio_prefers_own(fake_market):
    demo = DemoPortfolioFactory()
    mine = PortfolioFactory()
    assert access.resolve_portfolio(mine.owner) == mine
    from django.contrib.auth.models import AnonymousUser

    assert access.resolve_portfolio(AnonymousUser()) == demo
    with pytest.raises(access.PortfolioNotFound):
        access.resolve_portfolio(AnonymousUser(), mine.pk)


def test_resolution_memo_follows_writes(fake_market):
    from django.contrib.auth.models import AnonymousUser

    anon = AnonymousUser()
    assert access.resolve_portfolio(anon) is None
    demo = DemoPortfolioFactory()
    assert access.resolve_portfolio(anon) == demo
    before = demo.updated_at
    PositionFactory(portfolio=demo)
    after = access.resolve_portfolio(anon)
    assert after is not None and after.updated_at > before
    demo.delete()
    assert access.resolve_portfolio(anon) is None


def test_kpi_partial_renders_a_live_snapshot(fake_market):
    """The publisher pushes this same partial over the WebSocket."""
    import re

    from django.template.loader import render_to_string

    demo = DemoPortfolioFactory()
    PositionFactory(portfolio=demo)
    OptionPositionFactory(portfolio=demo, expiry="2026-08-21", strike=180)
    snap = services.live_snapshot("GLD")
    html = render_to_string("portfolio/_kpis.html", {"snap": snap, "oob": True})
    assert html.startswith('<div class="grid kpis" id="kpis" hx-swap-oob="true"')
    values = dict(re.findall(r'id="kpi-([a-z-]+)" data-value="([^"]*)"', html))
    assert float(values["value"]) == snap["value"]
    assert float(values["floor"]) == snap["hedge"]["floor_value"] == 180_000
    assert float(values["delta"]) == snap["greeks"]["delta_shares"]
    assert set(values) == {"value", "day-pnl", "pnl", "floor", "hedge-cost", "delta"}


@pytest.fixture
def synthetic_market(monkeypatch):
    """The embedded default's synthetic market, at a fixed after-close time."""
    now = datetime(2026, 3, 4, 21, 5, tzinfo=UTC)
    cache.clear()
    freeze(monkeypatch, now)
    with use_market_service(synthetic_service(now, vol_regime=True)):
        yield
    cache.clear()


def test_seed_demo_backfills_the_iv_history_once_on_synthetic_data(synthetic_market):
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    assert Portfolio.objects.filter(name=DEMO_NAME).exists()
    dates = list(IVObservation.objects.filter(symbol="GLD").values_list("date", flat=True))
    # 400 calendar days up to the last close: every trading day, enough for an IV rank
    assert len(dates) > 250 and max(dates) == date(2026, 3, 4)
    assert {o.source for o in IVObservation.objects.all()} == {"synthetic"}
    assert ivrecord.rank_for("GLD", date(2026, 3, 4)).rank is not None
    call_command("seed_demo", stdout=out)
    assert IVObservation.objects.count() == len(dates)
    assert out.getvalue().count("day(s) added") == 1


@pytest.mark.parametrize(
    ("market", "providers"),
    [
        ("synthetic_market", "yfinance,synthetic"),  # synthetic only as a live one's failover
        ("fake_market", "synthetic"),  # data that is not the synthetic provider's
    ],
)
def test_seed_demo_makes_up_no_iv_history_for_other_markets(request, settings, market, providers):
    request.getfixturevalue(market)
    settings.MARKET_DATA_PROVIDER = providers
    call_command("seed_demo", stdout=io.StringIO())
    assert Portfolio.objects.filter(name=DEMO_NAME).exists()
    assert not IVObservation.objects.exists()


def test_seed_demo_without_market_data(fake_market):
    from django.core.management import CommandError

    fake_market.down = True
    err = io.StringIO()
    call_command("seed_demo", stdout=io.StringIO(), stderr=err)
    assert "demo not seeded" in err.getvalue()
    assert not Portfolio.objects.filter(name=DEMO_NAME).exists()
    with pytest.raises(CommandError):
        call_command("seed_demo", "--strict", stdout=io.StringIO(), stderr=io.StringIO())
