"""Two evaluators running the same tick at the same moment (a publisher takeover mid-tick)
record each crossing once (PostgreSQL: SQLite serialises whole transactions, so this is the
PostgreSQL pass's test; the sequential takeover is in test_runner.py)."""

from __future__ import annotations

from functools import partial

import pytest

from alerts import runner
from alerts.models import AlertDelivery, AlertEvent, AlertRule
from tests.alerts.helpers import Book, make_rule
from tests.factories import PortfolioFactory
from tests.support.postgres import race

pytestmark = pytest.mark.usefixtures("concurrent_db")


def test_concurrent_evaluators_fire_each_crossing_once(fake_market):
    for _ in range(10):
        p = PortfolioFactory()
        make_rule(portfolio=p, level=210.0, reset_band=5.0, email="me@example.com")
        make_rule(portfolio=p, kind="hedge_ratio", op="below", level=1.5, reset_band=0.1)
    book = Book()
    for spot in (215.0, 100.0, 215.0, 100.0, 215.0):
        book.spot = spot
        # Both read the same state before either writes: the old and the new leader.
        views = [list(AlertRule.objects.select_related("portfolio")) for _ in range(2)]
        race([partial(runner.evaluate_symbol, "GLD", value=book, rules=v) for v in views])
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
    now = datetime(2026, 12, 7, tzinfo=UTC)
    for e in expiries:
        expiry.process_expiries(
            datetime(e.year, e.month, e.day, 21, 30, tzinfo=UTC), lambda s, d: 170.0
        )
        views = [list(AlertRule.objects.select_related("portfolio")) for _ in range(2)]
        evaluate = partial(runner.evaluate_symbol, "GLD", now=now)
        race([partial(evaluate, value=Book(), rules=v) for v in views])
    assert sorted(AlertRule.objects.values_list("crossing", flat=True)) == [3] * 5
    assert AlertEvent.objects.count() == 5 * 3
    assert AlertDelivery.objects.count() == 5 * 3
