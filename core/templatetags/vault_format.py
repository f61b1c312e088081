"""The one home of number, time and name formatting for every page (``{% load vault_format %}``).

Missing or non-finite numbers show as "—". Money is ``$1,234``; negative amounts use a real minus
sign. Percentages are ``12.3%`` whether the value arrives in percent (``pct``) or as a fraction
(``pct100``). Strikes always have two decimals. Debits and credits are words beside a positive
amount, never a sign the reader has to interpret.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from core.numbers import finite

register = template.Library()
DASH = "—"
MINUS = "\u2212"

# Pricing-model ids (market.pricing, portfolio.valuation) in words; the id goes in a tooltip.
MODEL_NAMES = {
    "american": "American",
    "american-qdfp": "American (QD+ approximation)",
    "american-binomial-bbsr": "American (binomial tree)",
    "bsm": "European (Black–Scholes–Merton)",
    "intrinsic": "intrinsic value (at expiry)",
    "spot": "market price",
    "spot/units_per_share": "market price per share-equivalent",
}


def _amount(x: float, places: int) -> str:
    return f"${abs(x):,.{int(places)}f}"


def _is_zero(text: str) -> bool:
    return not text.strip("$0.,%")


def _signed_money(v: Any, places: int, plus: str) -> str:
    x = finite(v)
    if x is None:
        return DASH
    s = _amount(x, places)
    if _is_zero(s):
        return s
    return f"{MINUS}{s}" if x < 0 else f"{plus}{s}"


@register.filter
def money(v: Any, places: int = 0) -> str:
    """$1,234 / −$1,234."""
    return _signed_money(v, places, "")


@register.filter
def smoney(v: Any, places: int = 0) -> str:
    """Signed money for changes: +$1,234 / −$1,234 ($0 when it rounds to zero)."""
    return _signed_money(v, places, "+")


def _worded_money(v: Any, places: int, positive: str, negative: str, zero: str) -> str:
    """A positive amount followed by the word its sign stands for."""
    x = finite(v)
    if x is None:
        return DASH
    s = _amount(x, places)
    if _is_zero(s):
        return f"{s}{zero}"
    return f"{s} {positive if x > 0 else negative}"


@register.filter
def debit_credit(v: Any, places: int = 2) -> str:
    """A net premium (positive = paid) as words: "$1,090.00 debit" / "$1,090.00 credit"."""
    return _worded_money(v, places, "debit", "credit", " (no net premium)")


@register.filter
def paid_received(v: Any, places: int = 2) -> str:
    """Premium paid (positive) or received (negative) for a holding, as words."""
    return _worded_money(v, places, "paid", "received", "")


def _typeset(s: str) -> str:
    """A formatted figure as shown: no sign when it rounds to zero, a true minus otherwise."""
    return s.lstrip("+-") if _is_zero(s.lstrip("+-")) else s.replace("-", MINUS)


def _figure(x: float | None, places: int, signed: bool = False, unit: str = "") -> str:
    """A number with thousands separators, ``places`` decimals and an optional unit suffix."""
    if x is None:
        return DASH
    return _typeset(f"{x:{'+' if signed else ''},.{int(places)}f}{unit}")


@register.filter
def pct(v: Any, places: int = 1) -> str:
    """A value already in percent: 12.345 → "12.3%"."""
    return _figure(finite(v), places, unit="%")


@register.filter
def spct(v: Any, places: int = 2) -> str:
    """A change in percent, signed: "+1.20%" / "−0.35%"."""
    return _figure(finite(v), places, signed=True, unit="%")


@register.filter
def pct100(v: Any, places: int = 1) -> str:
    """A fraction as a percentage: 0.1234 → "12.3%"."""
    x = finite(v)
    return _figure(None if x is None else x * 100, places, unit="%")


@register.filter
def num(v: Any, places: int = 2) -> str:
    return _figure(finite(v), places)


@register.filter
def snum(v: Any, places: int = 0) -> str:
    """A signed count: "+10" / "−10"."""
    return _figure(finite(v), places, signed=True)


@register.filter
def quantity(v: Any) -> str:
    """A held or traded quantity as recorded, sign kept, no trailing zeros (up to 4 places):
    "1,000" / "−10" / "12.5"."""
    x = finite(v)
    if x is None:
        return DASH
    return _typeset(f"{x:,.4f}".rstrip("0").rstrip(".")) or "0"


@register.filter
def strike(v: Any) -> str:
    """Strikes in one format everywhere: 400 → "400.00"."""
    return num(v, 2)


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


@register.filter
def model_name(v: Any) -> str:
    """``american-qdfp,intrinsic`` → "American (QD+ approximation), intrinsic value (at expiry)"."""
    ids = [p for p in str(v or "").split(",") if p]
    return ", ".join(MODEL_NAMES.get(p, p) for p in ids) or DASH


@register.filter
def model(v: Any) -> SafeString:
    """The model in words, with its id in a tooltip."""
    return format_html('<abbr title="model id: {}">{}</abbr>', v or "none", model_name(v))


def _parse(v: Any) -> datetime | None:
    if isinstance(v, datetime):
        dt = v
    else:
        try:
            dt = datetime.fromisoformat(str(v))
        except ValueError:
            return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


@register.filter
def when(v: Any) -> SafeString | str:
    """A timestamp as ``<time>``, in UTC with the zone shown; ``static/js/time.js`` rewrites it
    into the reader's own zone (with that zone's name) once the page has loaded."""
    dt = _parse(v)
    if dt is None:
        return DASH
    utc = dt.astimezone(UTC)
    return format_html(
        '<time class="when" datetime="{}">{}</time>',
        utc.isoformat().replace("+00:00", "Z"),
        utc.strftime("%Y-%m-%d %H:%M:%S UTC"),
    )


@register.filter
def age(v: Any) -> str:
    """Seconds as a short age: "45 s", "3 min", "2 h"."""
    x = finite(v)
    if x is None:
        return DASH
    if x < 90:
        return f"{x:.0f} s"
    if x < 90 * 60:
        return f"{x / 60:.0f} min"
    return f"{x / 3600:.1f} h"


@register.filter
def legs_label(legs: Any) -> str:
    """Option legs in words: "buy 1 put 400.00 · sell 1 call 450.00" (shares left out)."""
    parts = []
    for lg in legs:
        if lg.get("kind") == "stock":
            continue
        q = finite(lg.get("quantity")) or 0.0
        side = "buy" if q > 0 else "sell"
        parts.append(f"{side} {abs(q):g} {lg['kind']} {strike(lg.get('strike'))}")
    return " · ".join(parts) or "shares only"


@register.filter
def contracts(v: Any) -> str:
    """A contract count without its sign (the side is said in words beside it)."""
    x = finite(v)
    return DASH if x is None else f"{abs(x):,g}"


@register.filter
def leg_premium(leg: Any) -> str:
    """What one option leg costs or brings in: price × contracts × 100, in words."""
    from market.data import CONTRACT_MULTIPLIER

    price, qty = finite(getattr(leg, "price", None)), finite(getattr(leg, "quantity", None))
    if price is None or qty is None:
        return DASH
    return paid_received(price * qty * CONTRACT_MULTIPLIER)
