"""The "option position expired, assigned or exercised" rule: fires from the ledger's expiry,
assignment and exercise trades, once per event, across restarts and takeovers."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal as D

import pytest
from django.test import Client

from alerts import runner
from alerts.models import AlertDelivery, AlertEvent, AlertRule
from portfolio import expiry, ledger
from tests.alerts.helpers import Book, make_rule
from tests.factories import PortfolioFactory

pytestmark = pytest.mark.django_db

EXPIRY = date(2026, 11, 20)
AFTER = datetime(2026, 11, 20, 21, 30, tzinfo=UTC)
NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # the ticks' clock: the Monday after


def close(value):
    return lambda symbol, day: value


def book(itm="settle"):
    pf = PortfolioFactory(itm_expiry=itm)

    def trade(qty, price, traded_on=date(2026, 9, 1), **instrument):
        ledger.record_one(
            pf,
            pf.owner,
            action="buy" if qty > 0 else "sell",
            quantity=D(str(qty)),
            price=D(str(price)),
            traded_on=traded_on,
            **instrument,
        )

    return pf, trade


def option(right, strike, expiry_=EXPIRY):
    return {
        "symbol": "GLD",
        "kind": "option",
        "expiry": expiry_,
        "strike": D(strike),
        "right": right,
    }


SHARES = {"symbol": "GLD", "kind": "underlying"}


def assign_put(pf, traded_on, expiry_=EXPIRY, **extra):
    """One short 180 put assigned by hand (a manual ledger entry, not the expiry run)."""
    ledger.record_one(
        pf,
        pf.owner,
        action="assignment",
        quantity=D(1),
        price=D(0),
        traded_on=traded_on,
        **extra,
        **option("P", 180, expiry_),
    )


def event_rule(pf, op="any", **kw):
    return make_rule(portfolio=pf, kind="option_event", op=op, level=0.0, reset_band=0.0, **kw)


def tick(book_=None, **kw):
    kw.setdefault("now", NOW)
    return runner.evaluate_symbol("GLD", value=book_ or Book(), **kw)


def test_fires_once_per_expiry_and_never_for_events_before_the_rule():
    pf, trade = book()
    trade(2, 1, **option("P", 150, date(2026, 10, 16)))
    expiry.process_expiries(datetime(2026, 10, 16, 21, 0, tzinfo=UTC), close(200.0))
    rule = event_rule(pf, email="me@example.com")  # created after that expiry: not notified
    trade(10, "3.50", **option("P", 180))
    assert tick().fired == []
    expiry.process_expiries(AFTER, close(190.0))  # worthless
    result = tick()
    assert len(result.fired) == 1
    event = AlertEvent.objects.get()
    assert event.kind == "option_event" and event.value == 10.0
    assert "GLD 2026-11-20 180P expired: 10 contract(s) on 2026-11-20" in event.message
    assert "expired worthless" in event.message
    assert event.numbers["strike"] == 180.0 and event.numbers["price"] == 0.0
    assert AlertDelivery.objects.filter(channel="email").count() == 1
    # Later ticks, and a restart that reads the rule afresh, do not repeat it.
    assert tick().fired == [] and tick(rules=list(AlertRule.objects.all())).fired == []
    rule.refresh_from_db()
    assert rule.crossing == 1 and rule.state == "armed" and rule.last_error == ""
    assert rule.last_trade_id == event.numbers["trade_id"]


def test_assignment_exercise_and_the_op_filter():
    """Deliver mode, close 210: the short 200 call is assigned, the long 180 put expires;
    a second portfolio's long 190 call is exercised."""
    pf, trade = book("deliver")
    trade(1000, 180, **SHARES)
    trade(-2, 3, **option("C", 200))
    trade(10, "3.50", **option("P", 180))
    other, trade2 = book("deliver")
    trade2(1, 5, **option("C", 190))
    rules = {op: event_rule(pf, op=op) for op in ("any", "expired", "assigned", "exercised")}
    exercised_other = event_rule(other, op="exercised")
    expiry.process_expiries(AFTER, close(210.0))
    book_ = Book()
    tick(book_)
    assert book_.calls == 0  # event rules value no portfolio
    fired = {
        r: list(AlertEvent.objects.filter(rule=r).values_list("message", flat=True))
        for r in (*rules.values(), exercised_other)
    }
    assert len(fired[rules["any"]]) == 2  # the assignment and the expiry, not the share trade
    assert [m.split(":")[0] for m in fired[rules["assigned"]]] == ["GLD 2026-11-20 200C assigned"]
    assert [m.split(":")[0] for m in fired[rules["expired"]]] == ["GLD 2026-11-20 180P expired"]
    assert fired[rules["exercised"]] == []
    assert [m.split(":")[0] for m in fired[exercised_other]] == ["GLD 2026-11-20 190C exercised"]
    assert tick().fired == []


def test_takeover_with_the_same_reading_notifies_once():
    pf, trade = book()
    event_rule(pf, email="me@example.com")
    trade(1, 2, **option("P", 180))
    expiry.process_expiries(AFTER, close(170.0))  # settled at intrinsic
    old_leader = list(AlertRule.objects.select_related("portfolio"))
    new_leader = list(AlertRule.objects.select_related("portfolio"))
    assert len(tick(rules=new_leader).fired) == 1
    late = tick(rules=old_leader)
    assert late.fired == [] and late.skipped == 1
    assert AlertEvent.objects.count() == 1 and AlertDelivery.objects.count() == 1
    assert "settled at intrinsic" in AlertEvent.objects.get().message


def test_a_crash_before_commit_loses_nothing(monkeypatch):
    pf, trade = book()
    rule = event_rule(pf, email="me@example.com")
    trade(1, 2, **option("P", 180))
    expiry.process_expiries(AFTER, close(170.0))

    def boom(*a, **kw):
        raise RuntimeError("process died mid-write")

    monkeypatch.setattr(AlertDelivery.objects, "bulk_create", boom)
    with pytest.raises(RuntimeError):
        tick()
    monkeypatch.undo()
    rule.refresh_from_db()
    assert rule.crossing == 0 and AlertEvent.objects.count() == 0
    assert len(tick().fired) == 1 and AlertDelivery.objects.count() == 1


def test_manual_assignment_trades_count_too():
    pf, trade = book()
    rule = event_rule(pf, op="assigned")
    trade(-1, 3, **option("P", 180))
    assign_put(pf, date(2026, 11, 10), note="assigned early")
    assert len(tick().fired) == 1
    assert AlertEvent.objects.get(rule=rule).message.endswith("— assigned early")


def test_api_and_form_accept_it_without_a_level():
    pf = PortfolioFactory()
    client = Client()
    assert pf.owner is not None
    client.force_login(pf.owner)
    r = client.post(
        "/api/alerts",
        {"portfolio": pf.pk, "kind": "option_event", "op": "assigned"},
        content_type="application/json",
    )
    assert r.status_code == 201, r.content
    assert r.json()["description"] == "GLD option position assigned"
    assert r.json()["level"] == 0.0
    bad = client.post(
        "/api/alerts",
        {"portfolio": pf.pk, "kind": "option_event", "op": "above"},
        content_type="application/json",
    )
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "op"
    no_level = client.post(
        "/api/alerts",
        {"portfolio": pf.pk, "kind": "spot", "op": "above"},
        content_type="application/json",
    )
    assert no_level.status_code == 400 and no_level.json()["error"]["field"] == "level"
    page = client.post(
        f"/portfolios/{pf.pk}/alerts/",
        {"kind": "option_event", "op": "any", "notify_in_app": "on", "reset_band": "0"},
    )
    assert page.status_code == 302, page.content.decode()[:2000]
    assert AlertRule.objects.filter(portfolio=pf, op="any").exists()
    page = client.post(
        f"/portfolios/{pf.pk}/alerts/", {"kind": "spot", "op": "above", "reset_band": "0"}
    )
    assert page.status_code == 400 and "This kind needs a level." in page.content.decode()


def test_an_imported_old_assignment_is_history_not_news():
    pf, trade = book()
    rule = event_rule(pf)
    trade(-1, 3, traded_on=date(2024, 12, 2), **option("P", 180, date(2025, 1, 17)))
    assign_put(pf, date(2025, 1, 17), date(2025, 1, 17))
    assert tick().fired == []
    rule.refresh_from_db()
    assert rule.crossing == 0
