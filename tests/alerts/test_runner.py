"""Evaluating a symbol's stored rules: fires once per crossing, stores state, survives takeover."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from alerts import runner
from alerts.models import AlertDelivery, AlertEvent, AlertRule
from tests.alerts.helpers import Book, make_rule
from tests.factories import PortfolioFactory, PositionFactory

pytestmark = pytest.mark.django_db


def tick(book: Book, **kw):
    return runner.evaluate_symbol("GLD", value=book, **kw)


def test_fires_once_per_crossing_and_rearms_after_the_band(fake_market):
    book = Book()
    rule = make_rule(level=210.0, reset_band=5.0, email="me@example.com")
    fired = []
    for spot in (200, 211, 215, 207, 211, 204, 212):
        book.spot = spot
        fired.append(len(tick(book).fired))
    assert fired == [0, 1, 0, 0, 0, 0, 1]
    events = list(AlertEvent.objects.order_by("crossing"))
    assert [(e.crossing, e.value) for e in events] == [(1, 211.0), (2, 212.0)]
    assert events[0].numbers["spot"] == 211.0 and events[0].numbers["hedge_ratio"] == 1.0
    assert AlertDelivery.objects.filter(channel="email").count() == 2
    rule.refresh_from_db()
    assert rule.state == AlertRule.State.FIRED and rule.crossing == 2
    assert rule.last_value == 212.0 and rule.last_error == ""


def test_all_portfolios_valued_once_per_tick(fake_market):
    book = Book()
    for _ in range(3):
        p = PortfolioFactory()
        make_rule(portfolio=p, level=100.0)
        make_rule(
            portfolio=p, kind="hedge_ratio", op="outside", level=0.5, upper=1.5, reset_band=0.1
        )
    result = tick(book)
    assert book.calls == 3 and result.rules == 6 and len(result.fired) == 3


def test_stale_market_never_fires_other_rules_but_says_so(fake_market):
    book = Book()
    book.stale, book.spot = True, 500.0
    spot_rule = make_rule(level=210.0)
    stale_rule = make_rule(kind="stale_minutes", op="above", level=10.0, reset_band=0)
    result = tick(book)
    assert [AlertEvent.objects.get(pk=pk).rule_id for pk in result.fired] == [stale_rule.pk]
    spot_rule.refresh_from_db()
    assert spot_rule.state == AlertRule.State.ARMED
    assert spot_rule.last_error == "cannot be evaluated: market data is stale"


def test_iv_rank_says_no_history(fake_market):
    rule = make_rule(kind="iv_rank", op="above", level=50.0, reset_band=0)
    assert tick(Book()).fired == []
    rule.refresh_from_db()
    assert rule.last_error == "cannot be evaluated: no IV history yet"


def test_no_market_data_is_stated(fake_market):
    fake_market.down = True
    rule = make_rule(level=0.0)
    assert tick(Book()).fired == []
    rule.refresh_from_db()
    assert rule.last_error == "cannot be evaluated: no market data for the symbol"


def test_takeover_mid_crossing_records_the_fire_once(fake_market):
    """Two evaluators read the same armed state (the old leader mid-tick, the new one)."""
    book = Book()
    make_rule(level=210.0, email="me@example.com")
    seen_by_old = list(AlertRule.objects.select_related("portfolio"))
    seen_by_new = list(AlertRule.objects.select_related("portfolio"))
    book.spot = 215.0
    assert len(tick(book, rules=seen_by_new).fired) == 1
    late = tick(book, rules=seen_by_old)
    assert late.fired == [] and late.skipped == 1
    assert AlertEvent.objects.count() == 1 and AlertDelivery.objects.count() == 1
    # The old leader's stale view must not re-arm it either: the state stays fired.
    book.spot = 100.0
    stale_view = list(AlertRule.objects.select_related("portfolio"))
    stale_view[0].version -= 1
    assert tick(book, rules=stale_view).skipped == 1
    assert AlertRule.objects.get().state == AlertRule.State.FIRED


def test_a_crash_before_commit_loses_nothing(fake_market, monkeypatch):
    book = Book()
    rule = make_rule(level=210.0, email="me@example.com")
    book.spot = 215.0

    def boom(*a, **kw):
        raise RuntimeError("process died mid-write")

    monkeypatch.setattr(AlertDelivery.objects, "bulk_create", boom)
    with pytest.raises(RuntimeError):
        tick(book)
    monkeypatch.undo()
    rule.refresh_from_db()
    assert rule.state == AlertRule.State.ARMED and AlertEvent.objects.count() == 0
    # The restarted evaluator fires it.
    assert len(runner.evaluate_symbol("GLD", value=book).fired) == 1
    assert AlertDelivery.objects.count() == 1


def test_status_written_at_most_once_a_minute(fake_market, django_assert_max_num_queries):
    book = Book()
    make_rule(level=1e6)
    now = timezone.now()
    tick(book, now=now)
    # Same reason, 10 s later: only the rule read, no write.
    with django_assert_max_num_queries(1):
        tick(book, now=now + timedelta(seconds=10))
    tick(book, now=now + timedelta(seconds=70))
    assert AlertRule.objects.get().last_evaluated_at == now + timedelta(seconds=70)


def test_metrics_from_the_real_valuation(fake_market):
    """The runner's default valuation: hedge ratio and floor gap of a real hedged book."""
    p = PortfolioFactory()
    PositionFactory(portfolio=p, quantity=1000)
    PositionFactory(
        portfolio=p,
        kind="option",
        quantity=5,
        right="P",
        strike=180,
        expiry="2026-06-18",
        cost_basis=3,
    )
    ratio = make_rule(portfolio=p, kind="hedge_ratio", op="below", level=0.6, reset_band=0)
    gap = make_rule(portfolio=p, kind="floor_gap_pct", op="below", level=5.0, reset_band=1)
    roll = make_rule(portfolio=p, kind="roll_days", op="below", level=30, reset_band=0)
    result = runner.evaluate_symbol("GLD")
    fired = {AlertEvent.objects.get(pk=pk).rule_id for pk in result.fired}
    assert fired == {ratio.pk}  # 500 of 1000 shares covered: 0.5 <= 0.6
    for r in (ratio, gap, roll):
        r.refresh_from_db()
    assert ratio.last_value == pytest.approx(0.5)
    # 5 puts cover half: the book's floor is reached at S = 0, so the gap is 100 %.
    assert gap.last_value == pytest.approx(100.0) and gap.state == "armed"
    # 6 April -> 18 June 2026 is 73 days.
    assert roll.last_value == 73
