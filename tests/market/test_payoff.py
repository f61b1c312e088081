"""The one payoff at expiry: textbook values for stock, calls, puts and a collar."""

from __future__ import annotations

import numpy as np
import pytest

from market.payoff import KIND_CALL, KIND_NONE, KIND_PUT, KIND_STOCK, value_at_expiry


def test_collar_and_padding() -> None:
    # 100 shares, long 1 put at 90, short 1 call at 110 (units: contracts × 100), one padding leg;
    # second row: a bare long call.
    kind = np.array([[KIND_STOCK, KIND_PUT, KIND_CALL], [KIND_CALL, KIND_NONE, KIND_NONE]], np.int8)
    units = np.array([[100.0, 100.0, -100.0], [200.0, 0.0, 0.0]])
    strike = np.array([[0.0, 90.0, 110.0], [105.0, 0.0, 0.0]])
    s = np.array([[50.0, 90.0, 100.0, 130.0], [50.0, 105.0, 110.0, 130.0]])
    got = value_at_expiry(kind, units, strike, s)
    # Collar: floor 9,000 below the put, 100 × S between, capped at 11,000 above the call.
    assert got[0] == pytest.approx([9_000.0, 9_000.0, 10_000.0, 11_000.0])
    # Two call contracts: 200 × max(S − 105, 0).
    assert got[1] == pytest.approx([0.0, 0.0, 1_000.0, 5_000.0])
