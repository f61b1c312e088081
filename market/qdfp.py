"""American options by the Andersen–Lake–Offengenbach fixed-point method (the algorithm of
QuantLib's ``QdFpAmericanEngine``), vectorised across contracts: the early-exercise boundary is
solved on Chebyshev nodes in ``sqrt(tau)`` starting from Li's QD+ approximation, with
Jacobi–Newton and plain fixed-point sweeps of the "FP-B" equation, and the early-exercise
premium is integrated with tanh-sinh quadrature. Greeks are exact derivatives of that price
(the boundary does not depend on spot), theta a central difference in time.

One algorithm with its Greeks (~780 lines): splitting it would scatter one derivation.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.special import ndtr

from market.bsm import DAYS_PER_YEAR, INV_SQRT_2PI, Contracts, Greeks, bsm, bsm_price
from market.lattice import american_lattice

# ---------------------------------------------------------------------------------------------
# American: Andersen–Lake–Offengenbach fixed point (QD+ start, FP-B iteration)
# ---------------------------------------------------------------------------------------------

# Accuracy knobs (checked against QuantLib's QdFpAmericanEngine accurate scheme in the tests).
N_NODES = 8  # Chebyshev (second kind) nodes for the boundary in sqrt(tau)
N_FP = 6  # Gauss–Legendre nodes for the fixed-point integrals (after a cosine substitution)
N_PRICE = 48  # tanh-sinh nodes for the early-exercise premium integral
TS_RANGE = 3.0  # tanh-sinh abscissae u in [-3, 3]: t/T from 2e-14 to 1 - 2e-14
N_HALLEY = 2  # QD+ Halley iterations for the initial boundary, on every node
N_HALLEY_MORE = 6  # further iterations, on the nodes that have not settled
N_NEWTON = 2  # Jacobi–Newton fixed-point sweeps
N_NAIVE = 2  # plain fixed-point sweeps
CHUNK = 512  # contracts per vectorised block (keeps temporaries cache-sized)
QD_BLOCK = 1024  # contracts per QD+ start (elementwise work on (contracts x nodes) arrays)


@dataclass(frozen=True)
class Accuracy:
    """Discretisation of the fixed point: boundary nodes, fixed-point quadrature nodes, premium
    nodes, Jacobi-Newton sweeps and plain sweeps."""

    nodes: int
    fp: int
    premium: int
    newton: int
    naive: int
    # A finer scheme, if any, for the rate bumps (rho) of the contracts whose put-space dividend
    # exceeds the rate (calls with r > q, puts with q > r): there the boundary starts at K r/q
    # and has a knee in sqrt(tau) that moves with r - q, which 12 nodes resolve well enough
    # for the price, delta, gamma, theta and vega but not for the derivative in r.
    rho_q_above_r: Accuracy | None = None


# Prices and the IV solve (which prices many times) use the fast scheme: within 1e-4 of
# QuantLib's accurate scheme on prices. Greeks are derivatives of the price, so the error of the
# boundary shows up magnified in them; they use FINE (12 boundary nodes, 12 fixed-point nodes,
# 64 premium nodes, seven sweeps): every Greek within ~1e-4 of QuantLib off the exercise band,
# at ~2.6x the cost of Greeks on PRICE (docs/benchmarks.md, "American Greeks against
# QuantLib"). One scheme for every contract, so no Greek jumps where a contract would cross a
# switching threshold. The vol and rate bumps cannot start from the unbumped boundary with fewer
# sweeps: the plain sweeps contract slowly, so a warm start captures only part of the
# boundary's derivative (vega off by 5e-2 after two sweeps, 7e-3 after four).
PRICE = Accuracy(N_NODES, N_FP, N_PRICE, N_NEWTON, N_NAIVE)
FINE = Accuracy(
    nodes=12, fp=12, premium=64, newton=2, naive=5, rho_q_above_r=Accuracy(16, 16, 64, 2, 8)
)
GREEKS = FINE  # the default of american_greeks


def _cheb_matrix(nodes: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Barycentric interpolation matrix from values at 2nd-kind Chebyshev nodes to points x."""
    n = nodes.shape[0]
    wts = (-1.0) ** np.arange(n)
    wts[0] *= 0.5
    wts[-1] *= 0.5
    diff = x[:, None] - nodes[None, :]
    exact = np.abs(diff) < 1e-15
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = wts / diff
        mat = terms / terms.sum(axis=1, keepdims=True)
    hit = exact.any(axis=1)
    mat[hit] = exact[hit].astype(float)
    return mat


@dataclass(frozen=True)
class _Scheme:
    z: np.ndarray  # boundary nodes in [-1, 1], z = 2 sqrt(tau/T) - 1
    s2: np.ndarray  # (tau_i / T) for each node
    fp_frac: np.ndarray  # (n, l) u/tau_i at the quadrature points (time-to-maturity of B(u))
    fp_rem: np.ndarray  # (n, l) (tau_i - u)/tau_i
    fp_w: np.ndarray  # (l,) weights for  integral over u in [0, tau_i]  (times tau_i)
    fp_interp: np.ndarray  # (n, n*l) -> H at B(u) points: H_nodes @ fp_interp
    pr_t: np.ndarray  # (p,) t/T at price-integral points
    pr_w: np.ndarray  # (p,) weights for integral over t in [0, T]  (times T)
    pr_interp: np.ndarray  # (n, p): H at tau = T - t


@lru_cache(maxsize=8)
def _scheme(n: int, l_fp: int, p: int) -> _Scheme:
    z = -np.cos(np.pi * np.arange(n) / (n - 1))
    s = 0.5 * (1.0 + z)  # sqrt(tau_i / T)
    # Fixed-point integrals over u in [0, tau]: u = tau (1 - cos phi)/2 makes both endpoint
    # square-root behaviours (B near u=0 and d(tau-u) near u=tau) smooth in phi.
    x, wx = np.polynomial.legendre.leggauss(l_fp)
    phi = 0.5 * np.pi * (x + 1.0)
    wphi = 0.5 * np.pi * wx
    frac = 0.5 * (1.0 - np.cos(phi))  # u / tau
    w_u = wphi * 0.5 * np.sin(phi)  # du / tau
    # B(u): z(u) = 2 sqrt(u/T) - 1 = 2 s_i sqrt(frac) - 1
    zu = (2.0 * s[:, None] * np.sqrt(frac)[None, :] - 1.0).ravel()
    fp_interp = _cheb_matrix(z, zu).T  # (n, n*l)
    # Premium integral over t in [0, T]: t = T sin^2(theta); B at tau = T - t = T cos^2(theta).
    # Premium integral over t in [0, T] by tanh-sinh: t/T = (1 + tanh(pi/2 sinh u)) / 2 puts
    # nodes doubly-exponentially close to both ends, so the thin layer near t = 0 (where the
    # spot derivatives of the integrand peak for a spot just above the boundary) and the
    # square-root behaviour of the boundary near t = T are both resolved.
    hstep = 2.0 * TS_RANGE / (p - 1)
    u = hstep * np.arange(p) - TS_RANGE
    sh = np.pi * np.sinh(u)
    pr_t = 1.0 / (1.0 + np.exp(-sh))  # t / T
    rem = 1.0 / (1.0 + np.exp(sh))  # tau / T = 1 - t / T, without cancellation
    pr_w = hstep * 0.5 * np.pi * np.cosh(u) * 2.0 * pr_t * rem
    ztau = 2.0 * np.sqrt(rem) - 1.0
    pr_interp = _cheb_matrix(z, ztau).T  # (n, p)
    return _Scheme(
        z=z,
        s2=s * s,
        fp_frac=np.broadcast_to(frac, (n, l_fp)).copy(),
        fp_rem=np.broadcast_to(1.0 - frac, (n, l_fp)).copy(),
        fp_w=w_u,
        fp_interp=fp_interp,
        pr_t=pr_t,
        pr_w=pr_w,
        pr_interp=pr_interp,
    )


def _qdplus_boundary(
    tau: np.ndarray, r: np.ndarray, q: np.ndarray, sig: np.ndarray, xmax: np.ndarray
) -> np.ndarray:
    """Li's QD+ approximation of the put exercise boundary (strike 1), Halley iterations.

    All arrays have the same shape (contract x node); ``tau > 0`` and ``r > 0``.
    """
    with np.errstate(all="ignore"):
        s2 = sig * sig
        v = sig * np.sqrt(tau)
        dr = np.exp(-r * tau)
        dq = np.exp(-q * tau)
        omega = 2.0 * (r - q) / s2
        om1 = omega - 1.0
        h = 1.0 - dr
        root = np.sqrt(om1 * om1 + 8.0 * r / (s2 * h))
        lam = 0.5 * (-om1 - root)
        lamp = 2.0 * r / (s2 * h * h * root)
        den = 2.0 * lam + omega - 1.0
        alpha = 2.0 * dr * r / (s2 * den)
        beta = alpha * (1.0 / h + lamp / den) - lam
        a_rdr = alpha / (r * dr)
        xmin = 1e-12 * xmax
        # loop invariants
        inv_v = 1.0 / v
        c0 = np.log(dq / dr) * inv_v + 0.5 * v  # dp = log(x) / v + c0
        k1 = (r - q) * inv_v
        i2t = 0.5 / tau
        rdr = r * dr
        qdq = q * dq
        hs = 0.5 * s2 * inv_v * dq
        dq_inv_v = dq * inv_v
        one_beta = 1.0 + beta
        inv = {
            "inv_v": inv_v, "c0": c0, "v": v, "dq": dq, "dr": dr, "rdr": rdr, "q": q,
            "hs": hs, "k1": k1, "i2t": i2t, "qdq": qdq, "beta": beta, "a_rdr": a_rdr,
            "dq_inv_v": dq_inv_v, "one_beta": one_beta, "xmin": xmin,
        }  # fmt: skip

        def halley(x: np.ndarray, c: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
            xs = np.maximum(x, 1e-300)
            dp = np.log(xs) * c["inv_v"] + c["c0"]
            dm = dp - c["v"]
            Np = ndtr(-dp)
            Nm = ndtr(-dm)
            ph = np.exp(-0.5 * dp * dp) * INV_SQRT_2PI
            xdq_np = xs * c["dq"] * Np
            npv = c["dr"] * Nm - xdq_np
            theta = c["rdr"] * Nm - c["q"] * xdq_np - c["hs"] * xs * ph
            charm = -(c["dq"] * ph * (c["k1"] - dm * c["i2t"]) + c["qdq"] * Np)
            one_m = 1.0 - c["dq"] * Np
            f = one_m * xs - c["beta"] * (1.0 - xs - npv) + c["a_rdr"] * theta
            phdv = ph * c["dq_inv_v"]
            fp = one_m * c["one_beta"] + phdv + c["a_rdr"] * charm
            gamma = phdv / xs
            colour = gamma * (c["q"] + c["k1"] * dp + (1.0 - dp * dm) * c["i2t"])
            fpp = gamma * (c["one_beta"] - dp * c["inv_v"]) + c["a_rdr"] * colour
            lf = f * fpp / (fp * fp)
            step = f / fp / (1.0 - 0.5 * lf)
            x_new = np.maximum(c["xmin"], x - step)
            ok = np.isfinite(x_new)
            return np.where(ok, x_new, x), np.where(ok, np.abs(x_new - x), 0.0)

        # Start from a Bjerksund-Stensland-like trigger (from xmax at tau = 0 towards the
        # perpetual put's boundary), closer to the QD+ root than xmax: 2.5 Halley steps per node
        # instead of 4.3 on the benchmark chain, to the same root (prices within 1e-13).
        b_ = r - q
        pb = 0.5 - b_ / s2 - np.sqrt((b_ / s2 - 0.5) ** 2 + 2.0 * r / s2)
        binf = pb / (pb - 1.0)
        x = binf + (xmax - binf) * np.exp(-(np.abs(b_) * tau + 2.0 * v) * xmax / (xmax - binf))
        x = np.where(np.isfinite(x) & (x > 0) & (x <= xmax), x, xmax)
        for _ in range(N_HALLEY):
            x, moved = halley(x, inv)
        # The nodes still moving (about 40 %, then 30 %, then a few: short maturities at high
        # vol start far from the root) get more steps, on those nodes only.
        flat = {
            k: (a if a.shape == x.shape else np.broadcast_to(a, x.shape)).ravel()
            for k, a in inv.items()
        }
        xf = x.ravel()
        for _ in range(N_HALLEY_MORE):
            idx = np.flatnonzero(moved > 1e-6 * x)
            if idx.size == 0:
                break
            sub = {k: a[idx] for k, a in flat.items()}
            xf[idx], moved_sub = halley(xf[idx], sub)
            moved = np.zeros_like(x)
            moved.ravel()[idx] = moved_sub
        x = np.where(np.isfinite(x) & (x > 0), np.minimum(x, xmax), xmax)
    return x


def _qd_start(
    T: np.ndarray, r: np.ndarray, q: np.ndarray, sig: np.ndarray, sch: _Scheme
) -> tuple[np.ndarray, np.ndarray]:
    """``(b, xmax)``: the QD+ boundary of a strike-1 put on the scheme's nodes 1.. (shape
    (m, n-1)) and its limit at expiry, ``min(1, r/q)``."""
    with np.errstate(all="ignore"):
        xmax = np.where(q > 0, np.minimum(1.0, r / np.where(q > 0, q, 1.0)), 1.0)
    tau = T[:, None] * sch.s2[None, 1:]  # (m, n-1), all > 0
    shape = tau.shape
    b = _qdplus_boundary(
        tau,
        np.broadcast_to(r[:, None], shape),
        np.broadcast_to(q[:, None], shape),
        np.broadcast_to(sig[:, None], shape),
        np.broadcast_to(xmax[:, None], shape),
    )
    return b, xmax


def _chunks(
    idx: np.ndarray, T: np.ndarray, r: np.ndarray, q: np.ndarray, sig: np.ndarray, sch: _Scheme
) -> Iterator[tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]]:
    """Contract indices in chunks of CHUNK, each with its QD+ start. The start (Halley steps,
    elementwise on small arrays, so bound by numpy's per-call overhead) is computed for
    QD_BLOCK contracts at once; the fixed-point sweeps, whose temporaries carry a quadrature
    axis, run on the CHUNK-sized pieces."""
    for big in range(0, idx.size, QD_BLOCK):
        j = idx[big : big + QD_BLOCK]
        b, xmax = _qd_start(T[j], r[j], q[j], sig[j], sch)
        for start in range(0, j.size, CHUNK):
            piece = slice(start, start + CHUNK)
            yield j[piece], (b[piece], xmax[piece])


def _put_boundary(
    T: np.ndarray,
    r: np.ndarray,
    q: np.ndarray,
    sig: np.ndarray,
    sch: _Scheme,
    acc: Accuracy = PRICE,
    start: tuple[np.ndarray, np.ndarray] | None = None,
) -> _Boundary:
    """Exercise boundary of strike-1 American puts (``r > 0``, ``T > 0``, ``sig > 0``) on the
    scheme's nodes, from the QD+ ``start`` (:func:`_qd_start`, computed here if not given)."""
    m = T.shape[0]
    n = sch.z.shape[0]
    b, xmax = _qd_start(T, r, q, sig, sch) if start is None else start
    rc, qc, sc, xc = r[:, None], q[:, None], sig[:, None], xmax[:, None]
    tau = T[:, None] * sch.s2[None, 1:]  # (m, n-1), all > 0
    H = np.zeros((m, n))
    with np.errstate(all="ignore"):
        H[:, 1:] = np.log(b / xc) ** 2
    H = np.where(np.isfinite(H), H, 0.0)

    l_fp = sch.fp_w.shape[0]
    frac = sch.fp_frac[1:]  # (n-1, l)
    rem = sch.fp_rem[1:]
    tau3 = tau[:, :, None]  # (m, n-1, 1)
    u = tau3 * frac[None]  # (m, n-1, l) time-to-maturity at which B is needed
    tr = tau3 * rem[None]  # tau - u  (> 0)
    r3, q3, s3 = rc[:, :, None], qc[:, :, None], sc[:, :, None]
    lxmax = np.log(xmax)[:, None]
    with np.errstate(all="ignore"):
        vr = s3 * np.sqrt(tr)
        inv_vr = 1.0 / vr
        # d+(tau-u, b/B(u)) = (log b - log B(u)) / vr + c_plus, log B(u) = log xmax - sqrt(H)
        c_plus = (r3 - q3) * tr * inv_vr + 0.5 * vr
        eru = np.exp(r3 * u) * (sch.fp_w * tau3)  # quadrature weights folded in
        equ = np.exp(q3 * u) * (sch.fp_w * tau3)
        vt = sc * np.sqrt(tau)
        dk_r = (r - q)[:, None] * tau
        alpha = np.exp(-(rc - qc) * tau)

    # only the quadrature points of nodes 1.. (node 0, at tau = 0, has none)
    interp = np.ascontiguousarray(sch.fp_interp[:, l_fp:])

    def evaluate(bnode: np.ndarray, with_derivative: bool) -> tuple[np.ndarray, ...]:
        dp = (H @ interp).reshape(m, n - 1, l_fp)
        with np.errstate(all="ignore"):
            lk = np.log(bnode)
            np.maximum(dp, 0.0, out=dp)
            np.sqrt(dp, out=dp)
            dp += (lk - lxmax)[:, :, None]
            dp *= inv_vr
            dp += c_plus
            ndp = ndtr(dp)
            dp -= vr
            ndm = ndtr(dp)
            ni = np.einsum("ijk,ijk->ij", eru, ndm)
            di = np.einsum("ijk,ijk->ij", equ, ndp)
            dpk = (lk + dk_r) / vt + 0.5 * vt
            dmk = dpk - vt
            N = ndtr(dmk) + rc * ni
            D = ndtr(dpk) + qc * di
            fv = alpha * N / D
            if not with_derivative:
                return (fv,)
            c = 1.0 / (bnode * vt)
            Nd = np.exp(-0.5 * dmk * dmk) * INV_SQRT_2PI * c
            Dd = np.exp(-0.5 * dpk * dpk) * INV_SQRT_2PI * c
            fd = alpha * (Nd / D - Dd * N / (D * D))
            return fv, fd

    b_lo = 1e-12 * xc

    def set_nodes(bnew: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            bnew = np.where(np.isfinite(bnew) & (bnew > 0), bnew, bnode)
            np.maximum(bnew, b_lo, out=bnew)
            np.minimum(bnew, xc, out=bnew)
            lb = bnew / xc
            np.log(lb, out=lb)
            np.square(lb, out=H[:, 1:])
        return bnew

    bnode = b
    for _ in range(acc.newton):
        fv, fd = evaluate(bnode, True)
        with np.errstate(all="ignore"):
            bnew = bnode - (fv - bnode) / (fd - 1.0)
        bnode = set_nodes(bnew)
    for _ in range(acc.naive):
        (fv,) = evaluate(bnode, False)
        bnode = set_nodes(fv)
    return _Boundary(T, r, q, sig, H, xmax, sch)


@dataclass(frozen=True, eq=False)
class _Boundary:
    """The exercise boundary of strike-1 American puts (one row per contract) on a scheme's
    nodes, with the inputs :func:`_put_boundary` solved it for:
    ``H[:, i] = log(B(tau_i)/xmax)**2``, ``H[:, 0] = 0``.

    Solved once per contract, then the early-exercise premium is evaluated at as many spots as
    wanted: the boundary does not depend on spot.
    """

    T: np.ndarray
    r: np.ndarray
    q: np.ndarray
    sig: np.ndarray
    H: np.ndarray
    xmax: np.ndarray
    sch: _Scheme

    def today(self) -> np.ndarray:
        """The boundary now: at or below it the put is exercised."""
        return self.xmax * np.exp(-np.sqrt(np.maximum(self.H[:, -1], 0.0)))

    def premium(self, x: np.ndarray) -> np.ndarray:
        """Early-exercise premium of a strike-1 put at spot(s) ``x`` (shape (m,) or (m, k))."""
        T, sch = self.T, self.sch
        Hp = self.H @ sch.pr_interp  # (m, p)
        t = T[:, None] * sch.pr_t[None, :]
        rc, qc, sc = self.r[:, None], self.q[:, None], self.sig[:, None]
        with np.errstate(all="ignore"):
            v = sc * np.sqrt(t)
            a = rc * np.exp(-rc * t)
            c = qc * np.exp(-qc * t)
            wts = sch.pr_w[None, :] * T[:, None]
            a *= wts
            c *= wts
            lb = np.log(self.xmax)[:, None] - np.sqrt(np.maximum(Hp, 0.0))
            inv_v = 1.0 / v
            const = ((rc - qc) * t - lb) * inv_v + 0.5 * v  # d+ = log(x) / v + const
            xs = x if x.ndim == 2 else x[:, None]
            out = np.empty(xs.shape)
            for j in range(xs.shape[1]):
                xj = xs[:, j : j + 1]
                mdp = np.log(xj) * inv_v
                mdp += const
                np.negative(mdp, out=mdp)  # -d+
                out[:, j] = np.einsum("ij,ij->i", a, ndtr(mdp + v)) - xj[:, 0] * np.einsum(
                    "ij,ij->i", c, ndtr(mdp)
                )
        return out if x.ndim == 2 else out[:, 0]

    def premium_spot_derivatives(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Premium of a strike-1 put at spot ``x`` (m,) and its first two derivatives in ``x``.

        The boundary does not depend on spot, so the derivatives are taken under the integral
        sign: exact derivatives of the same quadrature that gives the price, with no step size.
        """
        T, sch = self.T, self.sch
        Hp = self.H @ sch.pr_interp  # (m, p)
        t = T[:, None] * sch.pr_t[None, :]
        rc, qc, sc = self.r[:, None], self.q[:, None], self.sig[:, None]
        xc = x[:, None]
        with np.errstate(all="ignore"):
            v = sc * np.sqrt(t)
            wts = sch.pr_w[None, :] * T[:, None]
            a = rc * np.exp(-rc * t) * wts
            c = qc * np.exp(-qc * t) * wts
            lb = np.log(self.xmax)[:, None] - np.sqrt(np.maximum(Hp, 0.0))
            dp = (np.log(xc) - lb + (rc - qc) * t) / v + 0.5 * v
            dm = dp - v
            pdf_p = np.exp(-0.5 * dp * dp) * INV_SQRT_2PI
            pdf_m = np.exp(-0.5 * dm * dm) * INV_SQRT_2PI
            n_p = ndtr(-dp)
            prem = np.einsum("ij,ij->i", a, ndtr(-dm)) - x * np.einsum("ij,ij->i", c, n_p)
            a_pm = a * pdf_m / v
            c_pp = c * pdf_p / v
            d1 = (np.sum(c_pp * xc - a_pm, axis=1)) / x - np.einsum("ij,ij->i", c, n_p)
            d2 = np.sum(c_pp * (1.0 - dp / v) + a_pm * (1.0 + dm / v) / xc, axis=1) / x
        return prem, d1, d2


def _american_put_core(
    x: np.ndarray, boundary: _Boundary, eur: np.ndarray | None = None
) -> np.ndarray:
    """Strike-1 American put at spot columns ``x`` (m, k) given its exercise ``boundary``;
    ``eur``, if given, is the European put at ``x``."""
    bd = boundary
    prem = bd.premium(x)
    if eur is None:
        eur = bsm_price(
            Contracts(x, 1.0, bd.T[:, None], bd.r[:, None], bd.q[:, None], bd.sig[:, None], False)
        )
    intrinsic = np.maximum(1.0 - x, 0.0)
    value = np.maximum(eur + np.maximum(prem, 0.0), intrinsic)
    # at or below today's exercise boundary the put is exercised: exactly intrinsic (the
    # integral representation only reproduces that up to quadrature noise)
    return np.where(x <= bd.today()[:, None], intrinsic, value)


def _american_put_core_greeks(
    x: np.ndarray, boundary: _Boundary
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Strike-1 American put at spot ``x`` (m,) given its exercise ``boundary``: value and its
    first two spot derivatives.

    Exact derivatives of the value :func:`_american_put_core` returns: in the exercise region
    (at or below today's boundary) the value is ``1 - x``, so slope -1 and curvature 0.
    """
    bd = boundary
    prem, dprem, d2prem = bd.premium_spot_derivatives(x)
    eur = bsm(Contracts(x, 1.0, bd.T, bd.r, bd.q, bd.sig, False))
    intrinsic = np.maximum(1.0 - x, 0.0)
    pos = prem > 0
    cont = eur.price + np.where(pos, prem, 0.0)
    exercised = (x <= bd.today()) | ((cont <= intrinsic) & (intrinsic > 0))
    value = np.where(exercised, intrinsic, cont)
    delta = np.where(exercised, -1.0, eur.delta + np.where(pos, dprem, 0.0))
    gamma = np.where(exercised, 0.0, eur.gamma + np.where(pos, d2prem, 0.0))
    return value, delta, gamma


def _to_put_space(
    S: np.ndarray, K: np.ndarray, r: np.ndarray, q: np.ndarray, call: np.ndarray
) -> tuple[np.ndarray, ...]:
    """McDonald–Schroder symmetry: C(S, K, r, q) = P(K, S, q, r); scaled to strike 1."""
    scale = np.where(call, S, K)
    with np.errstate(all="ignore"):
        x = np.where(call, K / S, S / K)
    rp = np.where(call, q, r)
    qp = np.where(call, r, q)
    return x, scale, rp, qp


def _american_prices(
    contracts: Contracts[np.ndarray], spot_bumps: tuple[float, ...] = (), acc: Accuracy = PRICE
) -> np.ndarray:
    """American prices of flat ``contracts`` (m of them), shape (m, 1 + len(spot_bumps));
    bumps are relative spot shifts."""
    S, K, T, r, q, sig, call = contracts
    m = S.shape[0]
    k = 1 + len(spot_bumps)
    rel = np.array((0.0, *spot_bumps))
    Sb = S[:, None] * (1.0 + rel[None, :])  # (m, k)
    out = np.full((m, k), np.nan)
    valid = (
        np.isfinite(S)
        & np.isfinite(K)
        & np.isfinite(T)
        & np.isfinite(r)
        & np.isfinite(q)
        & np.isfinite(sig)
        & (S > 0)
        & (K > 0)
        & (T >= 0)
        & (sig >= 0)
    )
    rp = np.where(call, q, r)  # put-space rate
    qp = np.where(call, r, q)
    w = np.where(call, 1.0, -1.0)
    with np.errstate(all="ignore"):
        intrinsic = np.maximum(w[:, None] * (Sb - K[:, None]), 0.0)
    # never early-exercised: American = European
    european = valid & (T > 0) & (sig > 0) & ((rp <= 0) & ((rp <= qp) | (rp == 0)))
    expired = valid & (T == 0)
    zero_vol = valid & (T > 0) & (sig == 0) & ~european
    double = valid & (T > 0) & (sig > 0) & (rp < 0) & (qp < rp)
    core = valid & (T > 0) & (sig > 0) & (rp > 0)
    if expired.any():
        out[expired] = intrinsic[expired]
    if european.any():
        i = np.nonzero(european)[0]
        out[i] = bsm_price(
            Contracts(
                Sb[i], K[i, None], T[i, None], r[i, None], q[i, None], sig[i, None], call[i, None]
            )
        )
    if zero_vol.any():
        i = np.nonzero(zero_vol)[0]
        out[i] = _zero_vol_american(
            Sb[i], K[i, None], T[i, None], r[i, None], q[i, None], w[i, None]
        )
    if double.any():
        i = np.nonzero(double)[0]
        on_lattice = contracts.take(i)
        for j in range(k):
            out[i, j] = american_lattice(on_lattice._replace(spot=Sb[i, j]))
    sch = _scheme(acc.nodes, acc.fp, acc.premium)
    ci = np.nonzero(core)[0]
    # put space (McDonald-Schroder): a call's scale is its (bumped) spot, C(S) = S * P(K/S)
    call_c = call[ci, None]
    xs_c = np.where(call_c, K[ci, None] / Sb[ci], Sb[ci] / K[ci, None])
    scale_c = np.where(call_c, Sb[ci], K[ci, None])
    # the European part in one call for the whole chain (elementwise, so the same numbers)
    eur_c = bsm_price(
        Contracts(xs_c, 1.0, T[ci, None], rp[ci, None], qp[ci, None], sig[ci, None], False)
    )
    pos = np.empty(S.shape[0], dtype=np.intp)
    pos[ci] = np.arange(ci.size)
    # chunks bound the (contracts x nodes x quadrature) temporaries to a few MB each
    for i, start in _chunks(ci, T, rp, qp, sig, sch):
        at = pos[i]
        boundary = _put_boundary(T[i], rp[i], qp[i], sig[i], sch, acc, start)
        put = _american_put_core(xs_c[at], boundary, eur_c[at])
        out[i] = np.maximum(scale_c[at] * put, intrinsic[i])
    return out


def _zero_vol_american(
    S: np.ndarray, K: np.ndarray, T: np.ndarray, r: np.ndarray, q: np.ndarray, w: np.ndarray
) -> np.ndarray:
    """Deterministic underlying: best of exercising now, at expiry, or at the optimum between."""
    with np.errstate(all="ignore"):

        def value(t: np.ndarray) -> np.ndarray:
            return np.maximum(w * (S * np.exp(-q * t) - K * np.exp(-r * t)), 0.0)

        v = np.maximum(value(np.zeros_like(T)), value(T))
        ext = np.log(r * K / (q * S)) / (r - q)
        inside = np.isfinite(ext) & (ext > 0) & (ext < T)
        v = np.where(inside, np.maximum(v, value(np.where(inside, ext, 0.0))), v)
    return v


def american(contracts: Contracts) -> np.ndarray:
    """American option prices (ALO/QdFp accuracy), in ``contracts.shape``."""
    return _american_prices(contracts.flat())[:, 0].reshape(contracts.shape)


# Finite-difference steps for American Greeks.
_SPOT_STEP = 1e-3  # relative; only for the rare paths (expiry, zero vol, lattice)
_VOL_STEP = 1e-4  # absolute
_RATE_STEP = 1e-5  # absolute
_TIME_STEP = 1e-4  # relative to the time to expiry


def _american_spot_greeks(
    contracts: Contracts[np.ndarray], acc: Accuracy = PRICE
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """American price, delta and gamma of flat ``contracts`` (1-d arrays).

    Contracts on the QdFp path get the exact spot derivatives of their price (no bump: a bump
    is too coarse when sigma sqrt(T) S is small and straddles the exercise boundary deep in the
    money); the rare paths (expiry, zero vol, the lattice) keep central differences.
    """
    S, K, T, r, q, sig, call = contracts
    rp, qp = np.where(call, q, r), np.where(call, r, q)
    core = np.isfinite(S + K + T + r + q + sig) & (S > 0) & (K > 0) & (T > 0) & (sig > 0) & (rp > 0)
    price, delta, gamma = (
        np.full(S.shape, np.nan),
        np.full(S.shape, np.nan),
        np.full(S.shape, np.nan),
    )
    sch = _scheme(acc.nodes, acc.fp, acc.premium)
    for i, start in _chunks(np.nonzero(core)[0], T, rp, qp, sig, sch):
        c = call[i]
        # put space (McDonald-Schroder): put V = K P(S/K); call V = S P(K/S) with r, q swapped
        x = np.where(c, K[i] / S[i], S[i] / K[i])
        boundary = _put_boundary(T[i], rp[i], qp[i], sig[i], sch, acc, start)
        p, dp, d2p = _american_put_core_greeks(x, boundary)
        price[i] = np.where(c, S[i], K[i]) * p
        delta[i] = np.where(c, p - x * dp, dp)
        gamma[i] = np.where(c, x * x * d2p / S[i], d2p / K[i])
    rest = np.nonzero(~core)[0]
    if rest.size:
        h = _SPOT_STEP
        p3 = _american_prices(contracts.take(rest), spot_bumps=(-h, h), acc=acc)
        ds = S[rest] * h
        price[rest] = p3[:, 0]
        delta[rest] = (p3[:, 2] - p3[:, 1]) / (2 * ds)
        gamma[rest] = (p3[:, 2] - 2 * p3[:, 0] + p3[:, 1]) / (ds * ds)
    return price, delta, gamma


def american_greeks(contracts: Contracts, accuracy: Accuracy | None = None) -> Greeks:
    """American price and Greeks on the exercise boundary of ``accuracy`` (default
    :data:`GREEKS`, finer than the price path's :data:`PRICE`: every Greek within ~1e-4 of
    QuantLib off the exercise band; the price is then that boundary's, within ~2e-5 of
    :func:`american`'s).

    Delta and gamma are exact spot derivatives of the QdFp price (the exercise boundary does
    not depend on spot, so no bump is needed: a bump is too coarse when sigma sqrt(T) S is
    small, and straddles the exercise boundary deep in the money, where gamma jumps from 0).
    Theta is minus the central difference of the price in time to expiry (±1e-4 T), per
    calendar day, and zero where immediate exercise is optimal: deep in the money the PDE form
    ``rV - (r-q) S delta - sigma^2 S^2 gamma / 2`` cancels large terms and magnifies the error
    of gamma. Vega and rho are central differences of the full vectorised price in vol (±1e-4)
    and rate (±1e-5); the rate bumps of contracts whose put-space dividend exceeds the rate
    use ``accuracy.rho_q_above_r`` if set (FINE's: 16 nodes, 8 plain sweeps).
    """
    acc = GREEKS if accuracy is None else accuracy
    shape = contracts.shape
    flat = contracts.flat()
    S, K, T, r, q, sig, call = flat
    # Never early-exercised (calls with q <= 0, puts with r <= 0 and r <= q): exact BSM Greeks.
    rp, qp = np.where(call, q, r), np.where(call, r, q)
    euro = (rp <= 0) & ((rp <= qp) | (rp == 0))
    if euro.any():
        out = bsm(flat)
        fields = [
            np.array(getattr(out, f)) for f in ("price", "delta", "gamma", "theta", "vega", "rho")
        ]
        rest = np.nonzero(~euro)[0]
        if rest.size:
            g = american_greeks(flat.take(rest), acc)
            for arr, f in zip(
                fields, ("price", "delta", "gamma", "theta", "vega", "rho"), strict=True
            ):
                arr[rest] = getattr(g, f)
        return Greeks(*(x.reshape(shape) for x in fields))
    price, delta, gamma = _american_spot_greeks(flat, acc)
    w = np.where(call, 1.0, -1.0)
    intrinsic = np.maximum(w * (S - K), 0.0)
    exercised = price <= intrinsic * (1 + 1e-12) + 1e-14
    # One vectorised call for every bumped price: vol ±dv, rate ±dr, maturity ±dT.
    dv = np.minimum(_VOL_STEP, 0.5 * sig)
    dv = np.where(dv > 0, dv, _VOL_STEP)
    dr = _RATE_STEP
    dt = _TIME_STEP * T
    four = np.concatenate
    bumped = _american_prices(
        Contracts(
            four([S] * 4),
            four([K] * 4),
            four([T, T, T + dt, T - dt]),
            four([r] * 4),
            four([q] * 4),
            four([sig + dv, np.maximum(sig - dv, 0.0), sig, sig]),
            four([call] * 4),
        ),
        acc=acc,
    )[:, 0].reshape(4, -1)
    vega = (bumped[0] - bumped[1]) / (sig + dv - np.maximum(sig - dv, 0.0)) * 0.01
    rho = np.empty(S.shape)
    finer = qp > rp if acc.rho_q_above_r is not None else np.zeros(S.shape, dtype=bool)
    for mask, rho_acc in ((~finer, acc), (finer, acc.rho_q_above_r or acc)):
        i = np.nonzero(mask)[0]
        if i.size:
            both = Contracts(*(np.tile(a, 2) for a in flat.take(i)))
            both = both._replace(rate=np.concatenate([r[i] + dr, r[i] - dr]))
            two = _american_prices(both, acc=rho_acc)[:, 0].reshape(2, -1)
            rho[i] = (two[0] - two[1]) / (2 * dr) * 0.01
    # Theta is minus the derivative in calendar time of the very price returned, per day of
    # 365 (the ACT/365 year of ``t``). Where that derivative does not exist (expired, or a
    # path priced without a boundary) the Black–Scholes PDE gives it from delta and gamma.
    with np.errstate(all="ignore"):
        theta_t = -(bumped[2] - bumped[3]) / (2 * dt) / DAYS_PER_YEAR
    theta_pde = (r * price - (r - q) * S * delta - 0.5 * sig * sig * S * S * gamma) / DAYS_PER_YEAR
    theta = np.where((dt > 0) & np.isfinite(theta_t), theta_t, theta_pde)
    theta = np.where(exercised, 0.0, theta)
    return Greeks(*(x.reshape(shape) for x in (price, delta, gamma, theta, vega, rho)))
