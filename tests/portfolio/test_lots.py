"""Lots and realised P&L against cases worked out by hand (the arithmetic is in each docstring)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from portfolio.lots import AVERAGE, FIFO, LotError, TradeIn, build


def t(n, qty, price, fees="0", action="buy", mult=1, day=None):
    return TradeIn(
        n,
        date(2026, 1, day or n),
        action,
        D(str(qty)),
        D(str(price)),
        D(str(fees)),
        mult,
    )


def close_to(x, expected):
    return abs(x - D(str(expected))) < D("0.000001")


def test_fifo_partial_close_of_two_lots_with_fees():
    """Buy 100 @ 10 (fee 1), buy 100 @ 12 (fee 1), sell 150 @ 15 (fee 3).

    FIFO: the sale closes all of lot 1 and 50 of lot 2.
    lot 1: proceeds 100/150 of (2250 − 3) = 1498; cost 1001 → +497
    lot 2: proceeds 50/150 of 2247 = 749; cost half of 1201 = 600.5 → +148.5
    realised 645.5; left 50 shares costing 600.5 (12.01 each).
    """
    book = build([t(1, 100, 10, 1), t(2, 100, 12, 1), t(3, -150, 15, 3, "sell")], FIFO)
    assert [c.lot_key for c in book.closures] == [0, 1]
    assert close_to(book.closures[0].realised, "497")
    assert close_to(book.closures[1].realised, "148.5")
    assert close_to(book.realised, "645.5")
    assert book.net_quantity == 50
    assert close_to(book.open_cost, "600.5")
    assert book.open_lots[0].opened_on == date(2026, 1, 2)


def test_average_cost_realises_against_the_pool():
    """Same trades, average cost: pool of 200 costing 2202 (11.01 each).

    Selling 150 @ 15 with fee 3: proceeds 2247, cost 150 × 11.01 = 1651.5 → +595.5;
    left 50 shares costing 550.5.
    """
    book = build([t(1, 100, 10, 1), t(2, 100, 12, 1), t(3, -150, 15, 3, "sell")], AVERAGE)
    assert len(book.lots) == 1
    assert close_to(book.realised, "595.5")
    assert close_to(book.open_cost, "550.5")
    assert book.net_quantity == 50


def test_short_option_closed_in_two_parts_times_100():
    """Sell 3 calls @ 2.00 (fee 1.95), buy back 1 @ 0.50 (fee 0.65), then 2 @ 3.10 (fee 1.30).

    Lot cost: −600 + 1.95 = −598.05 (premium received net of fees).
    1st close: cash −50.65; lot third −199.35 → +148.70
    2nd close: cash −620 − 1.30 = −621.30; lot rest −398.70 → −222.60
    realised −73.90 = (2.00×3 − 0.50 − 3.10×2) × 100 − 3.90 fees.
    """
    trades = [
        t(1, -3, "2.00", "1.95", "sell", 100),
        t(2, 1, "0.50", "0.65", "close", 100),
        t(3, 2, "3.10", "1.30", "close", 100),
    ]
    book = build(trades, FIFO)
    assert close_to(book.closures[0].realised, "148.70")
    assert close_to(book.closures[1].realised, "-222.60")
    assert close_to(book.realised, "-73.90")
    assert book.net_quantity == 0 and book.open_cost == 0


def test_selling_through_zero_opens_a_short_with_the_remaining_fees():
    """Hold 100 @ 10; sell 150 @ 11 with fee 3: 100 close (+100 − 2 = +98), 50 open short
    whose cost is −550 + 1 = −549."""
    book = build([t(1, 100, 10), t(2, -150, 11, 3, "sell")], FIFO)
    assert close_to(book.realised, "98")
    assert book.net_quantity == -50
    assert close_to(book.open_cost, "-549")


def test_reducing_actions_may_not_cross_zero():
    with pytest.raises(LotError) as err:
        build([t(1, 100, 10), t(2, -150, 11, 0, "close")], FIFO)
    assert err.value.trade_id == 2
    with pytest.raises(LotError):
        build([t(1, -1, 2, 0, "sell", 100), t(2, -1, 0, 0, "expiry", 100)], FIFO)


def test_expiry_worthless_keeps_the_premium():
    """A long put bought @ 1.25 (fee 0.65) expiring worthless: −125.65; a short put sold @ 1.25
    expiring worthless: +124.35."""
    long_put = build([t(1, 1, "1.25", "0.65", "buy", 100), t(2, -1, 0, 0, "expiry", 100)])
    short_put = build([t(1, -1, "1.25", "0.65", "sell", 100), t(2, 1, 0, 0, "expiry", 100)])
    assert close_to(long_put.realised, "-125.65")
    assert close_to(short_put.realised, "124.35")


def test_fifo_and_average_agree_when_everything_is_closed():
    """The order of matching moves P&L between closes, never the total once flat."""
    trades = [t(1, 10, 5), t(2, 30, 7, 2), t(3, -25, 9, 1, "sell"), t(4, -15, 4, 1, "sell")]
    fifo, avg = build(trades, FIFO), build(trades, AVERAGE)
    total_cash = sum(x.cash for x in trades)
    assert close_to(fifo.realised, total_cash) and close_to(avg.realised, total_cash)
    assert fifo.closures[0].realised != avg.closures[0].realised


def test_unknown_method_is_refused():
    with pytest.raises(ValueError):
        build([], "lifo")
