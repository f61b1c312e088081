"""Option pricing, vectorised over whole chains.

* :func:`bsm` — Black–Scholes–Merton with a continuous dividend yield: price and analytic
  Greeks (exact; the reference for European exercise).
* :func:`american` — American exercise by the Andersen–Lake–Offengenbach fixed-point method
  (the algorithm of QuantLib's ``QdFpAmericanEngine``), vectorised across contracts: the early
  exercise boundary is solved on Chebyshev nodes in ``sqrt(tau)`` starting from Li's QD+
  approximation, with two Jacobi–Newton and two plain fixed-point sweeps of the "FP-B"
  equation, and the early-exercise premium is integrated with tanh-sinh quadrature.
* :func:`american_lattice` — a binomial lattice (Black–Scholes smoothed, Richardson
  extrapolated), vectorised over contracts; an independent check of :func:`american`.
* :func:`price_options` — price + Greeks for either style, with the model name.

Every function takes its contracts as one :class:`Contracts`: spot, strike, time, rate,
dividend yield, vol and call/put, numpy-broadcastable against each other.

Units (DESIGN.md §4): ``t`` in years (ACT/365), ``rate`` and ``div_yield`` continuously
compounded decimals, ``vol`` a decimal (0.2 = 20 %). Greeks: delta per share, gamma per $1,
theta per calendar day, vega per 1 volatility point, rho per 1 rate point.

Bad inputs never raise: a contract with a non-finite or negative spot, strike, time or vol gets
``nan`` in every output. ``t == 0`` prices at intrinsic value; ``vol == 0`` at the discounted
deterministic forward (European) or the best deterministic exercise time (American).
"""

from __future__ import annotations

import dataclasses

from market import qdfp
from market.bsm import (
    DAYS_PER_YEAR,
    INV_SQRT_2PI,
    MODEL_BSM,
    MODEL_LATTICE,
    MODEL_QDFP,
    Contracts,
    Greeks,
    Priced,
    bsm,
    bsm_price,
)
from market.lattice import american_lattice
from market.qdfp import american, american_greeks

# The pricing API in one place: the engines live in market.bsm, market.qdfp and market.lattice.
__all__ = [
    "DAYS_PER_YEAR",
    "INV_SQRT_2PI",
    "MODEL_BSM",
    "MODEL_LATTICE",
    "MODEL_QDFP",
    "Contracts",
    "Greeks",
    "Priced",
    "american",
    "american_greeks",
    "american_lattice",
    "bsm",
    "bsm_price",
    "price_options",
]

# ---------------------------------------------------------------------------------------------
# Public entry point
# ---------------------------------------------------------------------------------------------


def price_options(contracts: Contracts, style: str = "american") -> Priced:
    """Prices and Greeks for ``style`` "american" (QdFp; FD Greeks) or "european" (BSM).

    American Greeks come from the Greeks' exercise boundary (:data:`market.qdfp.GREEKS`, finer
    than the price path's); the price stays the price path's (:func:`american`, the one
    implied vols are solved against, so a contract priced at its own implied vol reproduces
    its quote).
    """
    if style == "european":
        g = bsm(contracts)
        model = MODEL_BSM
    elif style == "american":
        g = american_greeks(contracts)
        if qdfp.GREEKS != qdfp.PRICE:
            g = dataclasses.replace(g, price=american(contracts))
        model = MODEL_QDFP
    else:
        raise ValueError(f"style must be 'american' or 'european', not {style!r}")
    return Priced(g.price, g.delta, g.gamma, g.theta, g.vega, g.rho, model)
