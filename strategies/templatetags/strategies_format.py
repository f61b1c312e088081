"""Formatting for the strategies pages (decimals shown as percentages)."""

from __future__ import annotations

import math
from typing import Any

from django import template

register = template.Library()


@register.filter
def pct100(v: Any, places: int = 1) -> str:
    """0.1234 → "12.3 %" (None → "—")."""
    try:
        x = float(v)
    except (TypeError, ValueError):
        return "—"
    return f"{x * 100:.{int(places)}f} %" if math.isfinite(x) else "—"


@register.filter
def legs_label(legs: Any) -> str:
    parts = []
    for lg in legs:
        if lg.get("kind") == "stock":
            continue
        q = lg["quantity"]
        parts.append(f"{'+' if q > 0 else '−'}{abs(q):g} {lg['strike']:g}{lg['kind'][0].upper()}")
    return " ".join(parts) or "shares only"
