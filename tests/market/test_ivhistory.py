"""IV30 interpolation, IV rank/percentile and realised vol against hand-computed values and
QuantLib's BlackVarianceCurve (linear in total variance) as the independent reference."""

from __future__ import annotations

import math
import statistics
from datetime import date, timedelta

import numpy as np
import pytest
import QuantLib as ql

from market import ivhistory as ivh

D = 1 / 365.0


def test_two_expiries_bracketing_30_days_by_hand():
    # w1 = 0.2^2 * 20/365, w2 = 0.3^2 * 40/365; halfway: w30 = (0.8 + 3.6) / 2 / 365 = 2.2/365
    got = ivh.constant_maturity_iv([20 * D, 40 * D], [0.20, 0.30])
    assert got[0] == pytest.approx(math.sqrt(2.2 / 30), rel=1e-12)
    assert got[0] == pytest.approx(0.2708012802, abs=1e-9)


def test_matches_quantlib_black_variance_curve():
    ref = ql.Date(4, 3, 2026)
    days = [9, 23, 37, 72, 100]
    vols = [0.24, 0.21, 0.185, 0.19, 0.2]
    curve = ql.BlackVarianceCurve(ref, [ref + d for d in days], vols, ql.Actual365Fixed(), False)
    got = ivh.constant_maturity_iv(np.array(days) * D, vols)[0]
    assert got == pytest.approx(curve.blackVol(30 * D, 100.0), rel=1e-10)


def test_expiry_missing_from_one_days_chain():
    # Day 0 has 20/40/60 days; on day 1 the 40-day expiry is missing (NaN): 20 and 60 bracket.
    t = np.array([[20 * D, 40 * D, 60 * D], [20 * D, np.nan, 60 * D]])
    v = np.array([[0.20, 0.30, 0.25], [0.20, np.nan, 0.25]])
    got = ivh.constant_maturity_iv(t, v)
    assert got[0] == pytest.approx(math.sqrt(2.2 / 30), rel=1e-12)
    # w = 0.8/365 + (0.0625*60 - 0.8)/365 * (10/40) = 1.5375/365
    assert got[1] == pytest.approx(math.sqrt(1.5375 / 30), rel=1e-12)
    # The same day with the expiry given an IV but no price (vol NaN) is the same case.
    t2 = np.array([[20 * D, 40 * D, 60 * D]])
    v2 = np.array([[0.20, np.nan, 0.25]])
    assert ivh.constant_maturity_iv(t2, v2)[0] == pytest.approx(got[1], rel=1e-12)


def test_unsorted_expiries_and_an_exact_30_day_expiry():
    got = ivh.constant_maturity_iv([60 * D, 30 * D, 10 * D], [0.3, 0.22, 0.4])
    assert got[0] == pytest.approx(0.22, rel=1e-12)


def test_flat_extrapolation_outside_the_listed_range():
    assert ivh.constant_maturity_iv([45 * D, 90 * D], [0.18, 0.25])[0] == pytest.approx(0.18)
    assert ivh.constant_maturity_iv([5 * D, 12 * D], [0.3, 0.26])[0] == pytest.approx(0.26)


def test_fewer_than_two_expiries_gives_nothing():
    assert np.isnan(ivh.constant_maturity_iv([30 * D], [0.2])[0])
    assert np.isnan(ivh.constant_maturity_iv([10 * D, 40 * D], [np.nan, 0.2])[0])
    # An expiry under a day away is ignored (its vol is noise), leaving one.
    assert np.isnan(ivh.constant_maturity_iv([0.5 * D, 40 * D], [0.9, 0.2])[0])
    one = ivh.iv30([40 * D], [0.2])
    assert one.value is None and "fewer than 2" in one.reason and one.expiries == 1
    ok = ivh.iv30([20 * D, 40 * D], [0.2, 0.3])
    assert ok.value == pytest.approx(math.sqrt(2.2 / 30)) and ok.reason == ""


def test_rows_are_independent():
    t = np.array([[20 * D, 40 * D], [45 * D, 90 * D], [30 * D, np.nan]])
    v = np.array([[0.2, 0.3], [0.18, 0.25], [0.2, np.nan]])
    got = ivh.constant_maturity_iv(t, v)
    assert got[0] == pytest.approx(math.sqrt(2.2 / 30))
    assert got[1] == pytest.approx(0.18)
    assert np.isnan(got[2])


def _days(n: int, start: date = date(2025, 1, 2)) -> list[date]:
    return [start + timedelta(days=i) for i in range(n)]


def test_rank_and_percentile_by_hand():
    values = [0.20, 0.10, 0.30, 0.25, 0.15] * 4 + [0.22]  # 21 observations
    r = ivh.iv_rank(_days(21), values)
    # min 0.10, max 0.30: (0.22 - 0.10) / 0.20 = 60 %
    assert r.rank == pytest.approx(60.0)
    # earlier values below 0.22: 0.20, 0.10, 0.15 in each of 4 blocks = 12 of 20
    assert r.percentile == pytest.approx(60.0)
    assert (r.low, r.high, r.observations, r.iv30) == (0.10, 0.30, 21, 0.22)
    assert r.as_of == date(2025, 1, 22) and r.reason == ""
    d = r.to_dict()
    assert d["window_days"] == 365 and "365 calendar days" in d["method"]


def test_rank_window_is_365_calendar_days():
    # An old spike outside the window must not count: 400 days, spike on day 0.
    values = [0.90] + [0.2 + 0.001 * (i % 50) for i in range(399)]
    dates = _days(400)
    r = ivh.iv_rank(dates, values)
    window = [v for dd, v in zip(dates, values, strict=True) if dd >= dates[-1] - timedelta(364)]
    lo, hi = min(window), max(window)
    assert r.high == pytest.approx(hi) and hi < 0.9
    assert r.observations == 365
    assert r.rank == pytest.approx((values[-1] - lo) / (hi - lo) * 100)


def test_rank_input_order_does_not_matter():
    values = [0.20, 0.10, 0.30, 0.25, 0.15] * 4 + [0.22]
    dates = _days(21)
    perm = np.random.default_rng(1).permutation(21)
    r = ivh.iv_rank(np.array(dates, dtype="datetime64[D]")[perm], np.array(values)[perm])
    assert r.rank == pytest.approx(60.0) and r.percentile == pytest.approx(60.0)


def test_constant_history_has_no_rank():
    r = ivh.iv_rank(_days(30), [0.2] * 30)
    assert r.rank is None and "not moved" in r.reason
    assert r.percentile == 0.0  # nothing is strictly below


def test_short_history_has_no_rank():
    r = ivh.iv_rank(_days(5), [0.2, 0.3, 0.1, 0.25, 0.22])
    assert r.rank is None and r.percentile is None
    assert "5 of 20" in r.reason and r.observations == 5
    empty = ivh.iv_rank([], [])
    assert empty.rank is None and empty.reason == "no IV history yet"
    assert empty.to_dict()["as_of"] is None


def test_rank_drops_nan_observations():
    values = [0.20, 0.10, 0.30, 0.25, 0.15] * 4 + [float("nan"), 0.22]
    r = ivh.iv_rank(_days(22), values)
    assert r.observations == 21 and r.rank == pytest.approx(60.0)


def test_realized_vol_by_hand():
    closes = [100.0, 101.0, 99.0, 102.0, 101.5]
    rv = ivh.realized_vol(closes, 3)
    assert np.isnan(rv[:3]).all()
    rets = [math.log(b / a) for a, b in zip(closes, closes[1:], strict=False)]
    assert rv[3] == pytest.approx(statistics.stdev(rets[0:3]) * math.sqrt(252), rel=1e-12)
    assert rv[4] == pytest.approx(statistics.stdev(rets[1:4]) * math.sqrt(252), rel=1e-12)


def test_realized_vol_recovers_a_known_vol_and_handles_short_input():
    rng = np.random.default_rng(3)
    sigma = 0.18
    r = rng.standard_normal(5000) * sigma / math.sqrt(252)
    closes = 100 * np.exp(np.concatenate(([0.0], np.cumsum(r))))
    rv60 = ivh.realized_vol(closes, 60)
    assert np.nanmean(rv60) == pytest.approx(sigma, rel=0.03)
    assert np.isnan(ivh.realized_vol([100, 101], 20)).all()
