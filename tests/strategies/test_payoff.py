"""Payoff grids against leg-by-leg sums (intrinsic at expiry, QuantLib before it)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pytest
import QuantLib as ql

from market.data import MarketInputs
from strategies.legs import Leg
from strategies.payoff import expiry_pnl, pnl_surface, price_grid

AS_OF = datetime(2025, 1, 6, 15, 0, tzinfo=UTC)
EXP = date(2025, 4, 17)
CTX = MarketInputs("GLD", 200.0, 0.04, 0.0, AS_OF)


def legs() -> list[Leg]:
    return [
        Leg("stock", 300, price=200.0),
        Leg("put", 3, 190.0, EXP, 4.1, iv=0.18, t=0.28),
        Leg("put", -3, 170.0, EXP, 1.2, iv=0.22, t=0.28),
        Leg("call", -2, 215.0, EXP, 2.3, iv=0.16, t=0.28),
    ]


def test_expiry_pnl_is_the_sum_of_leg_intrinsics() -> None:
    grid = price_grid(200.0, extra=[190, 170, 215])
    got = expiry_pnl(legs(), grid)
    for i, s in enumerate(grid):
        total = 0.0
        for lg in legs():
            if lg.kind == "stock":
                total += lg.quantity * (s - lg.price)
            elif lg.kind == "call":
                total += lg.quantity * 100 * (max(s - lg.strike, 0) - lg.price)
            else:
                total += lg.quantity * 100 * (max(lg.strike - s, 0) - lg.price)
        assert got[i] == pytest.approx(total, abs=1e-9)


def test_surface_at_expiry_horizon_equals_expiry_pnl() -> None:
    grid = np.array([150.0, 180.0, 200.0, 230.0])
    surf = pnl_surface(CTX, legs(), grid, [0.28], style="european")
    np.testing.assert_allclose(surf.pnl[0], expiry_pnl(legs(), grid), atol=1e-9)


def _ql_european(s: float, k: float, t: float, vol: float, is_call: bool) -> float:
    today = ql.Date(6, 1, 2025)
    ql.Settings.instance().evaluationDate = today
    dc = ql.Actual365Fixed()
    maturity = today + int(round(t * 365))
    payoff = ql.PlainVanillaPayoff(ql.Option.Call if is_call else ql.Option.Put, k)
    opt = ql.VanillaOption(payoff, ql.EuropeanExercise(maturity))
    proc = ql.BlackScholesMertonProcess(
        ql.QuoteHandle(ql.SimpleQuote(s)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, 0.0, dc)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, 0.04, dc)),
        ql.BlackVolTermStructureHandle(ql.BlackConstantVol(today, ql.NullCalendar(), vol, dc)),
    )
    opt.setPricingEngine(ql.AnalyticEuropeanEngine(proc))
    return float(opt.NPV())


@pytest.mark.parametrize("shift", [0.0, 5.0])
def test_surface_before_expiry_matches_quantlib_leg_sum(shift: float) -> None:
    # Legs expiring in exactly 100 days; value 30 days from now → 70 days remain.
    t_leg = 100 / 365
    lg = [
        Leg("stock", 100, price=200.0),
        Leg("put", 1, 190.0, EXP, 4.0, iv=0.2, t=t_leg),
        Leg("call", -1, 210.0, EXP, 3.0, iv=0.25, t=t_leg),
    ]
    grid = np.array([170.0, 195.0, 220.0])
    surf = pnl_surface(CTX, lg, grid, [30 / 365], iv_shift=shift, style="european")
    for i, s in enumerate(grid):
        p = _ql_european(s, 190.0, 70 / 365, 0.2 + shift / 100, False)
        c = _ql_european(s, 210.0, 70 / 365, 0.25 + shift / 100, True)
        ref = 100 * (s - 200) + 100 * (p - 4.0) - 100 * (c - 3.0)
        assert surf.pnl[0, i] == pytest.approx(ref, abs=1e-6)


def test_american_surface_is_at_least_european() -> None:
    grid = np.linspace(150, 250, 11)
    one_put = [Leg("put", 1, 200.0, EXP, 5.0, iv=0.2, t=0.5)]
    am = pnl_surface(CTX, one_put, grid, [0.0], style="american")
    eu = pnl_surface(CTX, one_put, grid, [0.0], style="european")
    assert am.model == "american" and eu.model == "bsm"
    assert np.all(am.pnl >= eu.pnl - 1e-9)
    assert am.pnl[0, 0] > eu.pnl[0, 0]  # deep ITM put: early-exercise premium


def test_american_surface_matches_quantlib_qdfp() -> None:
    today = ql.Date(6, 1, 2025)
    ql.Settings.instance().evaluationDate = today
    dc = ql.Actual365Fixed()
    lg = [Leg("put", 2, 210.0, EXP, 9.0, iv=0.22, t=100 / 365)]
    grid = np.array([160.0, 200.0, 240.0])
    surf = pnl_surface(CTX, lg, grid, [30 / 365], style="american")
    assert surf.model == "american"
    for i, s in enumerate(grid):
        proc = ql.BlackScholesMertonProcess(
            ql.QuoteHandle(ql.SimpleQuote(s)),
            ql.YieldTermStructureHandle(ql.FlatForward(today, 0.0, dc)),
            ql.YieldTermStructureHandle(ql.FlatForward(today, 0.04, dc)),
            ql.BlackVolTermStructureHandle(ql.BlackConstantVol(today, ql.NullCalendar(), 0.22, dc)),
        )
        opt = ql.VanillaOption(
            ql.PlainVanillaPayoff(ql.Option.Put, 210.0), ql.AmericanExercise(today, today + 70)
        )
        opt.setPricingEngine(ql.QdFpAmericanEngine(proc, ql.QdFpAmericanEngine.accurateScheme()))
        ref = 200 * (opt.NPV() - 9.0)
        assert surf.pnl[0, i] == pytest.approx(ref, abs=0.05)  # $0.05 on 2 contracts
