"""Interactive Brokers Flex XML (an Activity Flex Query with the Trades section) into the ledger.

Parsed by ``ibflex``. What is kept:

* stock (``STK``) and equity option (``OPT``, multiplier 100) executions — each partial fill is
  its own trade (``levelOfDetail="EXECUTION"``; order and summary rows are skipped so nothing
  counts twice);
* option legs of an expiry (notes ``Ep``), assignment (``A``) or exercise (``Ex``) as those
  actions; the stock leg that comes with an assignment or exercise as the buy or sell it is;
* commissions (``ibCommission``, negative in the file) as fees.

Everything else is **reported, not guessed**: corporate actions (splits, mergers, spin-offs
change quantities and symbols in ways a trade cannot say), other asset classes, contracts with
another multiplier, currencies other than the portfolio's. Every trade carries the broker's id
(``transactionID``, else ``tradeID``) as its ``external_id``: importing the same file again adds
nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ibflex import enums, parser

from market.data import CONTRACT_MULTIPLIER
from portfolio import ledger
from portfolio.models import Portfolio, Position, Trade

MAX_BYTES = 5_000_000
_OPTION_ACTIONS = {
    enums.Code.EXPIRED: Trade.Action.EXPIRY,
    enums.Code.ASSIGNMENT: Trade.Action.ASSIGNMENT,
    enums.Code.EXERCISE: Trade.Action.EXERCISE,
    enums.Code.AUTOEXERCISE: Trade.Action.EXERCISE,
    enums.Code.MANUALEXERCISE: Trade.Action.EXERCISE,
}


class BrokerFileError(Exception):
    """The file is not something we can read at all (one line, for the user)."""


@dataclass
class BrokerImport:
    trades: list[Trade] = field(default_factory=list)
    reported: list[str] = field(default_factory=list)  # lines the import did not turn into trades
    duplicates: int = 0


def parse_flex(data: bytes, portfolio: Portfolio) -> BrokerImport:
    """The new trades of a Flex file (unsaved) and what was left out, without writing."""
    if len(data) > MAX_BYTES:
        raise BrokerFileError(f"the file is larger than {MAX_BYTES // 1_000_000} MB")
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise BrokerFileError("document type declarations are not accepted in a Flex file")
    try:
        response = parser.parse(data)
    except Exception as exc:  # ibflex raises several kinds for malformed or unknown content
        raise BrokerFileError(f"not a readable IBKR Flex XML file ({exc})"[:300]) from None
    known = set(portfolio.trades.exclude(external_id="").values_list("external_id", flat=True))
    out = BrokerImport()
    for statement in response.FlexStatements:
        for row in statement.Trades:
            _trade_row(row, portfolio, known, out)
        for action in statement.CorporateActions:
            out.reported.append(
                f"corporate action not imported: {action.symbol or '?'} "
                f"{action.type.name if action.type else ''} {action.description or ''} "
                f"({action.dateTime or action.reportDate}); enter its effect by hand".replace(
                    "  ", " "
                )
            )
    out.trades.sort(key=lambda t: t.traded_on)
    return out


def _trade_row(row: Any, portfolio: Portfolio, known: set[str], out: BrokerImport) -> None:
    if row.levelOfDetail not in (None, "EXECUTION"):
        return  # order or summary rows repeat the executions
    broker_id = row.transactionID or row.tradeID or row.ibExecID
    label = f"{row.tradeDate} {row.symbol or '?'}"
    if not broker_id:
        out.reported.append(f"{label}: no transaction id, not imported")
        return
    external_id = f"ibkr:{broker_id}"
    if external_id in known:
        out.duplicates += 1
        return
    currency = row.currency or portfolio.base_currency
    if currency != portfolio.base_currency:
        out.reported.append(f"{label}: in {currency}, not {portfolio.base_currency}; not imported")
        return
    category = row.assetCategory
    codes = set(row.notes or ())
    if category == enums.AssetClass.STOCK:
        instrument: dict[str, Any] = {"symbol": row.symbol, "kind": Position.Kind.UNDERLYING}
        action = Trade.Action.BUY if row.quantity > 0 else Trade.Action.SELL
    elif category == enums.AssetClass.OPTION:
        if row.multiplier is not None and row.multiplier != CONTRACT_MULTIPLIER:
            out.reported.append(f"{label}: multiplier {row.multiplier}, not imported")
            return
        instrument = {
            "symbol": row.underlyingSymbol or (row.symbol or "").split(" ")[0],
            "kind": Position.Kind.OPTION,
            "expiry": row.expiry,
            "strike": row.strike,
            "right": row.putCall.value if row.putCall else "",
        }
        action = next(
            (_OPTION_ACTIONS[c] for c in codes if c in _OPTION_ACTIONS),
            Trade.Action.BUY if row.quantity > 0 else Trade.Action.SELL,
        )
    else:
        name = category.name if category else "unknown"
        out.reported.append(f"{label}: asset class {name}, not imported")
        return
    trade = Trade(
        portfolio=portfolio,
        action=action,
        quantity=row.quantity,
        price=abs(row.tradePrice or Decimal(0)),
        fees=abs(row.ibCommission or Decimal(0)),
        traded_on=row.tradeDate,
        source=Trade.Source.BROKER,
        external_id=external_id,
        note=_note(row, codes),
        **instrument,
    )
    try:
        ledger.check_fields(trade)
    except ledger.LedgerError as exc:
        out.reported.append(f"{label}: {exc.message}")
        return
    known.add(external_id)
    out.trades.append(trade)


def _note(row: Any, codes: set[Any]) -> str:
    parts = [f"IBKR {row.buySell.name.lower() if row.buySell else ''}".strip()]
    if enums.Code.PARTIAL in codes:
        parts.append("partial fill")
    if row.ibOrderID:
        parts.append(f"order {row.ibOrderID}")
    return ", ".join(parts)[:200]


def import_flex(data: bytes, portfolio: Portfolio, user: Any = None) -> BrokerImport:
    """Parse, then record every new trade in one transaction (all or nothing)."""
    result = parse_flex(data, portfolio)
    if result.trades:
        ledger.record(portfolio, user, result.trades, reason="IBKR Flex import")
    return result
