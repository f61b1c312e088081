"""The one set of number, time and name formats every page uses (core/templatetags)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.templatetags import vault_format as f

MINUS = "\u2212"


def test_money_and_signed_money():
    assert f.money(1234.4) == "$1,234"
    assert f.money(-1234.6) == f"{MINUS}$1,235"
    assert f.money(-0.2) == "$0"  # rounds to zero: no sign
    assert f.money(None) == f.money(float("nan")) == "—"
    assert f.smoney(12.5, 2) == "+$12.50"
    assert f.smoney(-12.5) == f"{MINUS}$12"  # banker's rounding of .5, as Python formats
    assert f.smoney(0.004, 2) == "$0.00"


def test_debit_and_credit_are_words_with_positive_amounts():
    assert f.debit_credit(10900) == "$10,900.00 debit"
    assert f.debit_credit(-10900) == "$10,900.00 credit"
    assert f.debit_credit(0.001) == "$0.00 (no net premium)"
    assert f.paid_received(-18472, 0) == "$18,472 received"
    assert f.paid_received(2290, 0) == "$2,290 paid"


@pytest.mark.parametrize(
    ("fn", "value", "args", "text"),
    [
        (f.pct, 12.345, (), "12.3%"),
        (f.pct, 4.0, (2,), "4.00%"),
        (f.pct100, 0.04, (2,), "4.00%"),  # a rate given as a fraction reads like one in %
        (f.spct, -0.351, (), f"{MINUS}0.35%"),
        (f.spct, 1.2, (), "+1.20%"),
        (f.spct, -0.001, (), "0.00%"),
        (f.pct, None, (), "—"),
    ],
)
def test_one_percent_format(fn, value, args, text):
    assert fn(value, *args) == text


def test_strikes_have_one_format():
    assert f.strike(400) == f.strike(400.0) == f.strike("400.00") == "400.00"
    assert f.strike(1234.5) == "1,234.50"


def test_model_names_are_words_with_the_id_in_a_tooltip():
    assert f.model_name("american-qdfp,intrinsic") == (
        "American (QD+ approximation), intrinsic value (at expiry)"
    )
    html = str(f.model("bsm"))
    assert 'title="model id: bsm"' in html and "Black–Scholes–Merton" in html
    assert f.model_name("something-new") == "something-new"  # unknown ids shown as they are


def test_times_are_utc_with_the_zone_shown():
    html = str(f.when("2026-12-02T05:17:03+01:00"))
    assert 'datetime="2026-12-02T04:17:03Z"' in html
    assert ">2026-12-02 04:17:03 UTC<" in html
    assert "UTC" in str(f.when(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)))
    assert f.when("not a time") == "—"


def test_legs_in_words():
    legs = [
        {"kind": "stock", "quantity": 1000},
        {"kind": "put", "quantity": 10, "strike": 350},
        {"kind": "call", "quantity": -10, "strike": 400.0},
    ]
    assert f.legs_label(legs) == "buy 10 put 350.00 · sell 10 call 400.00"
    assert f.legs_label([{"kind": "stock", "quantity": 1}]) == "shares only"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1000, "1,000"),
        (-10, "−10"),
        ("12.5000", "12.5"),
        (0.00001, "0"),
        (-0.00001, "0"),
        (1234.5678, "1,234.5678"),
        (None, f.DASH),
        ("nan", f.DASH),
    ],
)
def test_quantity_keeps_sign_and_recorded_places(value, text) -> None:
    assert f.quantity(value) == text
