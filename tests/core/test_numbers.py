"""The one finite-float helper and the JSON cleaner shared by the API, pages and publisher."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import numpy as np
import pytest

from core.numbers import finite, json_safe


@pytest.mark.parametrize(
    ("value", "nd", "expected"),
    [
        (1.23456789, None, 1.23456789),
        (1.23456789, 3, 1.235),
        ("2.5", None, 2.5),
        (np.float64(-0.125), 2, -0.12),  # round half to even, as round() does
        (np.int64(7), None, 7.0),
        (None, 2, None),
        ("n/a", None, None),
        (float("nan"), 4, None),
        (float("-inf"), None, None),
        (np.nan, None, None),
    ],
)
def test_finite(value, nd, expected) -> None:
    got = finite(value, nd)
    assert got == expected
    assert got is None or type(got) is float


def test_json_safe_makes_strict_json() -> None:
    raw = {
        "a": [float("nan"), 1.0, np.float32(0.5)],
        "b": float("inf"),
        "c": np.array([[1, 2], [3, np.inf]]),
        "d": (np.int64(3), np.bool_(True)),
        "e": date(2026, 1, 16),
        "f": datetime(2026, 1, 16, 21, tzinfo=UTC),
        7: "seven",
    }
    out = json_safe(raw)
    assert out == {
        "a": [None, 1.0, 0.5],
        "b": None,
        "c": [[1.0, 2.0], [3.0, None]],
        "d": [3, True],
        "e": "2026-01-16",
        "f": "2026-01-16T21:00:00+00:00",
        "7": "seven",
    }
    json.dumps(out, allow_nan=False)
    assert type(out["d"][0]) is int and type(out["d"][1]) is bool
