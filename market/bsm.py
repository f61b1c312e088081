"""Black–Scholes–Merton, vectorised over whole chains: price and analytic Greeks (exact; the
reference for European exercise), and the types every pricing function takes and returns.

Units (DESIGN.md §4): ``t`` in years (ACT/365), ``rate`` and ``div_yield`` continuously
compounded decimals, ``vol`` a decimal (0.2 = 20 %). Greeks: delta per share, gamma per $1,
theta per calendar day, vega per 1 volatility point, rho per 1 rate point. Bad inputs never
raise: a contract with a non-finite or negative spot, strike, time or vol gets ``nan``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, TypeVar

import numpy as np
from scipy.special import ndtr

ArrayLike = Any
Field = TypeVar("Field")  # a field of Contracts: array-like as given, an ndarray once flat
INV_SQRT_2PI = 0.3989422804014327
DAYS_PER_YEAR = 365.0

MODEL_BSM = "bsm"
MODEL_QDFP = "american-qdfp"
MODEL_LATTICE = "american-binomial-bbsr"


@dataclass(frozen=True, eq=False)
class Greeks:
    """Price and Greeks of a set of contracts, in the units above."""

    price: np.ndarray
    delta: np.ndarray
    gamma: np.ndarray
    theta: np.ndarray
    vega: np.ndarray
    rho: np.ndarray


@dataclass(frozen=True, eq=False)
class Priced(Greeks):
    """Price and Greeks of a set of contracts, and the model that produced them."""

    model: str


def as_arrays(*args: ArrayLike) -> list[np.ndarray]:
    """Broadcast to one shape; 0-d inputs become 1-element arrays (callers reshape results)."""
    arrs = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in args))
    return [np.ascontiguousarray(a) for a in arrs]


def sign_of(is_call: ArrayLike) -> np.ndarray:
    return np.where(np.asarray(is_call, dtype=bool), 1.0, -1.0)


class Contracts(NamedTuple, Generic[Field]):
    """A set of option contracts and their market inputs: what every pricing function takes.

    The fields broadcast against each other (scalars, arrays, or a mix), in the units above:
    ``spot`` and ``strike`` per share, ``t`` in years, ``rate``, ``div_yield`` and ``vol``
    decimals, ``is_call`` true for calls. Named fields, so that a rate and a yield cannot
    change places unnoticed; results come back in :attr:`shape`.
    """

    spot: Field
    strike: Field
    t: Field
    rate: Field
    div_yield: Field
    vol: Field
    is_call: Field

    @property
    def shape(self) -> tuple[int, ...]:
        """The broadcast shape of the fields: the shape of every result."""
        fields: tuple[ArrayLike, ...] = self
        return tuple(np.broadcast_shapes(*(np.shape(a) for a in fields)))

    def flat(self) -> Contracts[np.ndarray]:
        """The fields broadcast and flattened to 1-d float arrays, ``is_call`` a bool array:
        the form the engines work on, one element per contract."""
        S, K, T, r, q, sig, c = (a.ravel() for a in as_arrays(*self))
        return Contracts(S, K, T, r, q, sig, c > 0.5)

    def take(self, i: ArrayLike) -> Contracts[np.ndarray]:
        """The contracts at index ``i`` of flat contracts (:meth:`flat`)."""
        fields: tuple[ArrayLike, ...] = self
        return Contracts(*(a[i] for a in fields))


# ---------------------------------------------------------------------------------------------
# European (Black–Scholes–Merton)
# ---------------------------------------------------------------------------------------------


def bsm(contracts: Contracts) -> Greeks:
    """European prices and Greeks, in ``contracts.shape``."""
    shape = contracts.shape
    # Work on the fields as given (scalars stay scalars) so that nothing is broadcast or
    # copied that the arithmetic does not need; outputs are broadcast to the full shape.
    S, K, T, r, q, sig = (np.asarray(x, dtype=float) for x in contracts[:6])
    w = sign_of(contracts.is_call)
    tgt = shape or (1,)
    if S.ndim == 0:  # keep every intermediate an array (in-place ops need arrays)
        S = S.reshape(1)
    with np.errstate(all="ignore"):
        sqt = np.sqrt(T)
        v = sig * sqt
        dq = np.exp(-q * T)
        dr = np.exp(-r * T)
        fq = S * dq
        kr = K * dr
        d1 = np.log(fq / kr) / v
        d1 += 0.5 * v
        pdf = d1 * d1
        pdf *= -0.5
        np.exp(pdf, out=pdf)
        wd1 = w * d1
        n1 = ndtr(wd1)
        wd1 -= w * v  # w * d2
        n2 = ndtr(wd1)
        a = fq * n1  # discounted asset leg
        b = kr * n2  # discounted strike leg
        price = a - b
        price *= w
        delta = w * dq * n1
        fpdf = fq * pdf
        fpdf *= INV_SQRT_2PI
        gamma = fpdf / (S * S * v)
        vega = fpdf * (0.01 * sqt)
        theta = q * a
        theta -= r * b
        theta *= w
        theta -= (0.5 * sig / sqt) * fpdf
        theta *= 1.0 / DAYS_PER_YEAR
        rho = b * (0.01 * T)
        rho *= w
        # one reduction each instead of elementwise masks; nan anywhere fails these checks
        ok = bool(np.min(v) > 0) and bool(np.min(fq) > 0) and bool(np.isfinite(np.sum(d1)))
    out = [
        x if x.shape == tgt else np.array(np.broadcast_to(x, tgt))
        for x in (price, delta, gamma, theta, vega, rho)
    ]
    if not ok:
        with np.errstate(all="ignore"):
            bad = ~(np.isfinite(d1) & (v > 0) & (fq > 0))
        bS, bK, bT, br, bq, bsig, bw, bbad = (
            np.broadcast_to(x, tgt) for x in (S, K, T, r, q, sig, w, bad)
        )
        out = list(_bsm_degenerate(bbad, bS, bK, bT, br, bq, bsig, bw, tuple(out)))
    return Greeks(*(x.reshape(shape) for x in out))


def _bsm_degenerate(
    bad: np.ndarray,
    S: np.ndarray,
    K: np.ndarray,
    T: np.ndarray,
    r: np.ndarray,
    q: np.ndarray,
    sig: np.ndarray,
    w: np.ndarray,
    out: tuple[np.ndarray, ...],
) -> tuple[np.ndarray, ...]:
    """Zero time / zero vol / invalid inputs, element by element (rare path)."""
    price, delta, gamma, theta, vega, rho = (np.array(x, copy=True) for x in out)
    idx = np.nonzero(bad)
    s, k, tt, rr, qq, sg, ww = (x[idx] for x in (S, K, T, r, q, sig, w))
    valid = (
        np.isfinite(s)
        & np.isfinite(k)
        & np.isfinite(tt)
        & np.isfinite(rr)
        & np.isfinite(qq)
        & np.isfinite(sg)
        & (s >= 0)
        & (k >= 0)
        & (tt >= 0)
        & (sg >= 0)
    )
    with np.errstate(all="ignore"):
        dq = np.exp(-qq * tt)
        dr = np.exp(-rr * tt)
        fwd_payoff = ww * (s * dq - k * dr)
        itm = fwd_payoff > 0
        p = np.where(itm, fwd_payoff, 0.0)
        d = np.where(itm, ww * dq, 0.0)
        th = np.where(itm, ww * (qq * s * dq - rr * k * dr), 0.0) / DAYS_PER_YEAR
        rh = np.where(itm, ww * k * tt * dr, 0.0) * 0.01
    nan = np.nan
    price[idx] = np.where(valid, p, nan)
    delta[idx] = np.where(valid, d, nan)
    gamma[idx] = np.where(valid, 0.0, nan)
    theta[idx] = np.where(valid, th, nan)
    vega[idx] = np.where(valid, 0.0, nan)
    rho[idx] = np.where(valid, rh, nan)
    return price, delta, gamma, theta, vega, rho


def bsm_price(contracts: Contracts) -> np.ndarray:
    """European price only (cheaper than :func:`bsm` when the Greeks are not needed)."""
    S, K, T, r, q, sig, w = as_arrays(*contracts[:6], sign_of(contracts.is_call))
    with np.errstate(all="ignore"):
        v = sig * np.sqrt(T)
        fq = S * np.exp(-q * T)
        kr = K * np.exp(-r * T)
        d1 = np.log(fq / kr) / v + 0.5 * v
        price = w * (fq * ndtr(w * d1) - kr * ndtr(w * (d1 - v)))
    bad = ~(v > 0) | ~(S > 0) | ~(K > 0) | ~np.isfinite(d1)
    if bad.any():
        z = np.zeros_like(price)
        price = _bsm_degenerate(bad, S, K, T, r, q, sig, w, (price, z, z, z, z, z))[0]
    return price.reshape(contracts.shape)
