"""Two evaluators running the same tick at the same moment (a publisher takeover mid-tick)
record each crossing once (PostgreSQL: SQLite serialises whole transactions, so this is the
PostgreSQL pass's test; the sequential takeover is in test_runner.py)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from alerts import runner
from alerts.models import AlertDelivery, AlertEvent, AlertRule
from tests.alerts.helpers import Book, make_rule
from tests.factories import PortfolioFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_concurrent_evaluators_fire_each_crossing_once(fake_market):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent transactions: run in the PostgreSQL pass (DATABASE_URL)")
    for _ in range(10):
        p = PortfolioFactory()
        make_rule(portfolio=p, level=210.0, reset_band=5.0, email="me@example.com")
        make_rule(portfolio=p, kind="hedge_ratio", op="below", level=1.5, reset_band=0.1)
    book = Book()
    for spot in (215.0, 100.0, 215.0, 100.0, 215.0):
        book.spot = spot
        # Both read the same state before either writes: the old and the new leader.
        views = [list(AlertRule.objects.select_related("portfolio")) for _ in range(2)]
        start = threading.Barrier(2)
        errors: list[BaseException] = []

        def evaluate(
            rules: list[AlertRule],
            start: threading.Barrier = start,
            errors: list[BaseException] = errors,
        ) -> None:
            try:
                start.wait()
                runner.evaluate_symbol("GLD", value=book, rules=rules)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=evaluate, args=(v,)) for v in views]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert not errors, errors
    spot_rules = AlertRule.objects.filter(kind="spot")
    assert sorted(spot_rules.values_list("crossing", flat=True)) == [3] * 10
    # The hedge-ratio rules fired on the first tick and never re-armed (ratio stays 1.0).
    assert set(AlertRule.objects.filter(kind="hedge_ratio").values_list("crossing", flat=True)) == {
        1
    }
    assert AlertEvent.objects.count() == 10 * 3 + 10
    assert AlertDelivery.objects.count() == 10 * 3


def test_concurrent_evaluators_notify_each_option_event_once(fake_market):
    """Two evaluators with the same reading of option-event rules, at the same moment, while
    expiries land between ticks: each expiry trade notifies once per rule."""
    if connection.vendor != "postgresql":
        pytest.skip("concurrent transactions: run in the PostgreSQL pass (DATABASE_URL)")
    from datetime import UTC, date, datetime
    from decimal import Decimal

    from portfolio import expiry, ledger

    expiries = [date(2026, 11, 20), date(2026, 11, 27), date(2026, 12, 4)]
    portfolios = []
    for _ in range(5):
        p = PortfolioFactory()
        for e in expiries:
            ledger.record_one(
                p,
                p.owner,
                action="buy",
                quantity=Decimal(1),
                price=Decimal(2),
                traded_on=date(2026, 9, 1),
                symbol="GLD",
                kind="option",
                expiry=e,
                strike=Decimal(180),
                right="P",
            )
        make_rule(
            portfolio=p,
            kind="option_event",
            op="any",
            level=0.0,
            reset_band=0.0,
            email="me@example.com",
        )
        portfolios.append(p)
    for e in expiries:
        expiry.process_expiries(
            datetime(e.year, e.month, e.day, 21, 30, tzinfo=UTC), lambda s, d: 170.0
        )
        views = [list(AlertRule.objects.select_related("portfolio")) for _ in range(2)]
        start = threading.Barrier(2)
        errors: list[BaseException] = []

        def evaluate(
            rules: list[AlertRule],
            start: threading.Barrier = start,
            errors: list[BaseException] = errors,
        ) -> None:
            try:
                start.wait()
                runner.evaluate_symbol(
                    "GLD", value=Book(), rules=rules, now=datetime(2026, 12, 7, tzinfo=UTC)
                )
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=evaluate, args=(v,)) for v in views]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert not errors, errors
    assert sorted(AlertRule.objects.values_list("crossing", flat=True)) == [3] * 5
    assert AlertEvent.objects.count() == 5 * 3
    assert AlertDelivery.objects.count() == 5 * 3
