"""Ranking and filters over evaluated candidates."""

from __future__ import annotations

from strategies import candidates, metrics, ranking
from tests.strategies.legs import (
    EXP,
    ctx,
    expiry_slice,
)


def test_rank_and_filters() -> None:
    sl = expiry_slice()
    cands = candidates.generate_candidates(ctx(), [sl], 1000)
    rows = metrics.evaluate(ctx(), cands, {EXP: 0.2})
    ranked = ranking.rank(rows, "cost_per_protection")
    scores = [r["cost_per_protection"] for r in ranked if r["cost_per_protection"] is not None]
    assert scores == sorted(scores)
    assert ranked[-1]["cost_per_protection"] is None
    kept = ranking.apply_filters(rows, max_cost_pct=1.0, min_floor_pct=90)
    assert kept and all(r["net_debit_pct"] <= 1.0 and r["floor_pct"] >= 90 for r in kept)
