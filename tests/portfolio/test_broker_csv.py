"""The generic broker CSV mapping: aliases, shares and options, fees, re-import adds nothing."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from portfolio import broker_csv, ledger
from portfolio.csvio import CsvImportError
from portfolio.models import Position, Trade
from tests.factories import PortfolioFactory

pytestmark = pytest.mark.django_db

# Buy 100 @ 50 ($1), two identical partial sells of 30 @ 55 ($0.50 each), a long put bought
# 1 @ 2.00 ($0.65) that expires. FIFO: each sale realises 30 × 5 − 0.30 − 0.50 = 149.20;
# the put −200.65. Total 97.75.
FILE = b"""Trade Date,Ticker,Action,Qty,Fill Price,Commission,Expiration,Strike,Put/Call
2026-01-05,IAU,BOT,100,$50.00,1.00,,,
2026/01/08,IAU,SLD,30,55,0.50,,,
2026/01/08,IAU,SLD,30,55,0.50,,,
2026-01-09,IAU,BUY,1,2.00,0.65,2026-03-20,45,Put
2026-03-20,IAU,expired,-1,0,0,2026-03-20,45,P
"""


def test_generic_csv_with_aliases_becomes_trades():
    pf = PortfolioFactory()
    result = broker_csv.import_csv(FILE, pf)
    assert len(result.trades) == 5
    assert ledger.realised_pnl(pf) == D("97.75")
    shares = Position.objects.open().get(portfolio=pf)
    assert shares.quantity == 40 and shares.symbol == "IAU"
    assert Trade.objects.get(portfolio=pf, action="expiry").right == "P"


def test_importing_the_same_file_twice_adds_nothing():
    pf = PortfolioFactory()
    broker_csv.import_csv(FILE, pf)
    again = broker_csv.import_csv(FILE, pf)
    assert again.trades == [] and again.duplicates == 5
    assert Trade.objects.filter(portfolio=pf).count() == 5


def test_an_id_column_is_the_external_id():
    pf = PortfolioFactory()
    data = b"date,symbol,side,quantity,price,id\n2026-01-05,GLD,buy,5,180,T-1\n"
    broker_csv.import_csv(data, pf)
    assert Trade.objects.get().external_id == "csv:T-1"
    assert broker_csv.import_csv(data, pf).duplicates == 1


def test_bad_rows_are_reported_by_line_and_nothing_is_written():
    pf = PortfolioFactory()
    data = b"date,symbol,side,quantity,price\n2026-13-01,GLD,buy,5,1\n2026-01-02,GLD,hold,5,1\n"
    with pytest.raises(CsvImportError) as exc:
        broker_csv.import_csv(data, pf)
    assert {(e.line, e.field) for e in exc.value.errors} == {(2, "date"), (3, "side")}
    with pytest.raises(CsvImportError) as exc:
        broker_csv.import_csv(b"when,what\n1,2\n", pf)
    assert {e.field for e in exc.value.errors} >= {"date", "symbol", "price"}
    assert not Trade.objects.exists()
