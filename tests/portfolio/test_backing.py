"""Gold-aware hedging: ounces per share eroded by the sponsor fee, the position in ounces, the
implied gold price and the floor in $/oz, checked against hand arithmetic."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from importlib import import_module

import pytest

from portfolio.backing import Backing, backing_panel, ounces_per_share

# A fee of 36.5 % a year accrues 0.1 % a day: after n days a share holds 0.999**n of its
# ounces. By the binomial series, 0.999**10 = 1 - 10e-3 + 45e-6 - 120e-9 + 210e-12 - ...
#                                          = 0.990044880209748 (to 15 places).
FACTOR_10_DAYS = 0.990044880209748
T0 = date(2026, 1, 5)


def steep(oz: float = 0.1) -> Backing:
    return Backing("TEST", "gold", oz, T0, 0.365)


def panel_of(shares: float, expiries: list[dict], spot: float = 250.0) -> dict:
    """The panel of ``shares`` at ``spot`` today (T0), 0.1 oz a share, 36.5 % a year."""
    return backing_panel(steep(), shares=shares, spot=spot, today=T0, expiries=expiries)


def test_daily_accrual_against_the_binomial_series():
    assert ounces_per_share(steep(), T0) == 0.1
    assert ounces_per_share(steep(), T0 + timedelta(days=10)) == pytest.approx(
        0.1 * FACTOR_10_DAYS, rel=1e-13
    )
    # Before the published date the fee is undone: one day back is 0.1 / 0.999.
    assert ounces_per_share(steep(), T0 - timedelta(days=1)) == pytest.approx(0.1 / 0.999)
    # Vectorised over dates.
    many = ounces_per_share(steep(), [T0, T0 + timedelta(days=1), T0 + timedelta(days=2)])
    assert list(many) == pytest.approx([0.1, 0.0999, 0.0998001], rel=1e-13)


def test_one_year_at_gld_s_fee_is_daily_accrual_not_annual_compounding():
    # GLD: 0.40 % a year. ln(1 - 0.004/365) * 365 = -0.0040000219 (series: -x - x**2/2,
    # x = 1.0958904e-5), and exp(-0.0040000219) = 0.9960079674 (series to 3rd order), against
    # 0.9960000000 for (1 - fee) ** (days / 365): the daily form keeps 8 ppm more.
    gld = Backing("GLD", "gold", 0.1, date(2025, 1, 1), 0.004)
    one_year = ounces_per_share(gld, date(2026, 1, 1))
    assert one_year == pytest.approx(0.09960079674, rel=1e-9)
    assert one_year - 0.1 * 0.996 == pytest.approx(7.9674e-7, rel=1e-3)


def test_panel_numbers_by_hand():
    # 1,000 shares at $250, 0.1 oz a share today: 100 oz, gold implied at $250 / 0.1 = $2,500.
    # Hedge: a full hedge with $230 puts expiring in 10 days, and a partial one 20 days out.
    panel = panel_of(
        1000.0,
        [
            {"expiry": "2026-01-15", "days": 10, "floor_per_share": 230.0, "floor_spot": 230.0},
            {"expiry": "2026-01-25", "days": 20, "floor_per_share": 115.0, "floor_spot": 0.0},
        ],
    )
    assert panel["ounces_per_share"] == 0.1
    assert panel["position_oz"] == pytest.approx(100.0)
    assert panel["implied_price"] == pytest.approx(2500.0)
    assert panel["annual_fee_pct"] == pytest.approx(36.5)
    full, partial = panel["expiries"]
    oz_t = 0.1 * FACTOR_10_DAYS  # 0.0990044880209748
    assert full["calendar_days"] == 10
    assert full["ounces_per_share"] == pytest.approx(oz_t, rel=1e-13)
    assert full["position_oz"] == pytest.approx(99.0044880209748, rel=1e-13)
    assert full["eroded_oz"] == pytest.approx(0.9955119790252, rel=1e-10)
    assert full["eroded_pct"] == pytest.approx(0.9955119790252, rel=1e-10)  # of 100 oz
    # $230 a share over 0.0990044880209748 oz = $2,323.13 an ounce (not $2,300: the fee).
    assert full["floor_per_oz"] == pytest.approx(230 / 0.0990044880209748, rel=1e-12)
    assert full["floor_per_oz"] == pytest.approx(2323.127, abs=1e-3)
    assert full["floor_metal_price"] == pytest.approx(2323.127, abs=1e-3)
    assert full["fee_effect_per_oz"] == pytest.approx(2323.127 - 2300.0, abs=1e-3)
    # 20 days: 0.999**20 = FACTOR_10_DAYS**2; a partial hedge's floor has no gold price.
    assert partial["ounces_per_share"] == pytest.approx(0.1 * FACTOR_10_DAYS**2, rel=1e-13)
    assert partial["floor_per_oz"] == pytest.approx(115 / (0.1 * FACTOR_10_DAYS**2))
    assert partial["floor_metal_price"] is None and partial["fee_effect_per_oz"] is None


def test_no_shares_no_floor_and_no_expiries():
    panel = panel_of(
        0.0, [{"expiry": "2026-01-15", "days": 10, "floor_per_share": None, "floor_spot": 0}]
    )
    assert panel["position_oz"] == 0.0 and panel["expiries"][0]["floor_per_oz"] is None
    assert panel_of(5.0, [], spot=1.0)["expiries"] == []


@pytest.mark.parametrize(("oz", "fee"), [(0.0, 0.004), (-0.1, 0.004), (0.1, -0.01), (0.1, 1.0)])
def test_nonsense_backing_is_refused(oz, fee):
    with pytest.raises(ValueError):
        Backing("GLD", "gold", oz, T0, fee)


def test_the_gld_default_is_the_launch_tenth_of_an_ounce_less_the_fee():
    """docs/backing.md: 0.1 oz at launch on 18 Nov 2004, 0.40 % a year accrued daily."""
    defaults = import_module("portfolio.migrations.0001_squashed_0009_trade_source_demo")

    row = next(r for r in defaults.BACKING_DEFAULTS if r["symbol"] == "GLD")
    launch = Backing("GLD", "gold", 0.1, date(2004, 11, 18), 0.004)
    derived = ounces_per_share(launch, date.fromisoformat(row["as_of"]))
    assert float(row["ounces_per_share"]) == pytest.approx(derived, abs=1e-10)
    # Cross-check: on 4 Nov 2024 the trust's NAV was $253.32 a share (ssga.com); the derived
    # ounces then imply gold at $2,744/oz, in line with that day's gold price.
    then = ounces_per_share(launch, date(2024, 11, 4))
    assert 253.32 / then == pytest.approx(2744, abs=1)


def test_the_iau_default_follows_its_splits_and_fee_cut():
    defaults = import_module("portfolio.migrations.0001_squashed_0009_trade_source_demo")

    row = next(r for r in defaults.BACKING_DEFAULTS if r["symbol"] == "IAU")
    oz = ounces_per_share(Backing("IAU", "gold", 0.1, date(2005, 1, 21), 0.004), date(2010, 7, 1))
    oz = ounces_per_share(
        Backing("IAU", "gold", oz / 10, date(2010, 7, 1), 0.0025), date(2021, 5, 24)
    )
    oz = ounces_per_share(
        Backing("IAU", "gold", oz * 2, date(2021, 5, 24), 0.0025), date.fromisoformat(row["as_of"])
    )
    assert float(row["ounces_per_share"]) == pytest.approx(oz, abs=1e-10)
    assert row["annual_fee_pct"] == Decimal("0.2500")
