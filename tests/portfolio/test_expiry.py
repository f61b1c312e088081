"""Expired options come off the book through the ledger, once, at the expiry-day close."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, date, datetime
from decimal import Decimal as D

import pytest
from django.core.management import call_command

from portfolio import expiry, ledger
from portfolio.models import Position, Trade
from portfolio.publisher import Publisher
from tests.factories import PortfolioFactory

pytestmark = pytest.mark.django_db

EXPIRY = date(2026, 11, 20)  # a Friday
AFTER = datetime(2026, 11, 20, 21, 30, tzinfo=UTC)  # 16:30 New York
BEFORE = datetime(2026, 11, 20, 20, 30, tzinfo=UTC)  # 15:30 New York


def closes(**by_symbol):
    def close(symbol, day):
        assert day == EXPIRY
        return by_symbol.get(symbol)

    return close


def book(itm="settle"):
    pf = PortfolioFactory(itm_expiry=itm)
    user = pf.owner

    def buy(qty, price, **instrument):
        qty = D(str(qty))
        ledger.record_one(
            pf,
            user,
            action="buy" if qty > 0 else "sell",
            quantity=qty,
            price=D(str(price)),
            traded_on=date(2026, 9, 1),
            **instrument,
        )

    return pf, buy


def option(right, strike):
    return {
        "symbol": "GLD",
        "kind": "option",
        "expiry": EXPIRY,
        "strike": D(strike),
        "right": right,
    }


SHARES = {"symbol": "GLD", "kind": "underlying"}


def test_cut_off_is_16_00_new_york():
    assert expiry.expired_by(AFTER) == EXPIRY
    assert expiry.expired_by(BEFORE) == date(2026, 11, 19)


def test_settle_mode_closes_at_intrinsic_and_worthless_at_zero():
    """Long 10 puts 180 bought @ 3.50, close 170: intrinsic 10 → +(10 − 3.5) × 1000 = 6,500.
    Short 2 calls 200 sold @ 3, close 170: worthless → +600."""
    pf, buy = book()
    buy(10, "3.50", **option("P", 180))
    buy(-2, 3, **option("C", 200))
    outcomes = expiry.process_expiries(AFTER, closes(GLD=170.0))
    assert sorted(o.result for o in outcomes) == ["expired", "settled"]
    assert not Position.objects.open().filter(portfolio=pf).exists()
    put_close = Trade.objects.get(portfolio=pf, right="P", action="expiry")
    assert put_close.price == 10 and put_close.traded_on == EXPIRY and put_close.created_by is None
    assert ledger.realised_pnl(pf) == D(7100)


def test_deliver_mode_assigns_short_calls_and_exercises_long_puts():
    """1,000 shares @ 180; short 2 calls 200 @ 3; long 10 puts 180 @ 3.50.

    Close 210: the calls are assigned (option at 0: +600; 200 shares sold at 200 against the
    FIFO lot at 180: +4,000); the puts expire worthless (−3,500). 800 shares remain.
    """
    pf, buy = book("deliver")
    buy(1000, 180, **SHARES)
    buy(-2, 3, **option("C", 200))
    buy(10, "3.50", **option("P", 180))
    outcomes = expiry.process_expiries(AFTER, closes(GLD=210.0))
    assert sorted(o.result for o in outcomes) == ["assigned", "expired"]
    shares = Position.objects.open().get(portfolio=pf, kind="underlying")
    assert shares.quantity == 800 and shares.cost_basis == 180
    assert ledger.realised_pnl(pf) == D(600 + 4000 - 3500)
    sale = Trade.objects.get(portfolio=pf, kind="underlying", source="expiry")
    assert (sale.quantity, sale.price) == (-200, 200)


def test_deliver_mode_long_put_exercise_sells_shares_at_the_strike():
    """Close 150: 10 puts 180 exercised → 1,000 shares sold at 180 (bought at 175: +5,000);
    the puts go at 0 (−3,500)."""
    pf, buy = book("deliver")
    buy(1000, 175, **SHARES)
    buy(10, "3.50", **option("P", 180))
    [outcome] = expiry.process_expiries(AFTER, closes(GLD=150.0))
    assert outcome.result == "exercised" and outcome.trades == 2
    assert not Position.objects.open().filter(portfolio=pf).exists()
    assert ledger.realised_pnl(pf) == D(5000 - 3500)


def test_twice_writes_once_and_before_the_cut_off_nothing():
    pf, buy = book()
    buy(1, 2, **option("P", 180))
    assert expiry.process_expiries(BEFORE, closes(GLD=170.0)) == []
    assert Position.objects.open().filter(portfolio=pf).exists()
    assert len(expiry.process_expiries(AFTER, closes(GLD=170.0))) == 1
    count = Trade.objects.count()
    assert expiry.process_expiries(AFTER, closes(GLD=170.0)) == []
    assert Trade.objects.count() == count


def test_without_a_close_nothing_is_guessed():
    pf, buy = book()
    buy(1, 2, **option("P", 180))
    [outcome] = expiry.process_expiries(AFTER, closes())
    assert outcome.result == "no close" and outcome.trades == 0
    assert Position.objects.open().filter(portfolio=pf).exists()


def test_history_close_reads_the_expiry_day(monkeypatch):
    import numpy as np

    class History:
        dates = np.array(["2026-11-19", "2026-11-20"], dtype="datetime64[D]")
        close = np.array([171.0, 172.5])

    class Service:
        def history(self, symbol, days):
            return History()

    monkeypatch.setattr("marketdata.service.get_market_service", lambda: Service())
    assert expiry.history_close("GLD", EXPIRY) == 172.5
    assert expiry.history_close("GLD", date(2026, 11, 21)) is None


def test_command(monkeypatch):
    pf, buy = book()
    buy(1, 2, **option("P", 180))
    monkeypatch.setattr(expiry, "history_close", lambda s, d: 175.0)
    monkeypatch.setattr(expiry, "expired_by", lambda now: EXPIRY)
    monkeypatch.setattr(expiry.process_expiries, "__defaults__", (None, lambda s, d: 175.0))
    out = io.StringIO()
    call_command("process_expiries", stdout=out)
    assert "settled at close 175.00" in out.getvalue()
    assert ledger.realised_pnl(pf) == D(300)  # (5 − 2) × 100


@pytest.mark.django_db(transaction=True)
def test_the_publisher_processes_expiries_once_a_day(monkeypatch):
    pf, buy = book()
    buy(1, 2, **option("P", 180))
    monkeypatch.setattr(expiry, "history_close", closes(GLD=170.0))
    publisher = Publisher(process_expiries=True)
    assert asyncio.run(publisher.daily_expiries(AFTER)) is True
    assert not Position.objects.open().filter(portfolio=pf).exists()
    assert asyncio.run(publisher.daily_expiries(AFTER)) is False  # same day: not again
