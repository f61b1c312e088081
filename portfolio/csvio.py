"""CSV import and export of positions.

Import is all-or-nothing: every row is parsed and validated first, each problem is reported
with its line number and column, and the positions are written in one transaction only when the
whole file is clean.

Columns (header row required, any order, case-insensitive)::

    symbol,kind,quantity,cost_basis,expiry,strike,right,style,units_per_share,opened_on,note

``kind`` may be left empty: a row with a strike/expiry/right is an option, one with
``units_per_share`` is physical, anything else underlying shares. An import may also carry a
``fees`` column (dollars for the row's whole trade).

Every row becomes a trade in the ledger (:mod:`portfolio.ledger`), dated ``opened_on``, at
``cost_basis``. Three modes:

* ``new`` (default) — every row opens an instrument not held yet (a held one is an error);
* ``add`` — rows are trades on top of what is held: ``+`` buys, ``−`` sells;
* ``replace`` — the open positions are first closed at their cost basis (no price is known, so
  they realise nothing), then the rows open the new book.

:func:`validate_row` is the one row check, shared with the forms of the app.

Export neutralises formula injection the OWASP way: a text cell that a spreadsheet would run as
a formula (it starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) is written
with a leading apostrophe, which spreadsheets show as literal text. Numbers are written as
numbers (``-10`` stays ``-10``). Import takes the apostrophe off again, so an export imports
back unchanged.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from market.calendar import market_date
from portfolio import ledger
from portfolio.models import (
    INSTRUMENT_AND_UNITS,
    SYMBOL_VALIDATOR,
    Portfolio,
    Position,
    Trade,
)

COLUMNS = (
    "symbol",
    "kind",
    "quantity",
    "cost_basis",
    "expiry",
    "strike",
    "right",
    "style",
    "units_per_share",
    "opened_on",
    "note",
)
IMPORT_COLUMNS = (*COLUMNS, "fees")
REQUIRED = ("symbol", "quantity", "cost_basis")
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
NEW, ADD, REPLACE = "new", "add", "replace"
MODES = (NEW, ADD, REPLACE)
MAX_BYTES = 1_000_000
MAX_ROWS = 5_000


@dataclass(frozen=True)
class RowError:
    line: int
    field: str | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", {self.field}" if self.field else "")
        return f"{where}: {self.message}"


class CsvImportError(Exception):
    def __init__(self, errors: list[RowError]) -> None:
        super().__init__("; ".join(str(e) for e in errors[:5]))
        self.errors = errors


def neutralise(text: str) -> str:
    """A text cell a spreadsheet will show as text, never run as a formula.

    Cells that start with an apostrophe get one more, so that :func:`restore` can tell an
    apostrophe it should take off from one that was there.
    """
    if text.startswith(FORMULA_TRIGGERS) or text.startswith("'"):
        return "'" + text
    return text


def restore(cell: str) -> str:
    """The inverse of :func:`neutralise`."""
    if cell.startswith("'") and cell[1:2] and (cell[1] in FORMULA_TRIGGERS or cell[1] == "'"):
        return cell[1:]
    return cell


def decimal_cell(
    raw: str, field: str, line: int, errors: list[RowError], shown: str | None = None
) -> Decimal | None:
    """A finite number (thousands separators allowed), or ``None`` with the row's error added.
    ``shown``: the cell as written, when ``raw`` was cleaned first (the error quotes it)."""
    quoted = repr((raw if shown is None else shown)[:30])
    try:
        value = Decimal(raw.replace(",", "").replace("_", ""))
    except InvalidOperation:
        errors.append(RowError(line, field, f"{quoted} is not a number"))
        return None
    if not value.is_finite():
        errors.append(RowError(line, field, f"{quoted} is not a finite number"))
        return None
    return value


def date_cell(
    raw: str, field: str, line: int, errors: list[RowError], shown: str | None = None
) -> date | None:
    """An ISO date, or ``None`` with the row's error added."""
    try:
        return date.fromisoformat(raw)
    except ValueError:
        quoted = repr((raw if shown is None else shown)[:30])
        errors.append(RowError(line, field, f"{quoted} is not a date like 2026-03-20"))
        return None


def validate_row(
    row: dict[str, str], line: int, portfolio: Portfolio
) -> tuple[Position | None, list[RowError]]:
    """One row (column → text) as an unsaved position, or the problems with it."""
    errors: list[RowError] = []
    get = {k: restore((row.get(k) or "").strip()) for k in COLUMNS}
    for name in REQUIRED:
        if not get[name]:
            errors.append(RowError(line, name, "is required"))
    symbol = get["symbol"].upper()
    if symbol:
        try:
            SYMBOL_VALIDATOR(symbol)
        except ValidationError:
            errors.append(RowError(line, "symbol", f"{get['symbol']!r} is not a ticker symbol"))
    kind = get["kind"].lower()
    if not kind:
        if get["strike"] or get["expiry"] or get["right"]:
            kind = Position.Kind.OPTION
        elif get["units_per_share"]:
            kind = Position.Kind.PHYSICAL
        else:
            kind = Position.Kind.UNDERLYING
    if kind not in Position.Kind.values:
        errors.append(
            RowError(line, "kind", f"{get['kind']!r}: use underlying, physical or option")
        )
    quantity = decimal_cell(get["quantity"], "quantity", line, errors) if get["quantity"] else None
    cost = (
        decimal_cell(get["cost_basis"], "cost_basis", line, errors) if get["cost_basis"] else None
    )
    strike = decimal_cell(get["strike"], "strike", line, errors) if get["strike"] else None
    ups = (
        decimal_cell(get["units_per_share"], "units_per_share", line, errors)
        if get["units_per_share"]
        else None
    )
    expiry = date_cell(get["expiry"], "expiry", line, errors) if get["expiry"] else None
    opened = date_cell(get["opened_on"], "opened_on", line, errors) if get["opened_on"] else None
    right = {"C": "C", "CALL": "C", "P": "P", "PUT": "P", "": ""}.get(get["right"].upper())
    if right is None:
        errors.append(RowError(line, "right", f"{get['right']!r}: use C or P"))
        right = ""
    style = get["style"].lower() or Position.Style.AMERICAN
    if style not in Position.Style.values:
        errors.append(RowError(line, "style", f"{get['style']!r}: use american or european"))
    if errors:
        return None, errors
    if quantity is None or cost is None:  # required, reported above
        return None, errors
    pos = Position(
        portfolio=portfolio,
        symbol=symbol,
        kind=kind,
        quantity=quantity,
        cost_basis=cost,
        expiry=expiry,
        strike=strike,
        right=right,
        style=style,
        units_per_share=ups,
        opened_on=opened or market_date(),
        note=get["note"],
    )
    try:
        pos.clean_fields(exclude=["portfolio"])
        pos.clean()
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            for message in messages:
                errors.append(RowError(line, None if field == "__all__" else field, message))
        return None, errors
    return pos, []


def _instrument_key(p: Position) -> tuple[Any, ...]:
    if p.kind == Position.Kind.OPTION:
        return (p.symbol, p.kind, p.expiry, p.strike, p.right, p.style)
    return (p.symbol, p.kind)


def upload_text(data: bytes | str) -> str:
    """An uploaded CSV file as text: at most MAX_BYTES of UTF-8 (a BOM dropped), no NUL."""
    if isinstance(data, bytes):
        if len(data) > MAX_BYTES:
            raise CsvImportError([RowError(0, None, f"file is larger than {MAX_BYTES} bytes")])
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise CsvImportError([RowError(0, None, f"not UTF-8 text ({exc.reason})")]) from None
    else:
        text = data.removeprefix("\ufeff")
    if "\x00" in text:
        # No text file holds one, and PostgreSQL refuses them in text columns.
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise CsvImportError([RowError(line, None, "contains a NUL character (not a text file?)")])
    return text


def parse_positions(
    data: bytes | str, portfolio: Portfolio, replace: bool = False, *, mode: str | None = None
) -> list[Position]:
    """Validate the whole file; return unsaved positions or raise :class:`CsvImportError`.

    Each position carries its row's line (``_line``) and fees (``_fees``) for the import.
    """
    mode = _mode(mode, replace)
    reader = csv.DictReader(io.StringIO(upload_text(data), newline=""))
    try:
        header = [h.strip().lower() for h in (reader.fieldnames or [])]
    except csv.Error as exc:
        raise CsvImportError([RowError(1, None, f"unreadable CSV ({exc})")]) from None
    if not header:
        raise CsvImportError([RowError(1, None, "the file is empty; a header row is required")])
    errors: list[RowError] = []
    unknown = [h for h in header if h not in IMPORT_COLUMNS]
    if unknown:
        errors.append(
            RowError(
                1,
                unknown[0],
                f"unknown column(s) {', '.join(unknown)}; expected {', '.join(IMPORT_COLUMNS)}",
            )
        )
    for name in REQUIRED:
        if name not in header:
            errors.append(RowError(1, name, "required column is missing"))
    if errors:
        raise CsvImportError(errors)
    reader.fieldnames = header

    existing = set()
    if mode == NEW and portfolio.pk is not None:
        existing = {_instrument_key(p) for p in portfolio.open_positions()}
    seen: dict[tuple[Any, ...], int] = {}
    positions: list[Position] = []
    count = 0
    try:
        for row in reader:
            line = reader.line_num
            if None in row:  # more cells than header columns
                errors.append(RowError(line, None, "more values than columns in the header"))
                continue
            if not any((v or "").strip() for v in row.values()):
                continue
            count += 1
            if count > MAX_ROWS:
                errors.append(RowError(line, None, f"more than {MAX_ROWS} rows"))
                break
            pos, row_errors = validate_row(row, line, portfolio)
            fees = _fees(row.get("fees"), line, row_errors)
            errors.extend(row_errors)
            if pos is None or fees is None:
                continue
            pos._line, pos._fees = line, fees  # type: ignore[attr-defined]
            key = _instrument_key(pos)
            if mode == ADD:
                positions.append(pos)  # several trades of one instrument are fine here
                continue
            if key in seen:
                errors.append(
                    RowError(line, "symbol", f"duplicates the instrument on line {seen[key]}")
                )
            elif key in existing:
                errors.append(
                    RowError(
                        line,
                        "symbol",
                        f"{pos.instrument} is already an open position (use add or replace)",
                    )
                )
            seen.setdefault(key, line)
            positions.append(pos)
    except csv.Error as exc:
        errors.append(RowError(reader.line_num, None, f"unreadable CSV ({exc})"))
    if errors:
        raise CsvImportError(errors)
    if not positions:
        raise CsvImportError([RowError(1, None, "no positions in the file")])
    return positions


def _mode(mode: str | None, replace: bool) -> str:
    chosen = mode or (REPLACE if replace else NEW)
    if chosen not in MODES:
        raise CsvImportError([RowError(0, None, f"mode {chosen!r}: use {', '.join(MODES)}")])
    return chosen


def _fees(raw: str | None, line: int, errors: list[RowError]) -> Decimal | None:
    text = (raw or "").strip()
    if not text:
        return Decimal(0)
    value = decimal_cell(text, "fees", line, errors)
    if value is not None and value < 0:
        errors.append(RowError(line, "fees", "fees cannot be negative"))
        return None
    return value


def import_positions(
    data: bytes | str,
    portfolio: Portfolio,
    replace: bool = False,
    *,
    mode: str | None = None,
    user: Any = None,
) -> list[Trade]:
    """Validate, then record every row as a trade in one transaction (nothing is written on any
    error). Returns the rows' trades (not the closing trades of ``replace``)."""
    mode = _mode(mode, replace)
    positions = parse_positions(data, portfolio, mode=mode)
    trades = [_trade_of(p, mode) for p in positions]
    lines = {id(t): p._line for t, p in zip(trades, positions, strict=True)}  # type: ignore[attr-defined]
    try:
        with transaction.atomic():
            if mode == REPLACE:
                _close_all(portfolio, user)
            recorded = ledger.record(portfolio, user, trades, reason=f"CSV import ({mode})")
    except ledger.LedgerError as exc:
        line = next((lines[id(t)] for t in trades if t.pk == exc.trade_id), 0)
        raise CsvImportError([RowError(line, exc.field, exc.message)]) from None
    except IntegrityError as exc:
        raise CsvImportError([RowError(0, None, f"rejected by the database: {exc}")]) from None
    return recorded


def _trade_of(p: Position, mode: str) -> Trade:
    if mode == ADD:
        action = Trade.Action.BUY if p.quantity > 0 else Trade.Action.SELL
    else:
        action = Trade.Action.OPEN
    return Trade(
        **{name: getattr(p, name) for name in INSTRUMENT_AND_UNITS},
        action=action,
        quantity=p.quantity,
        price=p.cost_basis,
        fees=p._fees,  # type: ignore[attr-defined]
        traded_on=p.opened_on,
        note=p.note,
        source=Trade.Source.CSV,
    )


def _close_all(portfolio: Portfolio, user: Any) -> None:
    today = market_date()
    for p in portfolio.open_positions():
        ledger.close_position(
            p,
            user,
            price=p.cost_basis,
            traded_on=max(today, p.opened_on),
            note="closed by a replacing CSV import at cost (no price known)",
            source=Trade.Source.CSV,
        )


def export_positions(portfolio: Portfolio, out: io.TextIOBase | Any) -> int:
    # RFC 4180 line ends: the writer then also quotes a cell holding a lone carriage return,
    # which a reader would otherwise take for the end of the row
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    n = 0
    for p in portfolio.open_positions().order_by("symbol", "kind", "expiry", "strike", "right"):
        # numbers and dates are written by us (digits, "-" and "."); text cells may hold
        # anything a user typed
        writer.writerow(
            [
                neutralise(p.symbol),
                neutralise(p.kind),
                f"{p.quantity.normalize():f}",
                f"{p.cost_basis.normalize():f}",
                p.expiry.isoformat() if p.expiry else "",
                f"{p.strike.normalize():f}" if p.strike is not None else "",
                neutralise(p.right),
                neutralise(p.style) if p.is_option else "",
                f"{p.units_per_share.normalize():f}" if p.units_per_share is not None else "",
                p.opened_on.isoformat() if p.opened_on else "",
                neutralise(p.note),
            ]
        )
        n += 1
    return n
