"""IV history maths: ten years of daily IV30 and realised vol, vectorised vs per-day loops.

    python -m bench ivhistory

IV30 of 2,520 days x 20 expiries (5 % of entries missing, as when an expiry drops out of a
day's chain) by :func:`market.ivhistory.constant_maturity_iv` in one numpy pass, against a plain
per-day Python loop doing the same bracket search and total-variance interpolation; realised
vol (60 days) by :func:`market.ivhistory.realized_vol` against a per-day ``statistics.stdev``.
Results are checked equal.
"""

from __future__ import annotations

import math
import statistics

import numpy as np

from bench.timing import best
from market import ivhistory as ivh

DAYS, EXPIRIES = 2520, 20


def make_days(seed: int = 5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(1, 800, (DAYS, EXPIRIES)), axis=1) / 365.0
    v = rng.uniform(0.12, 0.35, (DAYS, EXPIRIES))
    v[rng.random(v.shape) < 0.05] = np.nan
    closes = 100 * np.exp(np.cumsum(rng.standard_normal(DAYS) * 0.01))
    return t, v, closes


def iv30_loop(t: np.ndarray, v: np.ndarray) -> list[float]:
    out = []
    for tr, vr in zip(t.tolist(), v.tolist(), strict=True):
        pts = sorted((a, b) for a, b in zip(tr, vr, strict=True) if b == b and a >= ivh.MIN_T)
        if len(pts) < 2:
            out.append(math.nan)
            continue
        below = [p for p in pts if p[0] <= ivh.T30]
        above = [p for p in pts if p[0] > ivh.T30]
        if not below:
            out.append(above[0][1])
        elif not above:
            out.append(below[-1][1])
        else:
            (t1, v1), (t2, v2) = below[-1], above[0]
            w = v1 * v1 * t1 + (v2 * v2 * t2 - v1 * v1 * t1) * (ivh.T30 - t1) / (t2 - t1)
            out.append(math.sqrt(w / ivh.T30))
    return out


def rv_loop(closes: np.ndarray, n: int) -> list[float]:
    r = [math.log(b / a) for a, b in zip(closes[:-1], closes[1:], strict=True)]
    return [math.nan] * n + [
        statistics.stdev(r[i - n : i]) * math.sqrt(252) for i in range(n, len(r) + 1)
    ]


def main() -> None:
    t, v, closes = make_days()
    assert np.allclose(ivh.constant_maturity_iv(t, v), iv30_loop(t, v), equal_nan=True)
    assert np.allclose(ivh.realized_vol(closes, 60), rv_loop(closes, 60), equal_nan=True)
    vec = best(lambda: ivh.constant_maturity_iv(t, v), 20)
    loop = best(lambda: iv30_loop(t, v), 3)
    print(f"IV30, {DAYS} days x {EXPIRIES} expiries")
    print(
        f"  vectorised: {vec * 1e3:8.3f} ms   loop: {loop * 1e3:8.3f} ms   ratio {loop / vec:6.1f}x"
    )
    rv_vec = best(lambda: ivh.realized_vol(closes, 60), 20)
    rv_l = best(lambda: rv_loop(closes, 60), 3)
    print(f"Realised vol 60 d, {DAYS} closes")
    print(
        f"  vectorised: {rv_vec * 1e3:8.3f} ms   loop: {rv_l * 1e3:8.3f} ms   ratio {rv_l / rv_vec:6.1f}x"
    )
