"""Alert evaluation: 1,000 portfolios x 10 rules per tick, vectorised vs a per-rule loop.

    python -m bench alerts

Both evaluate the same rules against the same per-portfolio metrics
(:func:`alerts.evaluation.evaluate` and :func:`alerts.evaluation.evaluate_loop`), and the
outcomes are checked equal. Targets (issue 17): >= 20x the loop, < 50 ms a tick.
"""

from __future__ import annotations

import numpy as np

from alerts import evaluation as ev
from bench.timing import best

PORTFOLIOS = 1000
RULES_PER_PORTFOLIO = 10


def make_tick(seed: int = 17) -> tuple[ev.RuleArrays, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = PORTFOLIOS * RULES_PER_PORTFOLIO
    values = rng.normal(0, 2, (PORTFOLIOS, len(ev.METRICS)))
    reasons = np.where(rng.random(values.shape) < 0.05, ev.STALE, ev.OK).astype(np.int64)
    level = rng.normal(0, 1.5, n)
    rules = ev.RuleArrays(
        portfolio=np.repeat(np.arange(PORTFOLIOS), RULES_PER_PORTFOLIO),
        metric=rng.integers(0, len(ev.METRICS), n),
        op=rng.integers(0, 3, n),
        level=level,
        upper=level + rng.uniform(0.5, 3, n),
        band=rng.uniform(0, 0.2, n),
        armed=rng.random(n) < 0.7,
    )
    return rules, values, reasons


def main() -> None:
    rules, values, reasons = make_tick()
    a, b = ev.evaluate(rules, values, reasons), ev.evaluate_loop(rules, values, reasons)
    assert np.array_equal(a.fire, b.fire) and np.array_equal(a.rearm, b.rearm)
    vec = best(lambda: ev.evaluate(rules, values, reasons), 50)
    loop = best(lambda: ev.evaluate_loop(rules, values, reasons), 5)
    n = len(rules)
    print(f"{PORTFOLIOS} portfolios x {RULES_PER_PORTFOLIO} rules = {n} rules per tick")
    print(f"  vectorised: {vec * 1e3:8.3f} ms/tick  (fires {int(a.fire.sum())})")
    print(f"  loop:       {loop * 1e3:8.3f} ms/tick")
    print(f"  ratio:      {loop / vec:8.1f}x  (target >= 20x; < 50 ms a tick)")
