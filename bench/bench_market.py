"""Market engine vs a QuantLib per-contract loop, side by side on one 5,000-contract chain.

    python -m bench market

Prints, for European price+Greeks, American prices, American price+Greeks, European IV and
American IV: our vectorised time (best of several runs), QuantLib's per-contract loop time
(best of 2 for prices, one run for the Greeks and IV loops; each contract builds its option,
vol surface and process, as a per-contract loop does), the speed ratio and the max error
against QuantLib.
QuantLib loops that would take long run on an evenly spaced subsample and are scaled to 5,000
contracts (said in the output). Also prints the "distance from the floor": the time of our
price+Greeks kernel over the time of the unavoidable elementwise work on the same arrays
(2 x ndtr + exp + log + sqrt).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.special import ndtr

from bench.timing import best

N = 5000
RATE = 0.04
DIV = 0.013  # a dividend payer, so American calls need the full QdFp work too


def make_chain(n: int = N, seed: int = 42) -> dict[str, np.ndarray]:
    """A listed-looking chain: 23 expiries from 1 day to 3 years, strikes 50-200 % of spot,
    calls and puts, vols on a skewed surface (integer days so QuantLib sees the same T)."""
    rng = np.random.default_rng(seed)
    days = np.unique(np.round(np.geomspace(1, 3 * 365, 25))).astype(int)
    per = n // (2 * len(days)) + 1
    rows = []
    for d in days:
        k = np.linspace(50, 200, per)
        for right in (True, False):
            rows.append((np.full(per, d), k, np.full(per, right)))
    days_a = np.concatenate([r[0] for r in rows])[:n]
    strike = np.concatenate([r[1] for r in rows])[:n]
    call = np.concatenate([r[2] for r in rows])[:n]
    t = days_a / 365.0
    lm = np.log(strike / 100.0)
    vol = np.clip(0.2 - 0.1 * lm / np.sqrt(np.maximum(t, 0.02)) * 0.2 + 0.05 * lm**2, 0.08, 1.2)
    vol = vol * rng.uniform(0.98, 1.02, n)
    return {
        "spot": np.full(n, 100.0),
        "strike": strike,
        "days": days_a,
        "t": t,
        "vol": vol,
        "call": call,
    }


class QL:
    def __init__(self) -> None:
        import QuantLib as ql

        self.ql = ql
        self.today = ql.Date(15, 6, 2025)
        ql.Settings.instance().evaluationDate = self.today
        self.dc = ql.Actual365Fixed()
        self.spot = ql.QuoteHandle(ql.SimpleQuote(100.0))
        self.r = ql.YieldTermStructureHandle(ql.FlatForward(self.today, RATE, self.dc))
        self.q = ql.YieldTermStructureHandle(ql.FlatForward(self.today, DIV, self.dc))

    def process(self, vol: float) -> Any:
        ql = self.ql
        vts = ql.BlackVolTermStructureHandle(
            ql.BlackConstantVol(self.today, ql.NullCalendar(), vol, self.dc)
        )
        return ql.BlackScholesMertonProcess(self.spot, self.q, self.r, vts)

    def option(self, strike: float, days: int, call: bool, american: bool) -> Any:
        ql = self.ql
        payoff = ql.PlainVanillaPayoff(ql.Option.Call if call else ql.Option.Put, float(strike))
        maturity = self.today + int(days)
        ex = (
            ql.AmericanExercise(self.today, maturity) if american else ql.EuropeanExercise(maturity)
        )
        return ql.VanillaOption(payoff, ex)

    def european_greeks(self, c: dict[str, np.ndarray], idx: np.ndarray) -> np.ndarray:
        out = np.empty((idx.size, 6))
        for j, i in enumerate(idx):
            opt = self.option(c["strike"][i], c["days"][i], c["call"][i], False)
            opt.setPricingEngine(self.ql.AnalyticEuropeanEngine(self.process(c["vol"][i])))
            out[j] = (
                opt.NPV(),
                opt.delta(),
                opt.gamma(),
                opt.thetaPerDay(),
                opt.vega() / 100,
                opt.rho() / 100,
            )
        return out

    def american(self, c: dict[str, np.ndarray], idx: np.ndarray) -> np.ndarray:
        ql = self.ql
        out = np.empty(idx.size)
        for j, i in enumerate(idx):
            opt = self.option(c["strike"][i], c["days"][i], c["call"][i], True)
            engine = ql.QdFpAmericanEngine(
                self.process(c["vol"][i]), ql.QdFpAmericanEngine.accurateScheme()
            )
            opt.setPricingEngine(engine)
            out[j] = opt.NPV()
        return out

    def american_greeks(self, c: dict[str, np.ndarray], idx: np.ndarray) -> np.ndarray:
        """Price + the five Greeks per contract by central differences of
        ``QdFpAmericanEngine(accurateScheme)`` (11 prices each: spot ±h and ±h/2, vol and rate
        ±, and the time to expiry ± by scaling r, q and vol^2 - QuantLib counts whole days)."""
        ql = self.ql
        out = np.empty((idx.size, 6))
        for j, i in enumerate(idx):
            spot, r, q, vol = (ql.SimpleQuote(x) for x in (100.0, RATE, DIV, float(c["vol"][i])))
            rts = ql.YieldTermStructureHandle(
                ql.FlatForward(self.today, ql.QuoteHandle(r), self.dc)
            )
            qts = ql.YieldTermStructureHandle(
                ql.FlatForward(self.today, ql.QuoteHandle(q), self.dc)
            )
            vts = ql.BlackVolTermStructureHandle(
                ql.BlackConstantVol(self.today, ql.NullCalendar(), ql.QuoteHandle(vol), self.dc)
            )
            process = ql.BlackScholesMertonProcess(ql.QuoteHandle(spot), qts, rts, vts)
            opt = self.option(c["strike"][i], c["days"][i], c["call"][i], True)
            opt.setPricingEngine(
                ql.QdFpAmericanEngine(process, ql.QdFpAmericanEngine.accurateScheme())
            )
            s0, v0, t = 100.0, float(c["vol"][i]), float(c["t"][i])

            def npv(quote: Any, value: float, base: float, opt: Any = opt) -> float:
                quote.setValue(value)
                p = float(opt.NPV())
                quote.setValue(base)
                return p

            p0 = float(opt.NPV())
            h = 1e-2 * v0 * np.sqrt(t) * s0
            up, dn = npv(spot, s0 + h, s0), npv(spot, s0 - h, s0)
            up2, dn2 = npv(spot, s0 + h / 2, s0), npv(spot, s0 - h / 2, s0)
            # Richardson: steps h and h/2 cancel the h^2 error term
            delta = (4 * (up2 - dn2) / h - (up - dn) / (2 * h)) / 3
            gamma = (4 * (up2 - 2 * p0 + dn2) / (h / 2) ** 2 - (up - 2 * p0 + dn) / h**2) / 3
            dv, dr, e = 1e-3 * v0, 1e-4, 1e-3
            vega = (npv(vol, v0 + dv, v0) - npv(vol, v0 - dv, v0)) / (2 * dv) / 100
            rho = (npv(r, RATE + dr, RATE) - npv(r, RATE - dr, RATE)) / (2 * dr) / 100
            later = []
            for f in (1 + e, 1 - e):  # T f: r, q and vol^2 scaled by f
                r.setValue(RATE * f)
                q.setValue(DIV * f)
                vol.setValue(v0 * np.sqrt(f))
                later.append(float(opt.NPV()))
            r.setValue(RATE)
            q.setValue(DIV)
            vol.setValue(v0)
            theta = -(later[0] - later[1]) / (2 * e * t) / 365
            out[j] = (p0, delta, gamma, theta, vega, rho)
        return out

    def european_iv(
        self, c: dict[str, np.ndarray], idx: np.ndarray, prices: np.ndarray
    ) -> np.ndarray:
        """QuantLib's own VanillaOption.impliedVolatility (analytic European engine)."""
        ql = self.ql
        out = np.full(idx.size, np.nan)
        for j, i in enumerate(idx):
            opt = self.option(c["strike"][i], c["days"][i], c["call"][i], False)
            process = self.process(0.2)
            opt.setPricingEngine(ql.AnalyticEuropeanEngine(process))
            with contextlib.suppress(RuntimeError):
                out[j] = opt.impliedVolatility(float(prices[j]), process, 1e-10, 200, 1e-4, 10.0)
        return out

    def american_iv(
        self, c: dict[str, np.ndarray], idx: np.ndarray, prices: np.ndarray
    ) -> np.ndarray:
        """Brent on the QdFp (accurate) price per contract. (QuantLib's impliedVolatility for
        American exercise would switch to a finite-difference engine, so it is not used.)"""
        ql = self.ql
        out = np.full(idx.size, np.nan)
        for j, i in enumerate(idx):
            volq = ql.SimpleQuote(0.2)
            vts = ql.BlackVolTermStructureHandle(
                ql.BlackConstantVol(self.today, ql.NullCalendar(), ql.QuoteHandle(volq), self.dc)
            )
            process = ql.BlackScholesMertonProcess(self.spot, self.q, self.r, vts)
            opt = self.option(c["strike"][i], c["days"][i], c["call"][i], True)
            opt.setPricingEngine(
                ql.QdFpAmericanEngine(process, ql.QdFpAmericanEngine.accurateScheme())
            )
            target = float(prices[j])

            def f(s: float, volq: Any = volq, opt: Any = opt, target: float = target) -> float:
                volq.setValue(s)
                return float(opt.NPV()) - target

            with contextlib.suppress(RuntimeError):
                out[j] = ql.Brent().solve(f, 1e-8, 0.2, 1e-4, 3.0)
        return out


def _subsample(n_total: int, n: int) -> np.ndarray:
    return np.unique(np.linspace(0, n_total - 1, n).round().astype(int))


def _line(name: str, ours: float, ql_time: float, scaled_from: int | None, err: str) -> str:
    scale = f" (QL on {scaled_from}, scaled)" if scaled_from else ""
    return (
        f"{name:<28} ours {ours * 1e3:9.2f} ms   QuantLib {ql_time * 1e3:10.1f} ms{scale:<24}"
        f" ratio {ql_time / ours:8.1f}x   {err}"
    )


def main() -> None:
    from market import qdfp
    from market.iv import implied_vol
    from market.pricing import Contracts, american, american_greeks, bsm

    c = make_chain()
    S, K, T, sig, call = c["spot"], c["strike"], c["t"], c["vol"], c["call"]
    chain = Contracts(S, K, T, RATE, DIV, sig, call)
    first50 = Contracts(S[:50], K[:50], T[:50], RATE, DIV, sig[:50], call[:50])
    ql = QL()
    n = S.size
    print(
        f"chain: {n} contracts, {len(np.unique(T))} expiries (1 day - 3 years), strikes 50-200, "
        f"r={RATE}, q={DIV}, vol {sig.min():.2f}-{sig.max():.2f}"
    )
    all_idx = np.arange(n)

    # ---- European price + Greeks -----------------------------------------------------------
    bsm(chain)
    t_ours = best(lambda: bsm(chain), 30)
    t_ql = best(lambda: ql.european_greeks(c, all_idx), 2)
    ref = ql.european_greeks(c, all_idx)
    g = bsm(chain)
    ours_arr = np.stack([g.price, g.delta, g.gamma, g.theta, g.vega, g.rho], axis=1)
    err = np.abs(ours_arr - ref)
    within = np.all((err <= 1e-12) | (err <= 1e-10 * np.abs(ref)))
    rel = np.max(np.where(np.abs(ref) > 1e-6, err / np.maximum(np.abs(ref), 1e-300), 0.0))
    print(
        _line(
            "European price+Greeks",
            t_ours,
            t_ql,
            None,
            f"max abs err {err.max():.1e}, max rel (|ref|>1e-6) {rel:.1e}, "
            f"all within 1e-10 rel or 1e-12 abs: {within}",
        )
    )

    # ---- floor ------------------------------------------------------------------------------
    # the unavoidable elementwise work on the same arrays: 2 ndtr (at the real d1, d2),
    # one exp, one log, one sqrt; interleaved with the kernel, best of 200 each
    d1 = (np.log(S / K) + (RATE - DIV + 0.5 * sig**2) * T) / (sig * np.sqrt(T))
    d2 = d1 - sig * np.sqrt(T)
    neg_rt = -RATE * T
    moneyness = S / K

    def floor() -> None:
        ndtr(d1)
        ndtr(d2)
        np.exp(neg_rt)
        np.log(moneyness)
        np.sqrt(T)

    t_kernel, t_floor = [], []
    for _ in range(200):
        t_kernel.append(best(lambda: bsm(chain), 1))
        t_floor.append(best(floor, 1))
    tk, tf = min(t_kernel), min(t_floor)
    print(
        f"{'distance from the floor':<28} price+Greeks {tk * 1e6:.0f} us / "
        f"(2 ndtr+exp+log+sqrt) {tf * 1e6:.0f} us = {tk / tf:.2f}"
    )

    # ---- American prices ----------------------------------------------------------------------
    american(first50)
    sub = _subsample(n, 1000)
    # Interleaved rounds, best of each side: on a shared machine a load spike then hits both
    # sides' rounds alike instead of one side's whole measurement.
    rounds_ours, rounds_ql = [], []
    for _ in range(4):
        rounds_ours.append(best(lambda: american(chain), 3))
        rounds_ql.append(best(lambda: ql.american(c, sub), 1))
    t_ours, t_ql = min(rounds_ours), min(rounds_ql) * n / sub.size
    ref_a = ql.american(c, sub)
    ours_a = american(chain)
    err = np.abs(ours_a[sub] - ref_a)
    rel = err / np.maximum(ref_a, 1e-300)
    within = np.mean((err <= 1e-3) | (rel <= 1e-4))
    big = ref_a > 0.01
    print(
        _line(
            "American price (QdFp)",
            t_ours,
            t_ql,
            sub.size,
            f"max abs err {err.max():.1e}, max rel (price>0.01) {rel[big].max():.1e}, "
            f"within 1e-4 rel or $0.001: {100 * within:.1f} %",
        )
    )

    # ---- American price + Greeks -------------------------------------------------------------
    # The Greeks use a finer exercise boundary than prices (qdfp.GREEKS = qdfp.FINE); the line
    # "price path's boundary" computes them with accuracy=qdfp.PRICE, as before issue 13 item
    # 10, the two interleaved so their times are comparable.
    american_greeks(first50)
    t_fine, t_fast = [], []
    for _ in range(3):
        t_fine.append(best(lambda: american_greeks(chain), 1))
        t_fast.append(best(lambda: american_greeks(chain, accuracy=qdfp.PRICE), 1))
    sub = _subsample(n, 200)
    start = time.perf_counter()
    ref_g = ql.american_greeks(c, sub)
    t_ql = (time.perf_counter() - start) * n / sub.size
    for label, acc, t_ours in (
        ("American price+Greeks", None, min(t_fine)),
        ("  same, price's boundary", qdfp.PRICE, min(t_fast)),
    ):
        _greeks_line(label, acc, t_ours, t_ql, c, sub, ref_g)

    # ---- the chain page: analytics of a synthetic GLD chain ----------------------------------
    _chain_page_line()

    # ---- European IV ------------------------------------------------------------------------
    p_eur = g.price
    implied_vol(p_eur, S, K, T, RATE, DIV, call, style="european")
    _iv_line(
        c,
        "European IV",
        p_eur,
        style="european",
        informative=g.vega > 1e-4,
        rounds=10,
        ql_solve=ql.european_iv,
        ql_sample=1000,
        note=lambda ours, theirs, _: (
            f"round-trip max |iv - vol| (vega>1e-4) ours {ours:.1e}, QuantLib {theirs:.1e}"
        ),
    )

    # ---- American IV ------------------------------------------------------------------------
    intrinsic = np.maximum(np.where(call, 1.0, -1.0) * (S - K), 0.0)
    informative = (ours_a - intrinsic > 1e-3) & (g.vega > 1e-3)
    _iv_line(
        c,
        "American IV",
        ours_a,
        style="american",
        informative=informative,
        rounds=2,
        ql_solve=ql.american_iv,
        ql_sample=100,
        note=lambda ours, theirs, res: (
            f"round-trip max |iv - vol| ours {ours:.1e} "
            f"(solved {np.mean(res.reason[informative] == ''):.1%}); "
            f"QuantLib Brent+QdFp on our prices {theirs:.1e}"
        ),
    )


def _iv_line(
    c: dict[str, np.ndarray],
    label: str,
    prices: np.ndarray,
    *,
    style: str,
    informative: np.ndarray,
    rounds: int,
    ql_solve: Callable[[dict[str, np.ndarray], np.ndarray, np.ndarray], np.ndarray],
    ql_sample: int,
    note: Callable[[float, float, Any], str],
) -> None:
    """Print the IV round trip of ``prices`` (the chain's model prices at its vols): our time
    over the whole chain (best of ``rounds``) against QuantLib's on ``ql_sample`` contracts,
    scaled to the chain, and ``note(our max error, QuantLib's, our result)`` where
    ``informative`` (a price that moves with vol)."""
    from market.iv import implied_vol

    S, K, T, sig, call = c["spot"], c["strike"], c["t"], c["vol"], c["call"]
    t_ours = best(lambda: implied_vol(prices, S, K, T, RATE, DIV, call, style=style), rounds)
    sub = _subsample(S.size, ql_sample)
    start = time.perf_counter()
    ql_iv = ql_solve(c, sub, prices[sub])
    t_ql = (time.perf_counter() - start) * S.size / sub.size
    res = implied_vol(prices, S, K, T, RATE, DIV, call, style=style)
    ours_err = float(np.nanmax(np.abs(res.iv - sig)[informative]))
    both = informative[sub] & np.isfinite(ql_iv)
    theirs_err = float(np.max(np.abs(ql_iv[both] - sig[sub][both])))
    print(_line(label, t_ours, t_ql, sub.size, note(ours_err, theirs_err, res)))


def _greeks_line(
    label: str,
    acc: Any,
    t_ours: float,
    t_ql: float,
    c: dict[str, np.ndarray],
    sub: np.ndarray,
    ref_g: np.ndarray,
) -> None:
    from market.pricing import Contracts, american_greeks

    S, K, T, sig, call = c["spot"], c["strike"], c["t"], c["vol"], c["call"]
    ga = american_greeks(Contracts(S, K, T, RATE, DIV, sig, call), accuracy=acc)
    ours_g = np.stack([ga.price, ga.delta, ga.gamma, ga.theta, ga.vega, ga.rho], axis=1)[sub]
    # relative error with a floor of 1e-5 of each Greek's natural size (tests/market/oracle.py)
    sd = sig[sub] * np.sqrt(T[sub])
    floors = 1e-5 * np.stack(
        [
            K[sub],
            np.ones(sub.size),
            1 / (S[sub] * sd),
            (S[sub] * sig[sub] / np.sqrt(T[sub]) + RATE * K[sub] + DIV * S[sub]) / 365,
            S[sub] * np.sqrt(T[sub]) / 100,
            (K[sub] + S[sub]) * T[sub] / 100,
        ],
        axis=1,
    )
    rel_g = np.abs(ours_g - ref_g) / np.maximum(np.abs(ref_g), floors)
    worst = ", ".join(
        f"{name} {rel_g[:, k].max():.1e}"
        for k, name in enumerate(("price", "delta", "gamma", "theta", "vega", "rho"))
    )
    print(
        _line(
            label,
            t_ours,
            t_ql,
            sub.size,
            f"max rel err vs QuantLib central differences: {worst}",
        )
    )


def _chain_page_line() -> None:
    """Chain analytics (IV solve + price and Greeks of every solved contract) of the synthetic
    GLD chain the options page shows, with the Greeks' boundary (the default) and with the
    price path's, interleaved, best of 5 each."""
    from datetime import UTC, datetime

    from market import qdfp
    from market.analytics import analyze_chain
    from market.providers import make_provider

    rate = 0.04
    provider = make_provider(
        "synthetic", seed=7, rate=rate, clock=lambda: datetime(2025, 6, 2, 15, 0, tzinfo=UTC)
    )
    chain = provider.chain("GLD")
    analyze_chain(chain, rate)
    fine, fast = [], []
    greeks = qdfp.GREEKS
    try:
        for _ in range(5):
            qdfp.GREEKS = greeks
            fine.append(best(lambda: analyze_chain(chain, rate), 1))
            qdfp.GREEKS = qdfp.PRICE
            fast.append(best(lambda: analyze_chain(chain, rate), 1))
    finally:
        qdfp.GREEKS = greeks
    print(
        f"{'chain page analytics (GLD)':<28} {len(chain)} contracts: "
        f"{min(fine) * 1e3:.0f} ms (Greeks' boundary), {min(fast) * 1e3:.0f} ms with the "
        f"Greeks on the price path's ({min(fine) / min(fast):.2f}x)"
    )


if __name__ == "__main__":
    main()
