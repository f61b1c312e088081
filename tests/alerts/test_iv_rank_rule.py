"""The IV-rank rule evaluated from the stored IV history; without a usable history it says why
and never fires."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache

from alerts import runner
from alerts.models import AlertEvent, AlertRule
from market.calendar import market_date
from marketdata import ivrecord
from marketdata.models import IVObservation
from tests.alerts.helpers import Book, make_rule

pytestmark = pytest.mark.django_db

BASE = [0.20, 0.10, 0.30, 0.25, 0.15] * 4  # min 0.10, max 0.30


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def store(values, end_days_ago=0):
    end = market_date() - timedelta(days=end_days_ago)
    ivrecord._store(
        [
            IVObservation(
                symbol="GLD",
                date=end - timedelta(days=len(values) - 1 - i),
                iv30=v,
                method="t",
                source="synthetic",
            )
            for i, v in enumerate(values)
        ]
    )


def set_today(value):
    IVObservation.objects.filter(symbol="GLD", date=market_date()).update(iv30=value)
    ivrecord.forget("GLD")


def tick(book=None):
    return runner.evaluate_symbol("GLD", value=book or Book())


def test_fires_on_the_stored_rank_and_rearms_after_the_band(fake_market):
    store(BASE + [0.22])  # rank (0.22 - 0.10) / 0.20 = 60
    rule = make_rule(kind="iv_rank", op="above", level=80.0, reset_band=10.0, email="me@x.org")
    assert tick().fired == []
    rule.refresh_from_db()
    assert rule.last_value == pytest.approx(60.0) and rule.last_error == ""
    set_today(0.27)  # rank 85
    assert len(tick().fired) == 1
    event = AlertEvent.objects.get()
    assert event.value == pytest.approx(85.0) and event.numbers["iv_rank"] == pytest.approx(85.0)
    set_today(0.25)  # 75: inside the band, stays fired
    assert tick().fired == [] and AlertRule.objects.get().state == "fired"
    set_today(0.22)  # 60 < 80 - 10: re-arms
    tick()
    assert AlertRule.objects.get().state == "armed"


def test_below_a_level(fake_market):
    store(BASE + [0.11])  # rank 5
    make_rule(kind="iv_rank", op="below", level=10.0, reset_band=0.0)
    assert len(tick().fired) == 1


@pytest.mark.parametrize(
    ("values", "ago", "reason"),
    [
        ([], 0, "cannot be evaluated: no IV history yet"),
        ([0.2, 0.3, 0.1], 0, "cannot be evaluated: not enough IV history"),
        (BASE + [0.29], 6, "cannot be evaluated: IV history is out of date"),
        ([0.2] * 30, 0, "cannot be evaluated: IV30 has not moved in the year"),
    ],
)
def test_cannot_be_evaluated_never_fires(fake_market, values, ago, reason):
    if values:
        store(values, ago)
    rule = make_rule(kind="iv_rank", op="above", level=0.0, reset_band=0.0)
    below = make_rule(kind="iv_rank", op="below", level=100.0, reset_band=0.0)
    assert tick().fired == []  # either condition would hold for any rank
    for r in (rule, below):
        r.refresh_from_db()
        assert r.state == "armed" and r.last_error.startswith(reason)


def test_a_stale_quote_does_not_block_the_stored_rank(fake_market):
    store(BASE + [0.29])  # rank 95
    book = Book()
    book.stale = True
    make_rule(kind="iv_rank", op="above", level=90.0, reset_band=0.0)
    spot = make_rule(level=0.0)
    fired = tick(book).fired
    assert [AlertEvent.objects.get(pk=pk).kind for pk in fired] == ["iv_rank"]
    spot.refresh_from_db()
    assert spot.last_error == "cannot be evaluated: market data is stale"


def test_rank_is_read_once_per_symbol_per_tick(fake_market, django_assert_max_num_queries):
    store(BASE + [0.22])
    for _ in range(5):
        make_rule(kind="iv_rank", op="above", level=99.0, reset_band=0.0)
    tick()  # warms the cache
    with django_assert_max_num_queries(2):  # the rules, and nothing per rule
        tick()
