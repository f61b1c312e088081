"""Malformed CSV files never write anything and never crash the importer."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portfolio.csvio import COLUMNS, CsvImportError, import_positions
from portfolio.models import Portfolio, Position

pytestmark = pytest.mark.django_db

VALID = (
    "symbol,kind,quantity,cost_basis,expiry,strike,right,note\n"
    "GLD,underlying,100,180.5,,,,core\n"
    "GLD,option,2,3.10,2027-06-18,170,P,hedge\n"
)

cells = st.one_of(
    st.sampled_from(
        [
            "",
            "GLD",
            "slv",
            "option",
            "underlying",
            "physical",
            "P",
            "C",
            "X",
            "0",
            "-5",
            "1e9",
            "NaN",
            "Infinity",
            "2027-06-18",
            "2027-02-30",
            "abc",
            "1,000",
            '"quoted, comma"',
            "\x00",
            "\u00a0",
            "9" * 30,
        ]
    ),
    st.text(max_size=12),
)
rows = st.lists(st.lists(cells, min_size=0, max_size=len(COLUMNS) + 2), max_size=8)
headers = st.one_of(
    st.just(list(COLUMNS)),
    st.lists(st.sampled_from([*COLUMNS, "SYMBOL", "qty", "", "extra"]), max_size=12),
)


def _render(header: list[str], body: list[list[str]]) -> str:
    return "\n".join(",".join(line) for line in [header, *body])


@pytest.fixture
def portfolio() -> Portfolio:
    return Portfolio.objects.create(name="Fuzz")


def _assert_all_or_nothing(data: bytes | str, portfolio: Portfolio) -> None:
    before = list(Position.objects.values_list("pk", flat=True))
    try:
        created = import_positions(data, portfolio)
    except CsvImportError as exc:
        assert exc.errors, "an import error must say what is wrong"
        for error in exc.errors:
            assert error.line >= 0 and str(error)
        assert list(Position.objects.values_list("pk", flat=True)) == before
        return
    assert Position.objects.count() == len(before) + len(created) > len(before)
    # Clean up so the next example starts from the same state.
    Position.objects.filter(pk__in=[p.pk for p in created]).delete()


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(header=headers, body=rows)
def test_structured_garbage(portfolio, header, body) -> None:
    _assert_all_or_nothing(_render(header, body), portfolio)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw=st.binary(max_size=400))
def test_random_bytes(portfolio, raw) -> None:
    _assert_all_or_nothing(raw, portfolio)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    position=st.integers(min_value=0, max_value=len(VALID) - 1),
    junk=st.text(min_size=1, max_size=5),
)
def test_mutated_valid_file(portfolio, position, junk) -> None:
    _assert_all_or_nothing(VALID[:position] + junk + VALID[position:], portfolio)


def test_valid_file_imports_and_one_bad_row_blocks_all(portfolio) -> None:
    assert len(import_positions(VALID, portfolio)) == 2
    Position.objects.all().delete()
    bad = VALID + "GLD,option,1,2.0,2027-06-18,-5,P,bad strike\n"
    with pytest.raises(CsvImportError) as excinfo:
        import_positions(bad, portfolio)
    assert excinfo.value.errors[0].line == 4 and excinfo.value.errors[0].field == "strike"
    assert Position.objects.count() == 0
