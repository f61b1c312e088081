"""Number formatting for the dashboard (None → "—", thousands separators, signs)."""

from __future__ import annotations

from typing import Any

from django import template

from core.numbers import finite

register = template.Library()
DASH = "—"


@register.filter
def money(v: Any, places: int = 0) -> str:
    x = finite(v)
    if x is None:
        return DASH
    s = f"{abs(x):,.{int(places)}f}"
    return f"-${s}" if x < 0 else f"${s}"


@register.filter
def smoney(v: Any, places: int = 0) -> str:
    """Signed money: +$1,234 / -$1,234."""
    x = finite(v)
    if x is None:
        return DASH
    s = f"{abs(x):,.{int(places)}f}"
    if not s.strip("0.,"):
        return f"${s}"  # rounds to zero: no sign
    return f"-${s}" if x < 0 else f"+${s}"


@register.filter
def pct(v: Any, places: int = 1) -> str:
    x = finite(v)
    return DASH if x is None else f"{x:.{int(places)}f} %"


@register.filter
def spct(v: Any, places: int = 2) -> str:
    x = finite(v)
    return DASH if x is None else f"{x:+.{int(places)}f} %"


@register.filter
def num(v: Any, places: int = 2) -> str:
    x = finite(v)
    return DASH if x is None else f"{x:,.{int(places)}f}"


@register.filter
def sign_class(v: Any) -> str:
    x = finite(v)
    if x is None or x == 0:
        return ""
    return "pos" if x > 0 else "neg"


@register.filter
def raw(v: Any) -> str:
    """A machine-readable number for data-value attributes ("" when missing)."""
    x = finite(v)
    return "" if x is None else repr(x)
