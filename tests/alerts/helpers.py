"""A steerable stand-in for the valuation, shaped like ``value_portfolio``'s result."""

from __future__ import annotations

from typing import Any

from alerts.models import AlertRule
from tests.factories import PortfolioFactory


class Book:
    """Numbers per portfolio id that tests move between ticks."""

    def __init__(self) -> None:
        self.spot: float = 200.0
        self.stale = False
        self.hedge_ratio: dict[int, float | None] = {}
        self.calls = 0

    def __call__(self, portfolio: Any, symbol: str) -> dict[str, Any]:
        self.calls += 1
        return {
            "symbol": symbol,
            "market": {"spot": self.spot, "stale": self.stale, "age_s": 900.0 if self.stale else 1},
            "positions": [],
            "totals": {"greeks": {"delta_shares": 1000.0, "delta_dollars": 1000 * self.spot}},
            "hedge": {
                "floor": {"floor_spot": 180.0},
                "hedge_ratio": self.hedge_ratio.get(portfolio.pk, 1.0),
                "days_to_nearest_expiry": 30,
            },
        }


def make_rule(**kw: Any) -> AlertRule:
    defaults: dict[str, Any] = {
        "symbol": "GLD",
        "kind": AlertRule.Kind.SPOT,
        "op": AlertRule.Op.ABOVE,
        "level": 210.0,
        "reset_band": 5.0,
    }
    defaults.update(kw)
    if "portfolio" not in defaults:
        defaults["portfolio"] = PortfolioFactory()
    rule = AlertRule(**defaults)
    rule.full_clean()
    rule.save()
    return rule
