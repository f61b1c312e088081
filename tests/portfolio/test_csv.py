from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from portfolio.csvio import CsvImportError, export_positions, import_positions
from portfolio.models import Position
from tests.factories import PortfolioFactory, PositionFactory
from tests.support.clock import freeze

pytestmark = pytest.mark.django_db

GOOD = """symbol,kind,quantity,cost_basis,expiry,strike,right,opened_on,note
GLD,underlying,1000,180.25,,,,2025-01-02,core
GLD,,10,3.50,2026-08-21,180,P,2026-04-06,hedge
gld,option,-10,2.10,2026-08-21,220,call,,collar
"""


def test_import_writes_every_row(monkeypatch):
    # 01:00 UTC on 7 April is still 6 April in New York: a row without a date opens on that
    freeze(monkeypatch, datetime(2026, 4, 7, 1, 0, tzinfo=UTC))
    pf = PortfolioFactory()
    created = import_positions(GOOD.encode(), pf)
    assert len(created) == 3
    rows = {p.instrument: p for p in pf.positions.all()}
    assert rows["GLD"].quantity == 1000 and rows["GLD"].cost_basis == Decimal("180.25")
    assert rows["GLD 2026-08-21 180P"].kind == "option" and rows["GLD 2026-08-21 180P"].right == "P"
    assert rows["GLD 2026-08-21 220C"].quantity == -10
    assert rows["GLD 2026-08-21 220C"].opened_on == date(2026, 4, 6)


def test_a_bad_row_is_reported_by_line_and_field_and_nothing_is_written():
    pf = PortfolioFactory()
    bad = GOOD + "GLD,option,5,1.0,2026-13-01,170,P,,\nGLD,underlying,abc,1,,,,,\n"
    with pytest.raises(CsvImportError) as exc:
        import_positions(bad.encode(), pf)
    found = {(e.line, e.field) for e in exc.value.errors}
    assert (5, "expiry") in found
    assert (6, "quantity") in found
    assert pf.positions.count() == 0


def test_a_nul_character_is_refused_with_its_line_and_nothing_is_written():
    """PostgreSQL refuses NUL in text columns: it must be an import error, not a 500."""
    pf = PortfolioFactory()
    with_nul = GOOD.replace(",hedge", ",he\x00dge")
    for data in (with_nul, with_nul.encode()):
        with pytest.raises(CsvImportError) as exc:
            import_positions(data, pf)
        assert [(e.line, e.field) for e in exc.value.errors] == [(3, None)]
        assert "NUL" in str(exc.value.errors[0])
    assert pf.positions.count() == 0


def test_row_level_model_rules_and_duplicates():
    pf = PortfolioFactory()
    text = (
        "symbol,quantity,cost_basis,strike,right,expiry\n"
        "GLD,0,1,,,\n"  # zero quantity (line 2)
        "GLD,1,1,180,P,\n"  # option without expiry (line 3)
        "GLD,1,1,,,\n"
        "GLD,2,1,,,\n"  # duplicate of line 4 (line 5)
        "BAD SYMBOL,1,1,,,\n"  # line 6
    )
    with pytest.raises(CsvImportError) as exc:
        import_positions(text, pf)
    found = {(e.line, e.field) for e in exc.value.errors}
    assert {(2, "quantity"), (3, "expiry"), (5, "symbol"), (6, "symbol")} <= found
    assert pf.positions.count() == 0


def test_header_problems():
    pf = PortfolioFactory()
    with pytest.raises(CsvImportError) as exc:
        import_positions("symbol,qty,cost_basis\nGLD,1,1\n", pf)
    assert exc.value.errors[0].line == 1
    assert {e.field for e in exc.value.errors} >= {"qty", "quantity"}
    with pytest.raises(CsvImportError):
        import_positions(b"", pf)
    with pytest.raises(CsvImportError):
        import_positions(b"\xff\xfe\x00garbage", pf)


def test_existing_open_position_conflicts_unless_replace():
    pos = PositionFactory()
    text = "symbol,quantity,cost_basis\nGLD,5,100\n"
    with pytest.raises(CsvImportError) as exc:
        import_positions(text, pos.portfolio)
    assert exc.value.errors[0].line == 2
    created = import_positions(text, pos.portfolio, replace=True)
    assert len(created) == 1
    pos.refresh_from_db()
    assert pos.closed_on is not None
    assert pos.portfolio.open_positions().get().quantity == 5


def test_export_round_trips():
    src = PortfolioFactory()
    import_positions(GOOD, src)
    buf = io.StringIO()
    assert export_positions(src, buf) == 3
    dst = PortfolioFactory()
    import_positions(buf.getvalue(), dst)

    def key(p: Position):
        return (
            p.symbol,
            p.kind,
            p.quantity,
            p.cost_basis,
            p.expiry,
            p.strike,
            p.right,
            p.opened_on,
            p.note,
        )

    assert sorted(map(key, src.positions.all())) == sorted(map(key, dst.positions.all()))


def test_commands(tmp_path):
    pf = PortfolioFactory(name="Mine")
    good = tmp_path / "good.csv"
    good.write_text(GOOD)
    out = io.StringIO()
    call_command("import_positions", str(good), "--portfolio", "Mine", "--dry-run", stdout=out)
    assert pf.positions.count() == 0
    call_command("import_positions", str(good), "--portfolio", str(pf.pk), stdout=out)
    assert pf.positions.count() == 3
    bad = tmp_path / "bad.csv"
    bad.write_text("symbol,quantity,cost_basis\nGLD,x,1\n")
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_positions", str(bad), "--portfolio", "Mine", stderr=err)
    assert "line 2, quantity" in err.getvalue()
    exported = io.StringIO()
    call_command("export_positions", "--portfolio", "Mine", stdout=exported, stderr=io.StringIO())
    assert exported.getvalue().splitlines()[0].startswith("symbol,kind,quantity")
    assert len(exported.getvalue().splitlines()) == 4
    with pytest.raises(CommandError):
        call_command("export_positions", "--portfolio", "nope", stdout=io.StringIO())


def test_import_command_reads_standard_input(monkeypatch):
    pf = PortfolioFactory(name="Piped")
    piped = io.TextIOWrapper(io.BytesIO(b"symbol,quantity,cost_basis\nSLV,100,30\n"))
    monkeypatch.setattr("sys.stdin", piped)
    out = io.StringIO()
    call_command("import_positions", "-", "--portfolio", "Piped", stdout=out)
    (position,) = pf.open_positions()
    assert (position.symbol, position.quantity, position.cost_basis) == ("SLV", 100, 30)
    assert "Imported 1 trade(s)" in out.getvalue()
