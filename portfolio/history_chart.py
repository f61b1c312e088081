"""The dashboard's value-history panel: the chosen date range (validated), the daily points of
:mod:`portfolio.history` as a line, and the trades and rolls of that range marked on it and
listed in a table."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
from django.http import QueryDict
from django.utils.html import format_html
from django.utils.safestring import SafeString

from core import charts
from market import calendar
from portfolio.models import Portfolio, PortfolioSnapshot, Trade

PRESETS: dict[str, int | None] = {"30d": 30, "90d": 90, "1y": 365, "all": None}
DEFAULT_PRESET = "30d"
MAX_YEARS = 10
MAX_POINTS = 4000
TRADE_COLOR = "#5fa8ff"
ROLL_COLOR = "#d29922"


EMPTY = format_html(
    '<p class="muted" id="history-empty">{}<code>{}</code>{}</p>',
    "No value history in this range yet: a point is added after each day's close (",
    "manage.py backfill_history",
    " fills the past).",
)


@dataclass(frozen=True)
class HistoryRange:
    start: date | None  # None: from the first point
    end: date
    preset: str  # "" for a custom range
    error: str = ""

    def query(self) -> dict[str, str]:
        if self.preset:
            return {"hist": self.preset}
        return {
            "hist_from": self.start.isoformat() if self.start else "",
            "hist_to": self.end.isoformat(),
        }


def parse_range(q: QueryDict, today: date | None = None) -> HistoryRange:
    """``hist`` (30d, 90d, 1y, all) or ``hist_from``/``hist_to`` (YYYY-MM-DD); a bad value
    falls back to the last 30 days with a one-line message, as the scenario date does."""
    today = today or calendar.market_date()

    def preset(name: str, error: str = "") -> HistoryRange:
        days = PRESETS[name]
        start = None if days is None else today - timedelta(days=days)
        return HistoryRange(start, today, name, error)

    raw_from, raw_to = q.get("hist_from", "").strip()[:20], q.get("hist_to", "").strip()[:20]
    if not raw_from and not raw_to:
        name = q.get("hist", "").strip()[:10] or DEFAULT_PRESET
        if name not in PRESETS:
            return preset(DEFAULT_PRESET, f"Unknown range {name!r}; showing the last 30 days.")
        return preset(name)
    try:
        start = date.fromisoformat(raw_from) if raw_from else None
        end = date.fromisoformat(raw_to) if raw_to else today
    except ValueError:
        return preset(DEFAULT_PRESET, "Dates are YYYY-MM-DD; showing the last 30 days.")
    earliest = today - timedelta(days=366 * MAX_YEARS)
    if start is not None and start > end:
        return preset(DEFAULT_PRESET, "The start is after the end; showing the last 30 days.")
    if end > today or (start is not None and start < earliest):
        return preset(
            DEFAULT_PRESET,
            f"The range must lie within the last {MAX_YEARS} years; showing the last 30 days.",
        )
    return HistoryRange(start, end, "")


def _events(portfolio: Portfolio, symbol: str, rng: HistoryRange) -> list[dict[str, Any]]:
    trades = Trade.objects.filter(portfolio=portfolio, symbol=symbol, traded_on__lte=rng.end)
    if rng.start is not None:
        trades = trades.filter(traded_on__gte=rng.start)
    return [
        {
            "date": t.traded_on,
            "roll": t.source == Trade.Source.ROLL,
            "action": t.action,
            "quantity": float(t.quantity),
            "instrument": t.instrument,
            "price": float(t.price),
            "source": t.get_source_display(),
        }
        for t in trades.order_by("traded_on", "pk")[:MAX_POINTS]
    ]


def history_panel(portfolio: Portfolio | None, symbol: str, rng: HistoryRange) -> dict[str, Any]:
    """What the panel shows: the figure (chart + data table) and the events table."""
    if portfolio is None:
        return {"figure": EMPTY, "events": [], "range": rng}
    qs = PortfolioSnapshot.objects.filter(
        portfolio=portfolio, symbol=symbol, taken_at__date__lte=rng.end + timedelta(days=1)
    )
    if rng.start is not None:
        qs = qs.filter(taken_at__date__gte=rng.start)
    rows = list(qs.order_by("taken_at").values_list("taken_at", "value", "cost")[:MAX_POINTS])
    # Points are stored at 16:00 New York; their market date decides the range.
    rows = [
        r
        for r in rows
        if (rng.start is None or calendar.market_date(r[0]) >= rng.start)
        and calendar.market_date(r[0]) <= rng.end
    ]
    events = _events(portfolio, symbol, rng)
    if not rows:
        return {"figure": EMPTY, "events": events, "range": rng}
    span = f"{calendar.market_date(rows[0][0]):%Y-%m-%d} to {calendar.market_date(rows[-1][0]):%Y-%m-%d}"
    title = f"Portfolio value ($), {span} ({len(rows)} daily point{'' if len(rows) == 1 else 's'})"
    xs = [r[0] for r in rows]
    values = np.array([r[1] for r in rows], dtype=float)
    series = [charts.Series("Value", xs, list(values))]
    # Each event sits on the line at the last point on or before its day.
    point_days = np.array([np.datetime64(calendar.market_date(x), "D") for x in xs])
    by_day: dict[date, list[dict[str, Any]]] = {}
    for e in events:
        by_day.setdefault(e["date"], []).append(e)
    markers = []
    for day, evs in by_day.items():
        i = int(np.searchsorted(point_days, np.datetime64(day, "D"), side="right")) - 1
        if i < 0:
            continue
        roll = any(e["roll"] for e in evs)
        label = f"{day:%Y-%m-%d}: " + "; ".join(
            f"{e['action']} {abs(e['quantity']):g} {e['instrument']}" for e in evs
        )
        markers.append(
            charts.Marker(
                xs[i],
                float(values[i]),
                ("roll · " if roll else "") + label,
                "diamond" if roll else "circle",
                ROLL_COLOR if roll else TRADE_COLOR,
            )
        )
    svg = charts.line_chart(
        series,
        x_kind="time",
        title=title,
        x_title="close (16:00 New York)",
        hlines=[(rows[-1][2], "cost")],
        element_id="history-chart",
        markers=markers,
    )
    table = charts.series_table(
        series,
        caption=title,
        x_title="Close",
        x_format=lambda t: f"{calendar.market_date(t):%Y-%m-%d}",
        y_format=lambda v: f"${v:,.0f}",
    )
    figure: SafeString = charts.figure(svg, table)
    return {"figure": figure, "events": events, "range": rng, "markers": len(markers)}
