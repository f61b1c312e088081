"""Candidate generation from an expiry slice: sizing, pricing mode, the zero-cost collar."""

from __future__ import annotations

import numpy as np
import pytest

from strategies import candidates
from strategies.legs import TICK
from tests.strategies.conftest import SHARE_HEDGE_FAMILIES
from tests.strategies.legs import (
    ctx,
    expiry_slice,
)


def test_zero_cost_collar_solves_call_strike_within_one_tick() -> None:
    sl = expiry_slice()
    i_put = int(np.flatnonzero(~sl.is_call & (sl.strike == 95))[0])
    target = float(sl.ask[i_put])
    sol = candidates.solve_zero_cost_call(sl, target, 100.0, "ask_bid")
    assert sol is not None
    k_star, i_lo, i_hi = sol
    assert sl.strike[i_lo] <= k_star <= sl.strike[i_hi]
    # The call's bid, interpolated at K*, pays for the put within one tick.
    calls = sl.is_call & (sl.strike >= 100)
    bid_at_k = np.interp(k_star, sl.strike[calls], sl.bid[calls])
    assert abs(bid_at_k - target) <= TICK
    cands = candidates.generate_candidates(ctx(), [sl], 1000, "ask_bid")
    zc = [c for c in cands if c.family == "zero_cost_collar" and c.legs[1].strike == 95]
    assert zc, "no zero-cost collar generated"
    net = zc[0].legs[1].price - zc[0].legs[2].price
    # The listed strike nearest K* is off by at most one strike step's price change.
    step = abs(sl.bid[i_lo] - sl.bid[i_hi])
    assert abs(net) <= step + 1e-12
    assert zc[0].params["solved_call_strike"] == pytest.approx(k_star, abs=1e-4)


def test_candidates_sized_to_holding_and_priced_at_ask_bid() -> None:
    sl = expiry_slice()
    cands = candidates.generate_candidates(ctx(), [sl], 1050, "ask_bid")
    families = {c.family for c in cands}
    assert families >= SHARE_HEDGE_FAMILIES
    for c in cands:
        assert c.legs[0].kind == "stock" and c.legs[0].quantity == 1050
        for lg in c.legs[1:]:
            assert abs(lg.quantity) == 10
            assert lg.price == (lg.ask if lg.quantity > 0 else lg.bid)
    mid = candidates.generate_candidates(ctx(), [sl], 0, "mid")
    assert mid[0].legs[0].quantity == 100
    for c in mid:
        for lg in c.legs[1:]:
            assert lg.bid is not None and lg.ask is not None
            assert lg.price == pytest.approx((lg.bid + lg.ask) / 2)
