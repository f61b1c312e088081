"""A broker's trade history as CSV (the generic mapping) into the ledger.

One row per execution. Header names are matched case-insensitively, and each column takes the
names brokers commonly use for it (documented in ``docs/ledger.md``):

=============  ===========================================================================
column         also accepted as
=============  ===========================================================================
date           trade date, tradedate, executed, execution date
symbol         ticker, underlying, underlying symbol
side           action, buy/sell, type — ``buy``/``bot``/``b``, ``sell``/``sld``/``s``;
               ``expired``, ``assigned``, ``exercised`` for option expiries
quantity       qty, shares, contracts (a sign is ignored when ``side`` is given)
price          trade price, fill price, avg price
fees           commission, commissions, fee
id             trade id, transaction id, execution id, order id (makes re-imports safe)
expiry         expiration, expiration date (options only)
strike         strike price (options only)
right          put/call, call/put, type of option — ``C``/``call``, ``P``/``put``
=============  ===========================================================================

A row without ``expiry``, ``strike`` and ``right`` is shares. Each trade's ``external_id`` is
the row's ``id`` when the file has one, else a digest of the row (the n-th identical row gets
``#n``), so importing the same file again adds nothing. Any bad row stops the whole import
with its line number (nothing is written).
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from portfolio import ledger
from portfolio.csvio import CsvImportError, RowError, date_cell, decimal_cell, upload_text
from portfolio.models import Portfolio, Position, Trade

ALIASES: dict[str, tuple[str, ...]] = {
    "date": ("date", "trade date", "tradedate", "executed", "execution date"),
    "symbol": ("symbol", "ticker", "underlying", "underlying symbol"),
    "side": ("side", "action", "buy/sell", "type"),
    "quantity": ("quantity", "qty", "shares", "contracts"),
    "price": ("price", "trade price", "fill price", "avg price"),
    "fees": ("fees", "commission", "commissions", "fee"),
    "id": ("id", "trade id", "transaction id", "execution id", "order id"),
    "expiry": ("expiry", "expiration", "expiration date"),
    "strike": ("strike", "strike price"),
    "right": ("right", "put/call", "call/put", "type of option"),
}
REQUIRED = ("date", "symbol", "side", "quantity", "price")
SIDES = {
    "buy": Trade.Action.BUY,
    "bot": Trade.Action.BUY,
    "b": Trade.Action.BUY,
    "bought": Trade.Action.BUY,
    "sell": Trade.Action.SELL,
    "sld": Trade.Action.SELL,
    "s": Trade.Action.SELL,
    "sold": Trade.Action.SELL,
    "expired": Trade.Action.EXPIRY,
    "expiry": Trade.Action.EXPIRY,
    "assigned": Trade.Action.ASSIGNMENT,
    "assignment": Trade.Action.ASSIGNMENT,
    "exercised": Trade.Action.EXERCISE,
    "exercise": Trade.Action.EXERCISE,
}
RIGHTS = {"c": "C", "call": "C", "p": "P", "put": "P"}


@dataclass
class CsvBrokerImport:
    trades: list[Trade] = field(default_factory=list)
    duplicates: int = 0


def _columns(header: list[str]) -> dict[str, int]:
    names = [h.strip().lower() for h in header]
    found: dict[str, int] = {}
    for column, aliases in ALIASES.items():
        for alias in aliases:
            if alias in names:
                found[column] = names.index(alias)
                break
    return found


def _number(raw: str, name: str, line: int, errors: list[RowError]) -> Decimal | None:
    text = raw.strip().replace("$", "")
    if text.startswith("(") and text.endswith(")"):  # accounting negatives
        text = "-" + text[1:-1]
    return decimal_cell(text, name, line, errors, shown=raw)


def _date(raw: str, name: str, line: int, errors: list[RowError]) -> date | None:
    return date_cell(raw.strip()[:10].replace("/", "-"), name, line, errors, shown=raw)


def parse(data: bytes, portfolio: Portfolio) -> CsvBrokerImport:
    """Validate the whole file; the new trades (unsaved) or :class:`CsvImportError`."""
    rows = list(csv.reader(io.StringIO(upload_text(data), newline="")))
    if not rows:
        raise CsvImportError([RowError(1, None, "the file is empty; a header row is required")])
    cols = _columns(rows[0])
    missing = [c for c in REQUIRED if c not in cols]
    if missing:
        raise CsvImportError(
            [RowError(1, c, "required column is missing (see docs/ledger.md)") for c in missing]
        )
    known = set(portfolio.trades.exclude(external_id="").values_list("external_id", flat=True))
    seen: dict[str, int] = {}
    errors: list[RowError] = []
    out = CsvBrokerImport()
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue

        def get(name: str, row: list[str] = row) -> str:
            i = cols.get(name)
            return row[i].strip() if i is not None and i < len(row) else ""

        trade = _row(get, line, portfolio, errors)
        if trade is None:
            continue
        key = f"csv:{get('id')}" if get("id") else _digest(row)
        seen[key] = seen.get(key, 0) + 1
        if not get("id") and seen[key] > 1:
            key += f"#{seen[key]}"
        if key in known:
            out.duplicates += 1
            continue
        trade.external_id = key[:120]
        out.trades.append(trade)
    if errors:
        raise CsvImportError(errors)
    out.trades.sort(key=lambda t: t.traded_on)
    return out


def _digest(row: list[str]) -> str:
    canonical = "\x1f".join(cell.strip() for cell in row)
    return "csv-row:" + hashlib.sha256(canonical.encode()).hexdigest()[:32]


def _row(get: Any, line: int, portfolio: Portfolio, errors: list[RowError]) -> Trade | None:
    row_errors: list[RowError] = []
    action = SIDES.get(get("side").lower())
    if action is None:
        row_errors.append(RowError(line, "side", f"{get('side')[:20]!r}: use buy or sell"))
    quantity = _number(get("quantity"), "quantity", line, row_errors)
    price = _number(get("price"), "price", line, row_errors)
    fees = _number(get("fees"), "fees", line, row_errors) if get("fees") else Decimal(0)
    traded_on = _date(get("date"), "date", line, row_errors)
    option = any(get(c) for c in ("expiry", "strike", "right"))
    expiry = _date(get("expiry"), "expiry", line, row_errors) if get("expiry") else None
    strike = _number(get("strike"), "strike", line, row_errors) if get("strike") else None
    right = RIGHTS.get(get("right").lower(), "?" if get("right") else "")
    if right == "?":
        row_errors.append(RowError(line, "right", f"{get('right')[:20]!r}: use C or P"))
    if (
        row_errors
        or action is None
        or quantity is None
        or price is None
        or fees is None
        or traded_on is None
    ):
        errors.extend(row_errors)
        return None
    size = abs(quantity)
    if action == Trade.Action.SELL:
        signed = -size
    elif action == Trade.Action.BUY:
        signed = size
    else:
        signed = quantity  # expiry/assignment/exercise: the file's sign says which way
    trade = Trade(
        portfolio=portfolio,
        symbol=get("symbol").upper(),
        kind=Position.Kind.OPTION if option else Position.Kind.UNDERLYING,
        expiry=expiry,
        strike=strike,
        right=right,
        action=action,
        quantity=signed,
        price=abs(price),
        fees=abs(fees),
        traded_on=traded_on,
        source=Trade.Source.BROKER,
        note="broker CSV",
    )
    try:
        ledger.check_fields(trade)
    except ledger.LedgerError as exc:
        errors.append(RowError(line, exc.field, exc.message))
        return None
    return trade


def import_csv(data: bytes, portfolio: Portfolio, user: Any = None) -> CsvBrokerImport:
    """Validate, then record every new trade in one transaction (all or nothing)."""
    result = parse(data, portfolio)
    if result.trades:
        try:
            ledger.record(portfolio, user, result.trades, reason="broker CSV import")
        except ledger.LedgerError as exc:
            raise CsvImportError([RowError(0, exc.field, exc.message)]) from None
    return result
