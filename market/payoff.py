"""Value at expiry of stock and option legs: the piecewise-linear payoff every floor, cap and
P&L-at-expiry figure is read from (the hedge panel of a book, the metrics of candidates).

Legs are columns of parallel arrays: a kind code, signed units (shares, or contracts × 100)
and a strike (ignored for stock). Options are worth their intrinsic value at expiry.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

KIND_NONE, KIND_STOCK, KIND_CALL, KIND_PUT = 0, 1, 2, 3

FloatArray = npt.NDArray[np.float64]


def value_at_expiry(
    kind: npt.NDArray[np.int8], units: FloatArray, strike: FloatArray, s: FloatArray
) -> FloatArray:
    """Value of each strategy at terminal prices ``s``.

    ``kind``, ``units`` and ``strike`` have shape (N, L): N strategies of L legs (kind
    ``KIND_NONE`` pads); ``s`` has shape (N, P). Returns (N, P): Σ units × payoff per leg, where
    the payoff per share is S for stock, max(S − K, 0) for a call and max(K − S, 0) for a put.
    """
    x = s[..., None]
    k = strike[:, None, :]
    kd = kind[:, None, :]
    pay = np.where(
        kd == KIND_STOCK,
        x,
        np.where(
            kd == KIND_CALL,
            np.maximum(x - k, 0.0),
            np.where(kd == KIND_PUT, np.maximum(k - x, 0.0), 0.0),
        ),
    )
    return np.asarray(np.sum(units[:, None, :] * pay, axis=-1), dtype=float)
