"""Alert rules evaluated together: one numpy pass over every rule of a symbol per tick.

Inputs are plain arrays, so this module knows nothing of the ORM:

* ``values[p, m]`` — metric ``m`` (:data:`METRICS`) of portfolio ``p``, computed once per tick;
  ``NaN`` where it cannot be computed, with the reason in ``reasons[p, m]`` (:data:`REASONS`);
* one entry per rule in :class:`RuleArrays`: the portfolio row, the metric, the comparison, the
  thresholds, the reset band and whether the rule is armed.

A rule fires when it is armed and its condition holds, and then stays fired until the value is
back beyond the reset band (hysteresis), when it re-arms. A rule whose metric cannot be
evaluated keeps its state: it neither fires nor re-arms on a guess. The exact conditions are in
``docs/alerts.md``; :func:`evaluate_loop` is the same rule written as a plain per-rule loop (the
benchmark's baseline and the tests' cross-check).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

# Metric columns; the rule kinds in ``alerts.models.AlertRule.Kind`` use the same names.
METRICS: tuple[str, ...] = (
    "spot",
    "floor_gap_pct",
    "hedge_ratio",
    "delta_shares",
    "delta_dollars",
    "roll_days",
    "stale_minutes",
    "iv_rank",
)
METRIC_INDEX = {name: i for i, name in enumerate(METRICS)}

OP_ABOVE, OP_BELOW, OP_OUTSIDE = 0, 1, 2
OPS = {"above": OP_ABOVE, "below": OP_BELOW, "outside": OP_OUTSIDE}

# Why a metric has no value: code -> the sentence stored on the rule.
OK = 0
REASONS: dict[int, str] = {
    OK: "",
    1: "cannot be evaluated: no market data for the symbol",
    2: "cannot be evaluated: market data is stale",
    3: "cannot be evaluated: no option chain",
    4: "cannot be evaluated: no long puts, so no floor",
    5: "cannot be evaluated: no shares held",
    6: "cannot be evaluated: no hedge expiry",
    7: "cannot be evaluated: no IV history yet",
    8: "cannot be evaluated: the portfolio could not be valued",
    9: "cannot be evaluated: not enough IV history (fewer than 20 days in the year)",
    10: "cannot be evaluated: IV history is out of date (no day stored in the last 5)",
    11: "cannot be evaluated: IV30 has not moved in the year, so it has no rank",
}
NO_MARKET, STALE, NO_CHAIN, NO_FLOOR, NO_SHARES, NO_EXPIRY, NO_IV_HISTORY, VALUATION_FAILED = range(
    1, 9
)
IV_HISTORY_SHORT, IV_HISTORY_OLD, IV_FLAT = 9, 10, 11


@dataclass(frozen=True)
class RuleArrays:
    """Every rule of one symbol, one entry per rule."""

    portfolio: IntArray  # row of ``values``
    metric: IntArray  # column of ``values``
    op: IntArray  # OP_ABOVE / OP_BELOW / OP_OUTSIDE
    level: FloatArray  # the threshold; the lower bound for OP_OUTSIDE
    upper: FloatArray  # the upper bound for OP_OUTSIDE (ignored otherwise)
    band: FloatArray  # reset band, >= 0, in the metric's unit
    armed: BoolArray

    def __len__(self) -> int:
        return len(self.op)


@dataclass(frozen=True)
class Outcome:
    value: FloatArray  # the rule's metric now (NaN when not evaluable)
    reason: IntArray  # 0 when evaluated, else a key of REASONS
    fire: BoolArray  # armed and the condition holds: notify, then disarm
    rearm: BoolArray  # fired and back beyond the reset band: arm again


def evaluate(rules: RuleArrays, values: FloatArray, reasons: IntArray) -> Outcome:
    """The vectorised evaluation of all rules against one tick's metrics."""
    v = values[rules.portfolio, rules.metric]
    reason = reasons[rules.portfolio, rules.metric].astype(np.int64)
    reason = np.where((reason == OK) & np.isnan(v), VALUATION_FAILED, reason)
    ok = reason == OK
    lo, hi, band, op = rules.level, rules.upper, rules.band, rules.op
    with np.errstate(invalid="ignore"):  # NaN compares False; ``ok`` masks those rules anyway
        trigger = np.where(
            op == OP_ABOVE,
            v >= lo,
            np.where(op == OP_BELOW, v <= lo, (v < lo) | (v > hi)),
        )
        clear = np.where(
            op == OP_ABOVE,
            v < lo - band,
            np.where(op == OP_BELOW, v > lo + band, (v >= lo + band) & (v <= hi - band)),
        )
    fire = ok & rules.armed & trigger
    rearm = ok & ~rules.armed & clear
    return Outcome(value=v, reason=reason, fire=fire, rearm=rearm)


def evaluate_loop(rules: RuleArrays, values: FloatArray, reasons: IntArray) -> Outcome:
    """The same evaluation as a plain Python loop over the rules (baseline, cross-check)."""
    n = len(rules)
    out_v = np.empty(n)
    out_r = np.zeros(n, dtype=np.int64)
    fire = np.zeros(n, dtype=bool)
    rearm = np.zeros(n, dtype=bool)
    port = rules.portfolio.tolist()
    metric = rules.metric.tolist()
    ops = rules.op.tolist()
    lows = rules.level.tolist()
    highs = rules.upper.tolist()
    bands = rules.band.tolist()
    armed = rules.armed.tolist()
    for i in range(n):
        p, m = port[i], metric[i]
        v = float(values[p, m])
        r = int(reasons[p, m])
        if r == OK and math.isnan(v):
            r = VALUATION_FAILED
        out_v[i] = v
        out_r[i] = r
        if r != OK:
            continue
        lo, hi, band = lows[i], highs[i], bands[i]
        if ops[i] == OP_ABOVE:
            trigger, clear = v >= lo, v < lo - band
        elif ops[i] == OP_BELOW:
            trigger, clear = v <= lo, v > lo + band
        else:
            trigger, clear = (v < lo or v > hi), (lo + band <= v <= hi - band)
        if armed[i]:
            fire[i] = trigger
        else:
            rearm[i] = clear
    return Outcome(value=out_v, reason=out_r, fire=fire, rearm=rearm)
