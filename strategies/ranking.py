"""How hedge candidates are filtered and ordered: the ranking table is the one list of
rankings the API schema, the strategies page and the ordering all read."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Ranking:
    """One way to order candidates: by ``field`` of their metrics rows."""

    field: str
    higher_first: bool
    description: str
    label: str  # what the page shows


RANKINGS: dict[str, Ranking] = {
    "cost_per_protection": Ranking(
        "cost_per_protection",
        False,
        "annualised net cost (% of position per year) divided by the floor in % of position "
        "(points of the position's value protected at expiry); lower is better; candidates "
        "without a floor rank after those with one",
        "Cost per point of protection",
    ),
    "cost": Ranking(
        "annual_cost_pct",
        False,
        "annualised net cost, % of position per year; lower first",
        "Lowest cost per year",
    ),
    "floor": Ranking(
        "floor_pct", True, "floor as % of position value; higher first", "Highest floor"
    ),
    "cap": Ranking(
        "cap_pct",
        True,
        "cap as % of position value; higher first (uncapped first)",
        "Highest cap",
    ),
    "expected_value": Ranking(
        "expected_pnl",
        True,
        "expected P&L at expiry under the model; higher first",
        "Expected P&L",
    ),
    "prob_profit": Ranking(
        "prob_profit",
        True,
        "probability of profit at expiry; higher first",
        "Probability of profit",
    ),
}
DEFAULT_RANKING = "cost_per_protection"


def rank(rows: list[dict[str, Any]], method: str = DEFAULT_RANKING) -> list[dict[str, Any]]:
    key, desc = RANKINGS[method].field, RANKINGS[method].higher_first

    def sort_key(row: dict[str, Any]) -> tuple[int, float, str, str]:
        v = row.get(key)
        if key == "cap_pct" and v is None and row["max_gain"] is None:
            return (0, -math.inf, row["expiry"] or "", row["name"])
        if v is None:
            return (1, 0.0, row["expiry"] or "", row["name"])
        return (0, -v if desc else v, row["expiry"] or "", row["name"])

    ordered = sorted(rows, key=sort_key)
    for i, row in enumerate(ordered, 1):
        row["rank"] = i
    return ordered


def apply_filters(
    rows: list[dict[str, Any]],
    *,
    max_cost_pct: float | None = None,
    min_floor_pct: float | None = None,
    min_cap_pct: float | None = None,
) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        if max_cost_pct is not None and (row["net_debit_pct"] or 0.0) > max_cost_pct:
            continue
        if min_floor_pct is not None and (
            row["floor_pct"] is None or row["floor_pct"] < min_floor_pct
        ):
            continue
        if min_cap_pct is not None and row["cap_pct"] is not None and row["cap_pct"] < min_cap_pct:
            continue
        out.append(row)
    return out
