"""The vectorised rule evaluation: exact conditions, hysteresis, and agreement with the loop."""

from __future__ import annotations

import numpy as np
import pytest

from alerts import evaluation as ev

M = ev.METRIC_INDEX


def rules(*specs: tuple[int, str, str, float, float, float, bool]) -> ev.RuleArrays:
    """(portfolio row, metric, op, level, upper, band, armed) per rule."""
    cols = list(zip(*specs, strict=True))
    return ev.RuleArrays(
        portfolio=np.array(cols[0], dtype=np.int64),
        metric=np.array([M[m] for m in cols[1]], dtype=np.int64),
        op=np.array([ev.OPS[o] for o in cols[2]], dtype=np.int64),
        level=np.array(cols[3], dtype=float),
        upper=np.array(cols[4], dtype=float),
        band=np.array(cols[5], dtype=float),
        armed=np.array(cols[6], dtype=bool),
    )


def table(value: float, metric: str = "spot", reason: int = ev.OK):
    values = np.full((1, len(ev.METRICS)), np.nan)
    reasons = np.zeros((1, len(ev.METRICS)), dtype=np.int64)
    values[0, M[metric]] = value
    reasons[0, M[metric]] = reason
    return values, reasons


@pytest.mark.parametrize("evaluate", [ev.evaluate, ev.evaluate_loop])
@pytest.mark.parametrize(
    ("op", "level", "upper", "band", "armed", "value", "fire", "rearm"),
    [
        ("above", 200, np.nan, 5, True, 200.0, True, False),  # at the level counts
        ("above", 200, np.nan, 5, True, 199.99, False, False),
        ("above", 200, np.nan, 5, False, 196.0, False, False),  # inside the band: stays fired
        ("above", 200, np.nan, 5, False, 195.0, False, False),  # exactly level - band: not yet
        ("above", 200, np.nan, 5, False, 194.99, False, True),
        ("below", 100, np.nan, 2, True, 100.0, True, False),
        ("below", 100, np.nan, 2, False, 101.0, False, False),
        ("below", 100, np.nan, 2, False, 102.01, False, True),
        ("outside", 0.8, 1.2, 0.05, True, 0.79, True, False),
        ("outside", 0.8, 1.2, 0.05, True, 1.21, True, False),
        ("outside", 0.8, 1.2, 0.05, True, 1.2, False, False),  # bounds are inside
        ("outside", 0.8, 1.2, 0.05, False, 0.82, False, False),
        ("outside", 0.8, 1.2, 0.05, False, 0.86, False, True),
        ("outside", 0.8, 1.2, 0.05, False, 1.16, False, False),
    ],
)
def test_conditions_and_reset_band(evaluate, op, level, upper, band, armed, value, fire, rearm):
    r = rules((0, "spot", op, level, upper, band, armed))
    out = evaluate(r, *table(value))
    assert bool(out.fire[0]) is fire
    assert bool(out.rearm[0]) is rearm
    assert out.value[0] == pytest.approx(value)


@pytest.mark.parametrize("evaluate", [ev.evaluate, ev.evaluate_loop])
def test_unevaluable_rules_keep_their_state_and_say_why(evaluate):
    # Armed, and the condition would hold on any guess (level 0, value unknown).
    r = rules(
        (0, "spot", "above", 0.0, np.nan, 0.0, True),
        (0, "spot", "above", 1e9, np.nan, 0.0, False),
    )
    out = evaluate(r, *table(np.nan, reason=ev.STALE))
    assert not out.fire.any() and not out.rearm.any()
    assert out.reason.tolist() == [ev.STALE, ev.STALE]
    assert "stale" in ev.REASONS[ev.STALE]
    # A NaN without a reason is still not evaluated (valuation failure), never a fire.
    out = evaluate(r, *table(np.nan, reason=ev.OK))
    assert not out.fire.any() and out.reason.tolist() == [ev.VALUATION_FAILED] * 2


def test_one_crossing_fires_once_and_rearms_after_the_band():
    """Walk a price path through the state machine: fires at each crossing, once."""
    path = [190, 199, 201, 205, 198, 196, 201, 194, 200, 210]
    armed = True
    fired_at = []
    for step, spot in enumerate(path):
        r = rules((0, "spot", "above", 200.0, np.nan, 5.0, armed))
        out = ev.evaluate(r, *table(float(spot)))
        if out.fire[0]:
            fired_at.append(step)
            armed = False
        elif out.rearm[0]:
            armed = True
    # 201 fires; the dip to 198/196 is inside the band (>195) so 201 again is silent;
    # 194 re-arms; 200 fires again.
    assert fired_at == [2, 8]


def test_vectorised_matches_the_loop_on_random_books():
    rng = np.random.default_rng(7)
    n_port, n_rules = 300, 3000
    values = rng.normal(0, 2, (n_port, len(ev.METRICS)))
    reasons = np.where(rng.random(values.shape) < 0.1, ev.NO_CHAIN, ev.OK).astype(np.int64)
    values[rng.random(values.shape) < 0.05] = np.nan
    op = rng.integers(0, 3, n_rules)
    level = rng.normal(0, 1.5, n_rules)
    r = ev.RuleArrays(
        portfolio=rng.integers(0, n_port, n_rules),
        metric=rng.integers(0, len(ev.METRICS), n_rules),
        op=op,
        level=level,
        upper=level + rng.uniform(0.5, 3, n_rules),
        band=rng.uniform(0, 0.2, n_rules),
        armed=rng.random(n_rules) < 0.5,
    )
    a, b = ev.evaluate(r, values, reasons), ev.evaluate_loop(r, values, reasons)
    assert np.array_equal(a.fire, b.fire)
    assert np.array_equal(a.rearm, b.rearm)
    assert np.array_equal(a.reason, b.reason)
    assert np.array_equal(a.value, b.value, equal_nan=True)
    # Both outcomes happen, so the comparison is not vacuous.
    assert a.fire.sum() > 100 and a.rearm.sum() > 100
