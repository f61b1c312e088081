"""Lots and realised P&L from one instrument's trades: plain data in, plain data out (no ORM).

Cash convention: a trade of signed quantity ``q`` at ``price`` with ``fees`` moves
``-(q × price × multiplier) - fees`` of cash. A lot remembers the signed quantity it still holds
and the signed cash it cost (its opening fees included: a long lot's cost is what was paid, a
short lot's is minus the premium received net of fees). A closing trade realises, for each part
of a lot it closes::

    realised = (its own cash, pro rata to the part) − (the lot's cost, pro rata to the part)

which is ``(sell − buy) × quantity × multiplier`` less both sides' fees, for longs and shorts
alike. Methods:

* ``fifo`` — a closing trade closes the oldest lots first;
* ``average`` — all open lots of the instrument are pooled into one at their average cost, so
  each close realises against the average.

A trade larger than what is open closes everything and opens the remainder on the other side
(selling 150 shares while 100 are held leaves a short of 50), unless its action says it may
only reduce a position (close, expiry, assignment, exercise): that is a :class:`LotError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

FIFO = "fifo"
AVERAGE = "average"
REDUCING_ACTIONS = frozenset({"close", "expiry", "assignment", "exercise"})
ZERO = Decimal(0)


class LotError(ValueError):
    """A trade that the ledger cannot apply (e.g. closes more than is held)."""

    def __init__(self, trade_id: int | None, message: str) -> None:
        super().__init__(message)
        self.trade_id = trade_id


@dataclass(frozen=True)
class TradeIn:
    id: int | None
    traded_on: date
    action: str
    quantity: Decimal
    price: Decimal
    fees: Decimal
    multiplier: int

    @property
    def cash(self) -> Decimal:
        return -(self.quantity * self.price * self.multiplier) - self.fees


@dataclass
class OpenLot:
    trade_id: int | None
    opened_on: date
    quantity: Decimal  # signed, as opened (pooled: everything added to the pool)
    cost: Decimal  # signed cash it cost, fees included
    remaining: Decimal
    remaining_cost: Decimal
    key: int = 0  # position in LotBook.lots, links closures to lots


@dataclass(frozen=True)
class Closure:
    lot_key: int
    trade_id: int | None
    closed_on: date
    quantity: Decimal  # signed like the lot
    realised: Decimal


@dataclass
class LotBook:
    lots: list[OpenLot] = field(default_factory=list)
    closures: list[Closure] = field(default_factory=list)

    @property
    def open_lots(self) -> list[OpenLot]:
        return [lot for lot in self.lots if lot.remaining != 0]

    @property
    def net_quantity(self) -> Decimal:
        return sum((lot.remaining for lot in self.lots), ZERO)

    @property
    def open_cost(self) -> Decimal:
        return sum((lot.remaining_cost for lot in self.lots), ZERO)

    @property
    def realised(self) -> Decimal:
        return sum((c.realised for c in self.closures), ZERO)


def build(trades: list[TradeIn], method: str = FIFO) -> LotBook:
    """Apply ``trades`` in order (the caller sorts them by date, then entry)."""
    if method not in (FIFO, AVERAGE):
        raise ValueError(f"unknown lot method {method!r}")
    book = LotBook()
    for trade in trades:
        _apply(book, trade, method)
    return book


def _sign(x: Decimal) -> int:
    return (x > 0) - (x < 0)


def _apply(book: LotBook, trade: TradeIn, method: str) -> None:
    held = book.net_quantity
    if trade.action in REDUCING_ACTIONS and (
        held == 0 or _sign(held) == _sign(trade.quantity) or abs(trade.quantity) > abs(held)
    ):
        raise LotError(
            trade.id,
            f"a {trade.action} of {trade.quantity.normalize():f} on {trade.traded_on} "
            f"closes more than the {held.normalize():f} then held",
        )
    remaining = trade.quantity
    size = abs(trade.quantity)
    for lot in book.lots:
        if remaining == 0:
            break
        if lot.remaining == 0 or _sign(lot.remaining) == _sign(remaining):
            continue
        part = min(abs(remaining), abs(lot.remaining))  # magnitude closed from this lot
        lot_part = part * _sign(lot.remaining)
        cost_part = lot.remaining_cost * part / abs(lot.remaining)
        cash_part = trade.cash * part / size
        book.closures.append(
            Closure(lot.key, trade.id, trade.traded_on, lot_part, cash_part - cost_part)
        )
        lot.remaining -= lot_part
        lot.remaining_cost -= cost_part
        if lot.remaining == 0:
            lot.remaining_cost = ZERO
        remaining += lot_part
    if remaining == 0:
        return
    cost = -trade.cash * abs(remaining) / size
    pool = book.open_lots[0] if method == AVERAGE and book.open_lots else None
    if pool is not None:  # same side as the pool (anything opposite was closed above)
        pool.quantity += remaining
        pool.cost += cost
        pool.remaining += remaining
        pool.remaining_cost += cost
        return
    book.lots.append(
        OpenLot(trade.id, trade.traded_on, remaining, cost, remaining, cost, key=len(book.lots))
    )
