"""The trade ledger: the one way trades are written, and how positions and lots follow them.

Every write (record, change, delete, lot-method change) runs in one transaction that

1. locks the portfolio row (writers of one portfolio queue behind each other),
2. writes the trade(s) and a :class:`~portfolio.models.TradeAudit` entry per change (who, when,
   the trade before and after),
3. rebuilds the lots and realised P&L of each instrument touched, from all of its trades in
   order (:mod:`portfolio.lots`), and
4. sets the instrument's open :class:`~portfolio.models.Position` to what the lots hold —
   quantity, average open cost per unit (opening fees included), first open date — closing it
   when nothing is left.

A change that would make the ledger impossible (a close of more than is held, also after an
earlier trade is deleted or edited) raises :class:`LedgerError` and writes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from market.calendar import market_date
from portfolio import lots
from portfolio.models import (
    INSTRUMENT_AND_UNITS,
    Lot,
    LotClosure,
    Portfolio,
    Position,
    Trade,
    TradeAudit,
    bump_data_version,
    instrument_lookup,
)

COST_QUANTUM = Decimal("0.000001")
AUDITED_FIELDS = (
    *INSTRUMENT_AND_UNITS,
    "action",
    "quantity",
    "price",
    "fees",
    "traded_on",
    "source",
    "external_id",
    "note",
)
EDITABLE_FIELDS = frozenset(AUDITED_FIELDS) - {"source"}


class LedgerError(Exception):
    """A ledger write refused; ``field`` names the input at fault when there is one."""

    def __init__(self, message: str, field: str | None = None, trade_id: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.trade_id = trade_id


@dataclass(frozen=True)
class Instrument:
    """What a position holds and a trade moves: its lots are kept per instrument."""

    symbol: str
    kind: str
    expiry: date | None = None
    strike: Decimal | None = None
    right: str = ""
    style: str = Position.Style.AMERICAN

    @classmethod
    def of(cls, obj: Trade | Position) -> Instrument:
        if obj.kind == Position.Kind.OPTION:
            return cls(obj.symbol, obj.kind, obj.expiry, obj.strike, obj.right, obj.style)
        return cls(obj.symbol, obj.kind)

    def filter(self) -> dict[str, Any]:
        return instrument_lookup(self)


def _record_of(trade: Trade) -> dict[str, Any]:
    out: dict[str, Any] = {"id": trade.pk}
    for name in AUDITED_FIELDS:
        value = getattr(trade, name)
        out[name] = value if value is None or isinstance(value, str) else str(value)
    return out


def _actor(user: Any) -> Any:
    return user if getattr(user, "is_authenticated", False) else None


def _lock(portfolio: Portfolio) -> Portfolio:
    return Portfolio.objects.select_for_update().get(pk=portfolio.pk)


def _validate(trade: Trade) -> None:
    try:
        trade.full_clean(exclude=["portfolio", "created_by"])
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise LedgerError(messages[0], None if field == "__all__" else field) from None


def check_fields(trade: Trade) -> None:
    """Raise :class:`LedgerError` for a trade whose own fields are wrong (no book needed)."""
    _validate(trade)


def record(
    portfolio: Portfolio, user: Any, trades: Sequence[Trade], *, reason: str = ""
) -> list[Trade]:
    """Write new trades (unsaved instances) and bring positions and lots in step."""
    with transaction.atomic():
        locked = _lock(portfolio)
        actor = _actor(user)
        for trade in trades:
            trade.portfolio = locked
            trade.created_by = actor
            _validate(trade)
        groups: dict[Instrument, list[Trade]] = {}
        for trade in trades:
            groups.setdefault(Instrument.of(trade), []).append(trade)
        held = {Instrument.of(p) for p in Position.objects.open().filter(portfolio=locked)}
        traded = _traded_instruments(locked)
        for instrument in groups:
            if instrument in held and instrument not in traded:
                _adopt_untracked_position(locked, instrument)
        Trade.objects.bulk_create(trades)  # sets the pks (PostgreSQL, SQLite ≥ 3.35)
        TradeAudit.objects.bulk_create(
            [
                TradeAudit(
                    portfolio=locked,
                    trade_id=t.pk,
                    change=TradeAudit.Change.CREATE,
                    actor=actor,
                    after=_record_of(t),
                    reason=reason[:200],
                )
                for t in trades
            ]
        )
        fresh = {i: g for i, g in groups.items() if i not in held and i not in traded}
        for instrument in groups:
            if instrument not in fresh:
                rebuild(locked, instrument)
        _build_fresh(locked, fresh)
        _touch(locked)
    return list(trades)


def _traded_instruments(portfolio: Portfolio) -> set[Instrument]:
    rows = (
        Trade.objects.filter(portfolio=portfolio)
        .values_list("symbol", "kind", "expiry", "strike", "right", "style")
        .distinct()
    )
    return {
        Instrument(*row) if row[1] == Position.Kind.OPTION else Instrument(row[0], row[1])
        for row in rows
    }


def _build_fresh(portfolio: Portfolio, groups: dict[Instrument, list[Trade]]) -> None:
    """Instruments the portfolio never traded nor held: their lots and positions come from the
    new trades alone, written in bulk (an import of thousands of new instruments stays fast)."""
    books = {
        i: _build(sorted(g, key=lambda t: (t.traded_on, t.pk)), portfolio.lot_method)
        for i, g in groups.items()
    }
    lot_rows: list[Lot] = []
    closures: list[tuple[int, lots.Closure, Instrument]] = []
    for instrument, book in books.items():
        base = len(lot_rows)
        lot_rows += _lot_rows(portfolio, book)
        closures += [(base + c.lot_key, c, instrument) for c in book.closures]
    saved = Lot.objects.bulk_create(lot_rows)
    LotClosure.objects.bulk_create(
        [_closure_row(portfolio, saved[i], c, instrument.symbol) for i, c, instrument in closures]
    )
    positions = [
        _new_position(portfolio, instrument, groups[instrument], book)
        for instrument, book in books.items()
        if book.net_quantity != 0
    ]
    Position.objects.bulk_create(positions)


def _lot_rows(portfolio: Portfolio, book: lots.LotBook) -> list[Lot]:
    return [
        Lot(
            portfolio=portfolio,
            trade_id=_saved(lot.trade_id),
            opened_on=lot.opened_on,
            quantity=lot.quantity,
            remaining=lot.remaining,
            cost=lot.cost.quantize(COST_QUANTUM),
            remaining_cost=lot.remaining_cost.quantize(COST_QUANTUM),
        )
        for lot in book.lots
    ]


def _closure_row(portfolio: Portfolio, lot: Lot, c: lots.Closure, symbol: str) -> LotClosure:
    return LotClosure(
        lot=lot,
        trade_id=_saved(c.trade_id),
        portfolio=portfolio,
        symbol=symbol,
        closed_on=c.closed_on,
        quantity=c.quantity,
        realised=c.realised.quantize(COST_QUANTUM),
    )


def _new_position(
    portfolio: Portfolio, instrument: Instrument, trades: list[Trade], book: lots.LotBook
) -> Position:
    position = Position(portfolio=portfolio, note=trades[-1].note, **instrument.filter())
    _set_from_book(position, instrument, trades, book)
    return position


def _set_from_book(
    position: Position, instrument: Instrument, trades: list[Trade], book: lots.LotBook
) -> None:
    net = book.net_quantity
    multiplier = trades[-1].multiplier
    position.quantity = net
    position.cost_basis = max(book.open_cost / (net * multiplier), Decimal(0)).quantize(
        COST_QUANTUM
    )
    position.opened_on = book.open_lots[0].opened_on
    if instrument.kind == Position.Kind.PHYSICAL:
        position.units_per_share = trades[-1].units_per_share


def record_one(portfolio: Portfolio, user: Any, reason: str = "", **fields: Any) -> Trade:
    return record(portfolio, user, [Trade(**fields)], reason=reason)[0]


def change(trade: Trade, user: Any, *, reason: str = "", **fields: Any) -> Trade:
    """Change a trade's fields (not its portfolio or source); lots are rebuilt for both the
    instrument it was and the one it now is."""
    unknown = set(fields) - EDITABLE_FIELDS
    if unknown:
        raise LedgerError(f"cannot change {', '.join(sorted(unknown))}")
    with transaction.atomic():
        locked = _lock(trade.portfolio)
        current = Trade.objects.select_for_update().get(pk=trade.pk, portfolio=locked)
        before = _record_of(current)
        was = Instrument.of(current)
        for name, value in fields.items():
            setattr(current, name, value)
        _validate(current)
        now = Instrument.of(current)
        if now != was:
            _adopt_untracked_position(locked, now)
        current.save()
        _audit(locked, user, TradeAudit.Change.UPDATE, current.pk, before, current, reason)
        rebuild(locked, was)
        if now != was:
            rebuild(locked, now)
        _touch(locked)
    return current


def delete(trade: Trade, user: Any, *, reason: str = "") -> None:
    """Delete a trade; the instrument's lots and position are rebuilt without it."""
    with transaction.atomic():
        locked = _lock(trade.portfolio)
        current = Trade.objects.select_for_update().get(pk=trade.pk, portfolio=locked)
        before = _record_of(current)
        instrument = Instrument.of(current)
        current.delete()
        TradeAudit.objects.create(
            portfolio=locked,
            trade_id=before["id"],
            change=TradeAudit.Change.DELETE,
            actor=_actor(user),
            before=before,
            reason=reason[:200],
        )
        rebuild(locked, instrument)
        _touch(locked)


def set_lot_method(portfolio: Portfolio, user: Any, method: str) -> None:
    """Switch FIFO / average cost and recompute every instrument's lots and realised P&L."""
    if method not in Portfolio.LotMethod.values:
        raise LedgerError(f"{method!r}: use fifo or average", "lot_method")
    with transaction.atomic():
        locked = _lock(portfolio)
        before = locked.lot_method
        locked.lot_method = method
        locked.save(update_fields=["lot_method", "updated_at"])
        TradeAudit.objects.create(
            portfolio=locked,
            change=TradeAudit.Change.SETTING,
            actor=_actor(user),
            before={"lot_method": before},
            after={"lot_method": method},
        )
        for instrument in {Instrument.of(t) for t in locked.trades.all()}:
            rebuild(locked, instrument)
        _touch(locked)
    portfolio.lot_method = method


def close_position(
    position: Position,
    user: Any,
    *,
    price: Decimal,
    quantity: Decimal | None = None,
    fees: Decimal = Decimal(0),
    traded_on: date | None = None,
    action: str = Trade.Action.CLOSE,
    note: str = "",
    source: str = Trade.Source.MANUAL,
) -> Trade:
    """Close all of ``position`` (or ``quantity`` of it, a positive amount) with one trade."""
    amount = abs(position.quantity) if quantity is None else quantity
    if amount <= 0 or amount > abs(position.quantity):
        raise LedgerError(f"close between 0 and {abs(position.quantity).normalize():f}", "quantity")
    signed = -amount if position.quantity > 0 else amount
    return record_one(
        position.portfolio,
        user,
        action=action,
        quantity=signed,
        price=price,
        fees=fees,
        traded_on=traded_on or market_date(),
        note=note,
        source=source,
        units_per_share=position.units_per_share,
        **Instrument.of(position).filter(),
    )


def check(trade: Trade) -> None:
    """Raise :class:`LedgerError` if ``trade`` (new, or an edit of a saved one) cannot be
    written: its fields, or the lots of its instrument with it. Writes nothing (for forms)."""
    _validate(trade)
    others = Trade.objects.filter(portfolio_id=trade.portfolio_id, **Instrument.of(trade).filter())
    if trade.pk is not None:
        others = others.exclude(pk=trade.pk)
    ordered = sorted(
        [*others, trade], key=lambda t: (t.traded_on, t.pk if t.pk is not None else 2**63)
    )
    _build(ordered, trade.portfolio.lot_method)


def _build(trades: list[Trade], method: str) -> lots.LotBook:
    try:
        return lots.build(
            [
                lots.TradeIn(t.pk, t.traded_on, t.action, t.quantity, t.price, t.fees, t.multiplier)
                for t in trades
            ],
            method,
        )
    except lots.LotError as exc:
        raise LedgerError(
            f"trade #{exc.trade_id}: {exc}" if exc.trade_id else str(exc).capitalize(),
            "quantity",
            exc.trade_id,
        ) from None


def rebuild(portfolio: Portfolio, instrument: Instrument) -> Position | None:
    """Recompute the instrument's lots from its trades and set its open position from them.

    Runs inside the caller's transaction with the portfolio row locked.
    """
    trades = list(
        Trade.objects.filter(portfolio=portfolio, **instrument.filter()).order_by("traded_on", "pk")
    )
    book = _build(trades, portfolio.lot_method)
    Lot.objects.filter(trade__in=trades).delete()
    saved = Lot.objects.bulk_create(_lot_rows(portfolio, book))
    LotClosure.objects.bulk_create(
        [_closure_row(portfolio, saved[c.lot_key], c, instrument.symbol) for c in book.closures]
    )
    return _sync_position(portfolio, instrument, trades, book)


def _saved(trade_id: int | None) -> int:
    if trade_id is None:  # rebuild reads saved trades only; check() never stores its book
        raise AssertionError("lot of an unsaved trade")
    return trade_id


def _sync_position(
    portfolio: Portfolio, instrument: Instrument, trades: list[Trade], book: lots.LotBook
) -> Position | None:
    position = (
        Position.objects.open()
        .select_for_update()
        .filter(portfolio=portfolio, **instrument.filter())
        .first()
    )
    if not trades:
        # Every trade of it deleted: the position was never held.
        if position is not None:
            position.delete()
        return None
    net = book.net_quantity
    if net == 0:
        if position is not None:
            position.closed_on = max(trades[-1].traded_on, position.opened_on)
            position.save()
        return None
    if position is None:
        position = Position(portfolio=portfolio, note=trades[-1].note, **instrument.filter())
    _set_from_book(position, instrument, trades, book)
    position.full_clean(exclude=["portfolio"])
    position.save()
    return position


def _adopt_untracked_position(portfolio: Portfolio, instrument: Instrument) -> None:
    """An open position written outside the ledger (the admin, an old import) gets its opening
    trade first, as the data migration gave every position, so the ledger starts from it."""
    position = Position.objects.open().filter(portfolio=portfolio, **instrument.filter()).first()
    if position is None or position.trades().exists():
        return
    trade = Trade.objects.create(
        portfolio=portfolio,
        units_per_share=position.units_per_share,
        action=Trade.Action.OPEN,
        quantity=position.quantity,
        price=position.cost_basis,
        traded_on=position.opened_on,
        source=Trade.Source.MIGRATION,
        note=position.note,
        **instrument.filter(),
    )
    _audit(
        portfolio,
        None,
        TradeAudit.Change.CREATE,
        trade.pk,
        None,
        trade,
        "opening trade of a position entered outside the ledger",
    )


def _audit(
    portfolio: Portfolio,
    user: Any,
    change: str,
    trade_id: int | None,
    before: dict[str, Any] | None,
    after: Trade | None,
    reason: str,
) -> None:
    TradeAudit.objects.create(
        portfolio=portfolio,
        trade_id=trade_id,
        change=change,
        actor=_actor(user),
        before=before,
        after=_record_of(after) if after is not None else None,
        reason=reason[:200],
    )


def _touch(portfolio: Portfolio) -> None:
    # Realised P&L can change without the open position changing (a deleted closing trade):
    # bump the state the valuation memo is keyed on either way.
    Portfolio.objects.filter(pk=portfolio.pk).update(updated_at=timezone.now())
    bump_data_version()
    transaction.on_commit(bump_data_version)


# --- reading ---------------------------------------------------------------------------------


def realised_pnl(portfolio: Portfolio, symbol: str | None = None) -> Decimal:
    """Realised P&L of the portfolio (or of one underlying), after fees."""
    qs = LotClosure.objects.filter(portfolio=portfolio)
    if symbol is not None:
        qs = qs.filter(symbol=symbol)
    total = qs.aggregate(total=Sum("realised"))["total"]
    return total if total is not None else Decimal(0)


def realised_by_symbol(portfolio: Portfolio) -> dict[str, Decimal]:
    """Realised P&L of each underlying, after fees (one query)."""
    return dict(
        LotClosure.objects.filter(portfolio=portfolio)
        .values("symbol")
        .annotate(total=Sum("realised"))
        .values_list("symbol", "total")
    )


def realised_block(portfolio: Portfolio, symbol: str) -> dict[str, Any]:
    """The ``realised`` block of ``/api/portfolio`` (one query)."""
    rows = realised_by_symbol(portfolio)
    return {
        "lot_method": portfolio.lot_method,
        "symbol_pnl": float(rows.get(symbol) or 0),
        "total_pnl": float(sum(rows.values(), Decimal(0))),
    }
