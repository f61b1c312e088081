"""Numbers on their way out to JSON and templates: finite floats or ``None``, never NaN."""

from __future__ import annotations

import math
from typing import Any


def finite(x: Any, nd: int | None = None) -> float | None:
    """``x`` as a float, rounded to ``nd`` places when given; ``None`` when it is missing,
    not a number, NaN or infinite (strict JSON has no NaN, and a blank beats a wrong figure)."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(v):
        return None
    return round(v, nd) if nd is not None else v


def json_safe(obj: Any) -> Any:
    """``obj`` with NaN/inf as ``None``, numpy scalars and arrays as Python numbers and lists,
    tuples as lists and dates as ISO strings, so ``json.dumps(..., allow_nan=False)`` accepts it.
    Values are not rounded."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k if isinstance(k, str) else str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    if hasattr(obj, "tolist"):  # numpy scalar or array
        return json_safe(obj.tolist())
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    return obj
