"""A binomial lattice for American options (Black–Scholes smoothed, Richardson extrapolated),
vectorised over contracts: an independent check of :func:`market.qdfp.american`, and the model
used where the fixed-point method does not apply (q < r < 0)."""

from __future__ import annotations

import numpy as np

from market.bsm import Contracts, bsm_price

# ---------------------------------------------------------------------------------------------
# Lattice (independent check)
# ---------------------------------------------------------------------------------------------


def _bbs(contracts: Contracts[np.ndarray], steps: int) -> np.ndarray:
    """Binomial tree with a Black–Scholes last step (BBS), vectorised over flat contracts.

    The tree is centred on the risk-neutral log drift (Jarrow–Rudd spacing, probabilities
    matched to the forward), so probabilities stay in (0, 1) for any drift/vol ratio.
    """
    S, K, T, r, q, sig, call = contracts
    dt = T / steps
    mu = (r - q - 0.5 * sig * sig) * dt
    sd = sig * np.sqrt(dt)
    u = np.exp(mu + sd)
    d = np.exp(mu - sd)
    disc = np.exp(-r * dt)
    p = (np.exp((r - q) * dt) - d) / (u - d)
    w = np.where(call, 1.0, -1.0)[:, None]
    j = np.arange(steps)  # nodes at step steps-1
    Sj = S[:, None] * u[:, None] ** j[None, :] * d[:, None] ** (steps - 1 - j[None, :])
    eur = bsm_price(
        Contracts(Sj, K[:, None], dt[:, None], r[:, None], q[:, None], sig[:, None], call[:, None])
    )
    V = np.maximum(eur, w * (Sj - K[:, None]))
    pu = (disc * p)[:, None]
    pd = (disc * (1 - p))[:, None]
    inv_d = (1.0 / d)[:, None]
    for i in range(steps - 2, -1, -1):
        Sj = Sj[:, : i + 1] * inv_d
        V = pu * V[:, 1 : i + 2] + pd * V[:, : i + 1]
        np.maximum(V, w * (Sj - K[:, None]), out=V)
    return V[:, 0]


def american_lattice(contracts: Contracts, steps: int = 800) -> np.ndarray:
    """American prices on a binomial lattice: BBS with two-point Richardson extrapolation
    (Broadie–Detemple BBSR), vectorised over contracts. Independent of :func:`american`."""
    flat = contracts.flat()
    S, K, T, r, q, sig, call = flat
    out = np.full(S.shape, np.nan)
    ok = (S > 0) & (K > 0) & (T > 0) & (sig > 0) & np.isfinite(S + K + T + r + q + sig)
    w = np.where(call, 1.0, -1.0)
    out = np.where((T == 0) & (S > 0) & (K > 0), np.maximum(w * (S - K), 0.0), out)
    if ok.any():
        i = np.nonzero(ok)[0]
        priced = flat.take(i)
        with np.errstate(all="ignore"):
            a = _bbs(priced, steps)
            b = _bbs(priced, steps // 2)
        out[i] = np.maximum(2 * a - b, np.maximum(w[i] * (S[i] - K[i]), 0.0))
    return out.reshape(contracts.shape)
