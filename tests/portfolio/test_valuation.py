"""Valuation, hedge panel and scenarios against independent computation (QuantLib, by hand)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from market.data import MarketInputs
from market.surface import solve_chain_vols
from portfolio import valuation as val
from portfolio.hedge import hedge_panel
from tests.portfolio.fakes import (
    AS_OF,
    PREV_CLOSE,
    RATE,
    SPOT,
    TODAY,
    FakeMarket,
    ql_option,
    ql_price,
    surface_vol,
)

E_MAY = date(2026, 8, 21)  # the long-dated hedge expiry
E_MAR = date(2026, 6, 18)  # an earlier listed expiry
E_UNLISTED = date(2026, 7, 17)


def mkt(spot: float = SPOT, prev: float | None = PREV_CLOSE, stale: bool = False) -> MarketInputs:
    return MarketInputs("GLD", spot, RATE, 0.0, AS_OF, "fake", stale, 0.0, prev_close=prev)


def shares(n: float = 1000, cost: float = 180.0) -> val.PositionIn:
    return val.PositionIn("underlying", n, cost, id=1, label="GLD")


def option(
    qty: float,
    strike: float,
    expiry: date,
    is_call: bool = False,
    cost: float = 3.5,
    pid: int = 2,
    opened: date | None = None,
    style: str = "american",
) -> val.PositionIn:
    return val.PositionIn(
        "option",
        qty,
        cost,
        id=pid,
        label=f"{expiry} {strike}{'C' if is_call else 'P'}",
        expiry=expiry,
        strike=strike,
        is_call=is_call,
        opened_on=opened,
        style=style,
    )


@pytest.fixture(scope="module")
def chain():
    return FakeMarket().chain("GLD")


@pytest.fixture(scope="module")
def chain_vols(chain):
    return solve_chain_vols(chain, [E_MAY, E_MAR, E_UNLISTED], RATE)


def test_time_to_expiry_is_whole_days_at_the_close():
    assert val.year_fraction(AS_OF, E_MAY) == pytest.approx((E_MAY - TODAY).days / 365, abs=1e-12)


class TestOptionLegsAgainstQuantLib:
    def test_listed_put_valued_at_its_chain_iv(self, chain_vols):
        p = option(10, 180.0, E_MAY)
        out = val.value_positions([p], mkt(), chain_vols)
        row = out["positions"][0]
        vol = surface_vol(SPOT, 180.0, E_MAY)
        assert row["inputs"]["vol_source"] == "chain_iv"
        assert row["inputs"]["vol"] == pytest.approx(vol, abs=2e-5)
        assert row["inputs"]["model"] == "american-qdfp"
        expected = ql_price(SPOT, 180.0, E_MAY, vol, False)
        assert row["price"] == pytest.approx(expected, rel=2e-4)
        assert row["value"] == pytest.approx(expected * 1000, rel=2e-4)
        assert row["pnl"] == pytest.approx(expected * 1000 - 3500, rel=1e-3)

    def test_greeks_in_share_equivalents_and_dollars(self, chain_vols):
        p = option(-5, 210.0, E_MAR, is_call=True)
        out = val.value_positions([p], mkt(), chain_vols)
        g = out["positions"][0]["greeks"]
        vol = surface_vol(SPOT, 210.0, E_MAR)
        fd = ql_option(SPOT, 210.0, E_MAR, vol, True, fd=True)
        sh = -500
        assert g["delta_shares"] == pytest.approx(fd.delta() * sh, rel=2e-3)
        assert g["delta_dollars"] == pytest.approx(fd.delta() * sh * SPOT, rel=2e-3)
        assert g["gamma_shares"] == pytest.approx(fd.gamma() * sh, rel=5e-3)
        assert g["gamma_dollars"] == pytest.approx(fd.gamma() * sh * SPOT**2 / 100, rel=5e-3)
        # vega per vol point and theta per calendar day, by bump-and-reprice in QuantLib
        up = ql_price(SPOT, 210.0, E_MAR, vol + 0.0005, True)
        dn = ql_price(SPOT, 210.0, E_MAR, vol - 0.0005, True)
        assert g["vega_dollars"] == pytest.approx((up - dn) / 0.001 * 0.01 * sh, rel=2e-3)
        later = ql_price(SPOT, 210.0, E_MAR, vol, True, today=TODAY + timedelta(days=1))
        now = ql_price(SPOT, 210.0, E_MAR, vol, True)
        assert g["theta_dollars"] == pytest.approx((later - now) * sh, rel=3e-2)

    def test_day_change_reprices_at_previous_close_one_day_earlier(self, chain_vols):
        p = option(10, 180.0, E_MAY)
        row = val.value_positions([p], mkt(), chain_vols)["positions"][0]
        vol = surface_vol(SPOT, 180.0, E_MAY)
        before = ql_price(PREV_CLOSE, 180.0, E_MAY, vol, False, today=TODAY - timedelta(days=1))
        now = ql_price(SPOT, 180.0, E_MAY, vol, False)
        assert row["day_change"] == pytest.approx((now - before) * 1000, rel=2e-3)

    def test_unlisted_strike_interpolates_the_smile(self, chain_vols):
        p = option(1, 182.5, E_MAY)
        row = val.value_positions([p], mkt(), chain_vols)["positions"][0]
        assert row["inputs"]["vol_source"] == "chain_smile"
        lo, hi = surface_vol(SPOT, 180, E_MAY), surface_vol(SPOT, 185, E_MAY)
        assert row["inputs"]["vol"] == pytest.approx((lo + hi) / 2, abs=1e-4)

    def test_unlisted_expiry_interpolates_total_variance(self, chain_vols):
        e = E_UNLISTED
        p = option(1, 180.0, e)
        row = val.value_positions([p], mkt(), chain_vols)["positions"][0]
        assert row["inputs"]["vol_source"] == "surface_interp"
        t0, t1, t = ((d - TODAY).days / 365 for d in (E_MAR, E_MAY, e))
        v0, v1 = surface_vol(SPOT, 180, E_MAR), surface_vol(SPOT, 180, E_MAY)
        w = (t - t0) / (t1 - t0)
        expected = (((1 - w) * v0**2 * t0 + w * v1**2 * t1) / t) ** 0.5
        assert row["inputs"]["vol"] == pytest.approx(expected, abs=1e-4)

    def test_european_style_uses_bsm(self, chain_vols):
        p = option(1, 190.0, E_MAY, style="european")
        row = val.value_positions([p], mkt(), chain_vols)["positions"][0]
        vol = row["inputs"]["vol"]
        assert row["inputs"]["model"] == "bsm"
        assert row["price"] == pytest.approx(
            ql_price(SPOT, 190.0, E_MAY, vol, False, american=False), rel=1e-9
        )

    def test_expired_option_is_worth_intrinsic(self, chain_vols):
        p = option(10, 210.0, TODAY - timedelta(days=3))
        row = val.value_positions([p], mkt(), chain_vols)["positions"][0]
        assert row["price"] == pytest.approx(10.0)
        assert row["inputs"]["model"] == "intrinsic"
        assert row["greeks"]["delta_shares"] == pytest.approx(-1000)


class TestHoldings:
    def test_shares(self):
        out = val.value_positions([shares()], mkt(), None)
        row, tot = out["positions"][0], out["totals"]
        assert row["value"] == 200_000
        assert row["cost"] == 180_000
        assert row["pnl"] == 20_000
        assert row["day_change"] == pytest.approx(2_000)
        assert tot["greeks"]["delta_shares"] == 1000
        assert tot["greeks"]["delta_dollars"] == 200_000
        assert tot["day_change_pct"] == pytest.approx(2_000 / 198_000 * 100)

    def test_physical_units_convert_through_units_per_share(self):
        oz = val.PositionIn("physical", 100, 1900.0, units_per_share=0.0925)
        row = val.value_positions([oz], mkt(), None)["positions"][0]
        assert row["share_equivalents"] == pytest.approx(100 / 0.0925)
        assert row["value"] == pytest.approx(100 * SPOT / 0.0925)
        assert row["cost"] == pytest.approx(190_000)

    def test_no_previous_close_means_unknown_day_change(self):
        out = val.value_positions([shares()], mkt(prev=None), None)
        assert out["totals"]["day_change"] is None
        assert out["positions"][0]["day_change"] is None


class TestHedgePanel:
    """Hand-worked: spot 200, 1,000 shares."""

    def panel(self, positions, spot=SPOT, days=21, stale=False):
        m = mkt(spot=spot, stale=stale)
        valued = val.value_positions(positions, m, None)
        return hedge_panel(positions, valued, m, days)

    def test_fully_hedged_floor_is_strike_times_shares(self):
        h = self.panel([shares(), option(10, 180.0, E_MAY)])
        assert h["hedge_ratio"] == 1.0
        assert h["covered_shares"] == 1000
        f = h["floor"]
        assert f["floor_value"] == pytest.approx(180_000)
        assert f["floor_per_share"] == pytest.approx(180)
        assert f["floor_spot"] == pytest.approx(180)
        assert h["days_to_nearest_expiry"] == 137
        assert h["cap_value"] is None
        assert [w["code"] for w in h["warnings"]] == []

    def test_half_hedged_floor_is_reached_at_zero(self):
        h = self.panel([shares(), option(5, 180.0, E_MAY)])
        assert h["hedge_ratio"] == 0.5
        assert h["floor"]["floor_value"] == pytest.approx(500 * 180)
        assert h["floor"]["floor_spot"] == 0.0

    def test_floor_pct_is_of_current_value(self):
        h = self.panel([shares(), option(10, 180.0, E_MAY)])
        m = mkt()
        value = val.value_positions([shares(), option(10, 180.0, E_MAY)], m, None)["totals"][
            "value"
        ]
        assert h["floor"]["floor_pct"] == pytest.approx(180_000 / value * 100)

    def test_collar_cap_from_short_calls(self):
        h = self.panel(
            [shares(), option(10, 180.0, E_MAY), option(-10, 220.0, E_MAY, True, 2.0, 3)]
        )
        assert h["cap_value"] == pytest.approx(220_000)
        assert h["cap_spot"] == pytest.approx(220)
        assert h["floor"]["cap_value"] == pytest.approx(220_000)
        assert h["call_cover_ratio"] == 1.0
        # net premium: 10 × 100 × 3.50 paid − 10 × 100 × 2.00 received
        assert h["cost"]["paid"] == pytest.approx(1_500)

    def test_partial_covered_calls_leave_upside_open(self):
        h = self.panel([shares(), option(-4, 220.0, E_MAY, True, 2.0)])
        assert h["cap_value"] is None
        assert h["call_cover_ratio"] == pytest.approx(0.4)

    def test_floor_at_each_expiry_counts_only_hedges_alive(self):
        h = self.panel([shares(), option(10, 180.0, E_MAR, pid=2), option(10, 170.0, E_MAY, pid=3)])
        by = {e["expiry"]: e for e in h["expiries"]}
        # at March expiry both puts are alive: min of 1000 S + 1000 (180-S)+ + 1000 (170-S)+
        assert by[E_MAR.isoformat()]["floor_value"] == pytest.approx(180_000)
        assert by[E_MAR.isoformat()]["hedge_ratio"] == 2.0
        assert by[E_MAY.isoformat()]["floor_value"] == pytest.approx(170_000)
        assert h["floor"]["expiry"] == E_MAR.isoformat()
        assert h["hedge_ratio"] == 2.0

    def test_hedge_cost_per_year_uses_each_legs_tenor(self):
        opened = E_MAY - timedelta(days=146)  # 0.4 years
        h = self.panel([shares(), option(10, 180.0, E_MAY, cost=3.5, opened=opened)])
        assert h["cost"]["paid"] == pytest.approx(3_500)
        assert h["cost"]["paid_pct"] == pytest.approx(1.75)
        assert h["cost"]["paid_pct_per_year"] == pytest.approx(1.75 / 0.4)

    def test_warns_when_a_hedge_expires_soon(self):
        h = self.panel([shares(), option(10, 180.0, TODAY + timedelta(days=10))], days=21)
        codes = [w["code"] for w in h["warnings"]]
        assert codes == ["hedge_expiring"]
        h = self.panel([shares(), option(10, 180.0, TODAY + timedelta(days=10))], days=7)
        assert h["warnings"] == []

    def test_warns_about_deep_itm_short_call_near_expiry(self):
        near = TODAY + timedelta(days=5)
        h = self.panel([shares(), option(10, 180.0, E_MAY), option(-10, 180.0, near, True, pid=3)])
        risk = [w for w in h["warnings"] if w["code"] == "assignment_risk"]
        assert len(risk) == 1 and risk[0]["position_id"] == 3
        # same call far from expiry, or out of the money, is not flagged
        h = self.panel([shares(), option(10, 180.0, E_MAY), option(-10, 180.0, E_MAY, True, pid=3)])
        assert not [w for w in h["warnings"] if w["code"] == "assignment_risk"]
        h = self.panel([shares(), option(10, 180.0, E_MAY), option(-10, 230.0, near, True, pid=3)])
        assert not [w for w in h["warnings"] if w["code"] == "assignment_risk"]

    def test_unhedged_and_stale_warnings(self):
        h = self.panel([shares()], stale=True)
        assert {w["code"] for w in h["warnings"]} == {"unhedged", "stale_data"}
        assert h["floor"] is None
        assert h["hedge_ratio"] == 0


class TestScenarios:
    def test_matrices(self, chain_vols):
        positions = [shares(), option(10, 180.0, E_MAY)]
        m = mkt()
        valued = val.value_positions(positions, m, chain_vols)
        sc = val.scenarios(positions, valued, m, chain_vols, chosen=TODAY + timedelta(days=30))
        moves = sc["spot_moves_pct"]
        assert moves[0] == -30 and moves[-1] == 30 and 0 in moves
        zero = moves.index(0)
        sv = sc["spot_vol"]
        mid = sc["vol_shifts_pts"].index(0.0)
        assert sv["value"][mid][zero] == pytest.approx(valued["totals"]["value"], abs=0.01)
        assert sv["change"][mid][zero] == pytest.approx(0, abs=0.01)
        # +10 vol points, spot unchanged: QuantLib at the shifted vol
        vol = surface_vol(SPOT, 180, E_MAY)
        top = sc["vol_shifts_pts"].index(10.0)
        expected = 200_000 + 1000 * ql_price(SPOT, 180.0, E_MAY, vol + 0.10, False)
        assert sv["value"][top][zero] == pytest.approx(expected, rel=1e-5)
        # −20 % spot, −10 vol points
        low = sc["vol_shifts_pts"].index(-10.0)
        j = moves.index(-20)
        expected = 160 * 1000 + 1000 * ql_price(160.0, 180.0, E_MAY, vol - 0.10, False)
        assert sv["value"][low][j] == pytest.approx(expected, rel=1e-5)
        # on the hedge's expiry the puts are worth intrinsic: floor of 180,000 below 180
        sd = sc["spot_date"]
        assert sd["rows"][1].startswith("hedge expiry")
        assert sd["value"][1][0] == pytest.approx(180_000)
        assert sd["value"][1][moves.index(-10)] == pytest.approx(180_000)
        assert sd["value"][1][-1] == pytest.approx(260_000)
        assert sd["pnl"][1][-1] == pytest.approx(260_000 - 183_500)
        # chosen date: QuantLib with 30 fewer days
        later = TODAY + timedelta(days=30)
        expected = 200_000 + 1000 * ql_price(SPOT, 180.0, E_MAY, vol, False, today=later)
        assert sd["value"][2][zero] == pytest.approx(expected, rel=1e-5)
