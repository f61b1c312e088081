"""Implied volatility for whole chains at once (European and American).

Never raises for bad market data: a contract whose price cannot be matched gets ``iv = nan`` and
a reason code:

``""``                   solved
``"no_price"``           price missing, non-finite or <= 0
``"no_time"``            expired (t <= 0) or invalid inputs (spot/strike <= 0, nan)
``"below_intrinsic"``    price at or below the no-arbitrage lower bound (intrinsic value; for
                         European, the discounted forward intrinsic) — no time value to invert
``"above_upper_bound"``  price at or above the upper bound (call: spot, European ``S e^{-qT}``;
                         put: strike, European ``K e^{-rT}``) or needs vol above ``MAX_VOL``
``"no_convergence"``     the solver did not reach the tolerance (reported, never guessed)

European: Halley steps on ``log(price)`` of the out-of-the-money side (put–call parity moves
in-the-money prices there) from a Corrado–Miller start, bracketed with bisection; converges to
~1e-14 in vol.
American: the early-exercise premium is removed at the current vol and the rest inverted with the
European solver ("de-Americanisation"), then secant steps on the American price; each step is one
vectorised QdFp evaluation of the still-unsolved contracts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import ndtr

from market.pricing import INV_SQRT_2PI, Contracts, american, bsm_price

MAX_VOL = 10.0  # 1000 %
MIN_VOL = 1e-4
REASONS = ("", "no_price", "no_time", "below_intrinsic", "above_upper_bound", "no_convergence")
# internal integer codes (string arrays are slow to compare and assign)
OK, NO_PRICE, NO_TIME, BELOW, ABOVE, NO_CONV = range(6)
_REASON_ARRAY = np.array(REASONS, dtype="<U17")


@dataclass(frozen=True, eq=False)
class IVResult:
    iv: np.ndarray
    reason: np.ndarray  # dtype str ("" when solved)

    @property
    def ok(self) -> np.ndarray:
        return self.reason == ""


def _otm_price(
    sig: np.ndarray,
    fwd: np.ndarray,
    K: np.ndarray,
    df: np.ndarray,
    sqt: np.ndarray,
    w: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Black price, vega (per unit vol) and volga / vega (d1 d2 / sigma)."""
    with np.errstate(all="ignore"):
        v = sig * sqt
        d1 = np.log(fwd / K) / v + 0.5 * v
        d2 = d1 - v
        p = df * w * (fwd * ndtr(w * d1) - K * ndtr(w * d2))
        vega = df * fwd * np.exp(-0.5 * d1 * d1) * INV_SQRT_2PI * sqt
        volga_over_vega = d1 * d2 / sig
    return p, vega, volga_over_vega


def _european_solve(
    target: np.ndarray,
    fwd: np.ndarray,
    K: np.ndarray,
    df: np.ndarray,
    T: np.ndarray,
    w: np.ndarray,
    max_iter: int = 100,
) -> tuple[np.ndarray, np.ndarray]:
    """Vol for OTM prices ``target`` (0 < target < bound, all valid); returns (iv, converged)."""
    n = target.shape[0]
    sqt = np.sqrt(T)
    x = np.abs(np.log(fwd / K))
    with np.errstate(all="ignore"):
        # Start at the inflection point of price in vol (Manaster–Koehler), or the
        # Brenner–Subrahmanyam ATM estimate when the option is close to the money.
        s_infl = np.sqrt(2.0 * x / T)
        # Corrado–Miller on the undiscounted call price (OTM puts converted by parity)
        c = target / df + np.where(w < 0, fwd - K, 0.0)
        h = c - 0.5 * (fwd - K)
        disc = np.maximum(h * h - (fwd - K) ** 2 / np.pi, 0.0)
        s_cm = np.sqrt(2 * np.pi) / (fwd + K) * (h + np.sqrt(disc)) / sqt
        sig = np.where(np.isfinite(s_cm) & (s_cm > 0), s_cm, s_infl)
    sig = np.clip(np.nan_to_num(sig, nan=0.3), 0.01, 5.0)
    lo = np.zeros(n)
    hi = np.full(n, MAX_VOL)
    ltarget = np.log(target)
    done = np.zeros(n, bool)
    active = np.arange(n)
    for _ in range(max_iter):
        if active.size == 0:
            break
        s = sig[active]
        p, vega, vv = _otm_price(s, fwd[active], K[active], df[active], sqt[active], w[active])
        with np.errstate(all="ignore"):
            f = np.log(p) - ltarget[active]
            up = f > 0
            hi[active] = np.where(up, np.minimum(hi[active], s), hi[active])
            lo[active] = np.where(~up, np.maximum(lo[active], s), lo[active])
            # Halley on log(price): g = f', h = f'' = g * volga/vega - g^2
            g = vega / p
            newton = f / g
            denom = 1.0 - 0.5 * newton * (vv - g)
            step = np.where((denom > 0.5) & (denom < 2.0), newton / denom, newton)
            new = s - step
        a, b = lo[active], hi[active]
        bad = ~np.isfinite(new) | (new < a) | (new > b)
        new = np.where(bad, 0.5 * (a + b), new)
        exact = np.abs(f) < 1e-15
        new = np.where(exact, s, new)
        sig[active] = new
        # the step just taken was tiny: with quadratic/cubic convergence `new` is exact to
        # far below 1e-14 (bisection steps never count)
        conv = exact | (~bad & (np.abs(new - s) <= 1e-8 * (1.0 + s))) | (b - a < 1e-15 * b)
        done[active[conv]] = True
        active = active[~conv]
    return sig, done


def implied_vol(
    price: Any,
    spot: Any,
    strike: Any,
    t: Any,
    rate: Any,
    div_yield: Any,
    is_call: Any,
    style: str = "american",
) -> IVResult:
    """Implied vols for arrays of option prices (all arguments broadcastable)."""
    if style not in ("american", "european"):
        raise ValueError(f"style must be 'american' or 'european', not {style!r}")
    arrs = np.broadcast_arrays(
        *(np.asarray(a, dtype=float) for a in (price, spot, strike, t, rate, div_yield, is_call))
    )
    shape = arrs[0].shape
    P, S, K, T, r, q, c = (np.ravel(a).copy() for a in arrs)
    call = c > 0.5
    n = P.shape[0]
    iv = np.full(n, np.nan)
    code = np.zeros(n, dtype=np.int8)
    w = np.where(call, 1.0, -1.0)

    with np.errstate(all="ignore"):
        inputs_ok = np.isfinite(S) & np.isfinite(K) & np.isfinite(r) & np.isfinite(q)
        inputs_ok &= (S > 0) & (K > 0)
        no_time = ~inputs_ok | ~np.isfinite(T) | ~(T > 0)
        no_price = ~no_time & (~np.isfinite(P) | ~(P > 0))
        dq = np.exp(-q * T)
        dr = np.exp(-r * T)
        if style == "european":
            lower = np.maximum(w * (S * dq - K * dr), 0.0)
            upper = np.where(call, S * dq, K * dr)
        else:
            # American: at least intrinsic and the European lower bound; at most the larger of
            # exercising now and holding (negative rates/yields make holding worth more)
            lower = np.maximum(np.maximum(w * (S - K), 0.0), w * (S * dq - K * dr))
            upper = np.where(call, np.maximum(S, S * dq), np.maximum(K, K * dr))
        tol = 1e-12 * np.maximum(upper, 1.0)
    code[no_time] = NO_TIME
    code[no_price] = NO_PRICE
    pending = code == OK
    below = pending & (lower + tol >= P)
    above = pending & (upper - tol <= P)
    code[below] = BELOW
    code[above] = ABOVE
    todo = np.nonzero(code == OK)[0]
    if todo.size:
        # the contracts to solve, their vol still unknown
        quoted = Contracts(S, K, T, r, q, iv, call).take(todo)
        solve = _solve_european if style == "european" else _solve_american
        sol, ok, why = solve(P[todo], quoted)
        iv[todo] = np.where(ok, sol, np.nan)
        code[todo] = why
    return IVResult(iv.reshape(shape), _REASON_ARRAY[code].reshape(shape))


def _solve_european(
    P: np.ndarray, quoted: Contracts[np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """European inversion of prices ``P`` already inside the bounds; ``quoted`` are flat
    contracts whose vol is ignored."""
    S, K, T, r, q, _, call = quoted
    dr = np.exp(-r * T)
    fwd = S * np.exp((r - q) * T)
    w = np.where(call, 1.0, -1.0)
    itm = w * (fwd - K) > 0
    # the OTM side by put–call parity: C - P = df (F - K)
    otm = np.where(itm, P - w * dr * (fwd - K), P)
    wo = np.where(itm, -w, w)
    why = np.zeros(P.shape, dtype=np.int8)
    ok = otm > 0
    why[~ok] = BELOW
    sig = np.full(P.shape, np.nan)
    i = np.nonzero(ok)[0]
    if i.size:
        top = _otm_price(np.full(i.size, MAX_VOL), fwd[i], K[i], dr[i], np.sqrt(T[i]), wo[i])[0]
        too_high = otm[i] >= top
        why[i[too_high]] = ABOVE
        j = i[~too_high]
        if j.size:
            s, conv = _european_solve(otm[j], fwd[j], K[j], dr[j], T[j], wo[j])
            sig[j] = s
            why[j[~conv]] = NO_CONV
    return sig, why == OK, why


def _solve_american(
    P: np.ndarray, quoted: Contracts[np.ndarray], max_iter: int = 14
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """American inversion: de-Americanised European solves, then secant on the QdFp price;
    ``quoted`` are flat contracts whose vol is ignored."""
    S, K, T, r, q, _, call = quoted
    n = P.shape[0]
    why = np.zeros(n, dtype=np.int8)
    # Start: the European vol of the American price (clamped inside the European bounds).
    dq, dr = np.exp(-q * T), np.exp(-r * T)
    lo_e = np.maximum(np.where(call, 1.0, -1.0) * (S * dq - K * dr), 0.0)
    hi_e = np.where(call, S * dq, K * dr)
    start_price = np.clip(P, lo_e + 1e-9 * (hi_e - lo_e), hi_e - 1e-9 * (hi_e - lo_e))
    sig0, ok0, _ = _solve_european(start_price, quoted)
    sig = np.where(ok0 & np.isfinite(sig0), sig0, 0.3)
    sig = np.clip(sig, MIN_VOL, MAX_VOL)
    prev_sig = np.full(n, np.nan)
    prev_g = np.full(n, np.nan)
    lo = np.full(n, 0.0)
    hi = np.full(n, MAX_VOL)
    done = np.zeros(n, bool)
    active = np.arange(n)
    for k in range(max_iter):
        if active.size == 0:
            break
        a = active
        s = sig[a]
        at_s = quoted.take(a)._replace(vol=s)
        A = american(at_s)
        g = A - P[a]
        up = g > 0
        hi[a] = np.where(up, np.minimum(hi[a], s), hi[a])
        lo[a] = np.where(~up, np.maximum(lo[a], s), lo[a])
        scale = np.maximum(P[a], 1e-8)
        conv = np.abs(g) <= 1e-13 * scale
        # de-Americanise: European vol of (target - premium at the current vol)
        E = bsm_price(at_s)
        target = P[a] - (A - E)
        s_de, ok_de, _ = _solve_european(np.maximum(target, 1e-300), at_s)
        with np.errstate(all="ignore"):
            sec = s - g * (s - prev_sig[a]) / (g - prev_g[a])
        use_sec = (k >= 2) & np.isfinite(sec) & (sec > lo[a]) & (sec < hi[a])
        new = np.where(use_sec, sec, np.where(ok_de & np.isfinite(s_de), s_de, np.nan))
        inside = np.isfinite(new) & (new > lo[a]) & (new < hi[a])
        new = np.where(inside, new, 0.5 * (lo[a] + hi[a]))
        step_small = np.abs(new - s) <= 1e-12 * (1.0 + s)
        conv |= step_small
        prev_sig[a] = s
        prev_g[a] = g
        sig[a] = np.where(conv & ~step_small, s, new)
        done[a[conv]] = True
        active = a[~conv]
    # what is left: decide between out-of-range and genuine non-convergence
    if active.size:
        a = active
        left = quoted.take(a)
        at_min = american(left._replace(vol=np.full(a.size, MIN_VOL)))
        at_max = american(left._replace(vol=np.full(a.size, MAX_VOL)))
        why[a] = np.where(P[a] <= at_min, BELOW, np.where(P[a] >= at_max, ABOVE, NO_CONV))
    done &= np.isfinite(sig)
    why[~done & (why == OK)] = NO_CONV
    return sig, why == OK, why
