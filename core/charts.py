"""Server-rendered SVG charts: a line chart with readable axes and a heat-map.

Plain strings, no JavaScript, sized by ``viewBox`` so CSS scales them (``svg.chart``). Every
label is escaped. Shared by the portfolio and strategies pages::

    line_chart([Series("At expiry", xs, ys)], x_kind="number", vlines=[(spot, "spot")])
    heat_map(row_labels, col_labels, values, fmt=lambda v: f"{v:+,.0f}")
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

PALETTE = ("#d4af37", "#5fa8ff", "#3fb950", "#f85149", "#c297ff", "#d29922")
# Text is drawn at FONT_UNITS user units (static/css/app.css); an SVG drawn narrower than
# width × MIN_TEXT_PX / FONT_UNITS would shrink it below 11 px, so it gets that min-width and
# scrolls inside its box (.chart-box) on a phone instead.
FONT_UNITS = 13
MIN_TEXT_PX = 11
# Strongest heat-map tint: text on the most intense cell keeps a 4.5:1 contrast in both themes.
HEAT_MAX_OPACITY = 0.62


def _svg_open(
    kind: str, element_id: str, width: float, height: float, label: str, scale_text: bool = True
) -> str:
    ident = f' id="{escape(element_id)}"' if element_id else ""
    # Wide enough that no text renders under MIN_TEXT_PX (the caller puts it in a scroll box);
    # a placeholder with one short line needs no such width and must fit a phone as it is.
    min_w = math.ceil(width * MIN_TEXT_PX / FONT_UNITS) if scale_text else 0
    return (
        f'<svg class="{kind}"{ident} viewBox="0 0 {width} {height}" role="img" '
        f'style="min-width:{min_w}px" aria-label="{label}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{label}</title>'
    )


@dataclass(frozen=True)
class Marker:
    """A labelled point drawn on a line chart: ``shape`` "circle" or "diamond"."""

    x: Any
    y: float
    label: str
    shape: str = "circle"
    color: str = "#5fa8ff"


@dataclass(frozen=True)
class Series:
    name: str
    x: Sequence[Any]  # numbers, dates or datetimes
    y: Sequence[float | None]
    color: str | None = None
    dashed: bool = False


def _num(v: Any) -> float:
    if isinstance(v, datetime):
        return (v if v.tzinfo else v.replace(tzinfo=UTC)).timestamp()
    if isinstance(v, date):
        return datetime(v.year, v.month, v.day, tzinfo=UTC).timestamp()
    return float(v)


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About ``n`` round tick values covering [lo, hi] (steps of 1, 2, 2.5 or 5 × 10^k)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi < lo:
        lo, hi = hi, lo
    if hi == lo:
        pad = abs(lo) * 0.05 or 1.0
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / max(n - 1, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw), 10 * mag)
    start = math.floor(lo / step) * step
    ticks = []
    v = start
    while v <= hi + step * 1e-9:
        ticks.append(round(v, 10))
        v += step
    if ticks and ticks[-1] < hi - step * 1e-9:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def compact(v: float) -> str:
    """1234567 → 1.23M, 12500 → 12.5k, 0.25 → 0.25."""
    a = abs(v)
    for div, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if a >= div:
            return f"{v / div:.3g}{suffix}"
    return f"{v:.4g}"


def _time_label(ts: float, span: float) -> str:
    d = datetime.fromtimestamp(ts, tz=UTC)
    if span <= 2 * 86400:
        return d.strftime("%H:%M")
    if span <= 200 * 86400:
        return d.strftime("%b %d")
    return d.strftime("%Y-%m")


def line_chart(
    series: Sequence[Series],
    *,
    width: int = 720,
    height: int = 260,
    x_kind: str = "number",  # "number" | "time"
    x_format: Callable[[float], str] | None = None,
    y_format: Callable[[float], str] = compact,
    title: str = "",
    x_title: str = "",
    y_title: str = "",
    hlines: Sequence[tuple[float, str]] = (),
    vlines: Sequence[tuple[Any, str]] = (),
    element_id: str = "",
    markers: Sequence[Marker] = (),
) -> SafeString:
    """A multi-series line chart with nice y ticks, x ticks, optional reference lines and
    markers (each with its label as a tooltip; list them in a table beside the chart too)."""
    pts = [
        [
            (_num(x), float(y))
            for x, y in zip(s.x, s.y, strict=False)
            if y is not None and math.isfinite(float(y))
        ]
        for s in series
    ]
    xs = [p[0] for ps in pts for p in ps] + [_num(x) for x, _ in vlines]
    ys = [p[1] for ps in pts for p in ps] + [y for y, _ in hlines]
    if not xs or not ys:
        head = _svg_open("chart", element_id, width, height, escape(title or "chart"), False)
        # built from escaped parts
        return mark_safe(  # nosec B308, B703
            f'{head}<text x="{width / 2}" y="{height / 2}" text-anchor="middle">'
            "No data yet</text></svg>"
        )
    head = _svg_open("chart", element_id, width, height, escape(title or "chart"))
    left, right, top, bottom = 64, 16, 24 if title else 12, 40 if x_title else 28
    pw, ph = width - left - right, height - top - bottom
    yt = nice_ticks(min(ys), max(ys))
    y0, y1 = yt[0], yt[-1]
    x0, x1 = min(xs), max(xs)
    if x1 == x0:
        pad = 3600.0 if x_kind == "time" else (abs(x0) * 0.05 or 1.0)
        x0, x1 = x0 - pad, x1 + pad

    def sx(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * pw

    def sy(y: float) -> float:
        return top + (1 - (y - y0) / (y1 - y0)) * ph

    out = [head]
    if title:
        out.append(f'<text x="{left}" y="14" class="title">{escape(title)}</text>')
    for y in yt:
        out.append(
            f'<line x1="{left}" x2="{left + pw}" y1="{sy(y):.1f}" y2="{sy(y):.1f}" '
            f'class="grid" stroke-width="1"/>'
            f'<text x="{left - 6}" y="{sy(y) + 4:.1f}" text-anchor="end">'
            f"{escape(y_format(y))}</text>"
        )
    if x_kind == "time":
        n = 5
        xticks = [x0 + (x1 - x0) * i / (n - 1) for i in range(n)]
        fmt = x_format or (lambda v: _time_label(v, x1 - x0))
    else:
        xticks = [x for x in nice_ticks(x0, x1, 7) if x0 <= x <= x1]
        fmt = x_format or compact
    for i, x in enumerate(xticks):
        # Time ticks sit on the plot's edges: anchor the outer labels inwards (not clipped).
        anchor = "middle"
        if x_kind == "time" and i in (0, len(xticks) - 1):
            anchor = "start" if i == 0 else "end"
        out.append(
            f'<line x1="{sx(x):.1f}" x2="{sx(x):.1f}" y1="{top}" y2="{top + ph}" '
            f'class="grid" stroke-width="0.5"/>'
            f'<text x="{sx(x):.1f}" y="{top + ph + 16}" text-anchor="{anchor}">'
            f"{escape(fmt(x))}</text>"
        )
    out.append(
        f'<line x1="{left}" x2="{left}" y1="{top}" y2="{top + ph}" class="axis"/>'
        f'<line x1="{left}" x2="{left + pw}" y1="{top + ph}" y2="{top + ph}" class="axis"/>'
    )
    for y, text in hlines:
        if y0 <= y <= y1:
            out.append(
                f'<line x1="{left}" x2="{left + pw}" y1="{sy(y):.1f}" y2="{sy(y):.1f}" '
                f'class="axis" stroke-dasharray="4 3"/>'
                f'<text x="{left + pw - 4}" y="{sy(y) - 4:.1f}" text-anchor="end">'
                f"{escape(text)}</text>"
            )
    for xv, text in vlines:
        x = _num(xv)
        out.append(
            f'<line x1="{sx(x):.1f}" x2="{sx(x):.1f}" y1="{top}" y2="{top + ph}" '
            f'class="axis" stroke-dasharray="4 3"/>'
            f'<text x="{sx(x) + 4:.1f}" y="{top + 12}">{escape(text)}</text>'
        )
    for i, (s, ps) in enumerate(zip(series, pts, strict=True)):
        if not ps:
            continue
        color = s.color or PALETTE[i % len(PALETTE)]
        dash = ' stroke-dasharray="6 4"' if s.dashed else ""
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in ps)
        out.append(
            f'<polyline fill="none" stroke="{color}" stroke-width="2"{dash} points="{path}">'
            f"<title>{escape(s.name)}</title></polyline>"
        )
        if len(ps) == 1:
            x, y = ps[0]
            out.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3" fill="{color}"/>')
    for m in markers:
        x, y = sx(_num(m.x)), sy(float(m.y))
        if m.shape == "diamond":
            tag = "polygon"
            attrs = (
                f'points="{x:.1f},{y - 6:.1f} {x + 6:.1f},{y:.1f} {x:.1f},{y + 6:.1f} '
                f'{x - 6:.1f},{y:.1f}"'
            )
        else:
            tag, attrs = "circle", f'cx="{x:.1f}" cy="{y:.1f}" r="5"'
        out.append(
            f'<{tag} {attrs} fill="{m.color}" stroke="#000" stroke-width="0.5" class="marker">'
            f"<title>{escape(m.label)}</title></{tag}>"
        )
    if len(series) > 1 or (series and series[0].name):
        lx = left + 8
        for i, s in enumerate(series):
            color = s.color or PALETTE[i % len(PALETTE)]
            out.append(
                f'<rect x="{lx}" y="{top + 4}" width="10" height="3" fill="{color}"/>'
                f'<text x="{lx + 14}" y="{top + 9}">{escape(s.name)}</text>'
            )
            lx += 26 + 8 * len(s.name)
    if x_title:
        out.append(
            f'<text x="{left + pw / 2}" y="{height - 4}" text-anchor="middle">'
            f"{escape(x_title)}</text>"
        )
    if y_title:
        out.append(
            f'<text x="12" y="{top + ph / 2}" text-anchor="middle" '
            f'transform="rotate(-90 12 {top + ph / 2})">{escape(y_title)}</text>'
        )
    return _closed_svg(out)


def _closed_svg(out: list[str]) -> SafeString:
    out.append("</svg>")
    # every interpolated text is escaped
    return mark_safe("".join(out))  # nosec B308, B703


def heat_map(
    rows: Sequence[str],
    cols: Sequence[str],
    values: Sequence[Sequence[float | None]],
    *,
    fmt: Callable[[float], str] = compact,
    title: str = "",
    row_title: str = "",
    col_title: str = "",
    center: float = 0.0,
    highlight: tuple[int, int] | None = None,
    cell_w: int = 58,
    cell_h: int = 26,
    element_id: str = "",
) -> SafeString:
    """A table of coloured cells: red below ``center``, green above, intensity by magnitude."""
    finite = [
        abs(float(v) - center) for r in values for v in r if v is not None and math.isfinite(v)
    ]
    scale = max(finite) if finite else 1.0
    left = max(76, 8 * max((len(r) for r in rows), default=0) + 14)
    top = 40 if title else 24
    width = left + cell_w * len(cols) + 8
    height = top + cell_h * len(rows) + (22 if col_title else 6)
    out = [_svg_open("chart heatmap", element_id, width, height, escape(title or "heat map"))]
    if title:
        out.append(f'<text x="{left}" y="14" class="title">{escape(title)}</text>')
    for j, c in enumerate(cols):
        out.append(
            f'<text x="{left + cell_w * j + cell_w / 2}" y="{top - 6}" '
            f'text-anchor="middle">{escape(c)}</text>'
        )
    for i, r in enumerate(rows):
        y = top + cell_h * i
        out.append(
            f'<text x="{left - 6}" y="{y + cell_h / 2 + 4}" text-anchor="end">{escape(r)}</text>'
        )
        for j, v in enumerate(values[i] if i < len(values) else []):
            x = left + cell_w * j
            # Colours come from the theme (app.css): rect.pos / rect.neg tinted by opacity.
            if v is None or not math.isfinite(v):
                kind, opacity, text = "none", 1.0, "—"
            else:
                t = min(abs(v - center) / scale, 1.0) if scale else 0.0
                kind = "pos" if v >= center else "neg"
                opacity = round(0.12 + (HEAT_MAX_OPACITY - 0.12) * t, 3)
                text = fmt(v)
            mark = " mark" if highlight == (i, j) else ""
            out.append(
                f'<rect x="{x}" y="{y}" width="{cell_w - 2}" height="{cell_h - 2}" rx="3" '
                f'class="{kind}{mark}" fill-opacity="{opacity}"><title>{escape(r)} / '
                f"{escape(cols[j])}: {escape(text)}</title></rect>"
                f'<text x="{x + cell_w / 2 - 1}" y="{y + cell_h / 2 + 4}" text-anchor="middle" '
                f'class="cell">{escape(text)}</text>'
            )
    if col_title:
        out.append(
            f'<text x="{left + cell_w * len(cols) / 2}" y="{height - 4}" '
            f'text-anchor="middle">{escape(col_title)}</text>'
        )
    if row_title:
        out.append(f'<text x="4" y="{top - 6}">{escape(row_title)}</text>')
    return _closed_svg(out)


# --- the same data as tables: the accessible alternative to every chart ----------------------


def heat_table(
    rows: Sequence[str],
    cols: Sequence[str],
    values: Sequence[Sequence[float | None]],
    *,
    fmt: Callable[[float], str] = compact,
    caption: str,
    corner: str,
) -> SafeString:
    """The heat map's cells as a table with row and column headers."""
    out = [f"<table><caption>{escape(caption)}</caption><thead><tr>"]
    out.append(f'<th scope="col">{escape(corner)}</th>')
    out += [f'<th scope="col">{escape(c)}</th>' for c in cols]
    out.append("</tr></thead><tbody>")
    for i, r in enumerate(rows):
        out.append(f'<tr><th scope="row">{escape(r)}</th>')
        for v in values[i] if i < len(values) else []:
            ok = v is not None and math.isfinite(v)
            out.append(f"<td>{escape(fmt(v)) if ok and v is not None else '—'}</td>")
        out.append("</tr>")
    out.append("</tbody></table>")
    return mark_safe("".join(out))  # nosec B308, B703: every cell is escaped


def series_table(
    series: Sequence[Series],
    *,
    caption: str,
    x_title: str,
    x_format: Callable[[Any], str] = lambda v: f"{v:,.2f}",
    y_format: Callable[[float], str] = lambda v: f"{v:,.2f}",
    max_rows: int = 25,
) -> SafeString:
    """Line-chart data as a table: one row per x (every n-th when there are many), one column
    per series. The chart's x values must be shared by its series (true of our charts)."""
    if not series or not series[0].x:
        return mark_safe(f"<p>{escape(caption)}: no data.</p>")  # nosec B308, B703
    xs = list(series[0].x)
    step = max(1, math.ceil(len(xs) / max_rows))
    idx = list(range(0, len(xs), step))
    if idx[-1] != len(xs) - 1:
        idx.append(len(xs) - 1)
    out = [f"<table><caption>{escape(caption)}</caption><thead><tr>"]
    out.append(f'<th scope="col">{escape(x_title)}</th>')
    out += [f'<th scope="col">{escape(s.name)}</th>' for s in series]
    out.append("</tr></thead><tbody>")
    for i in idx:
        out.append(f'<tr><th scope="row">{escape(x_format(xs[i]))}</th>')
        for s in series:
            y = s.y[i] if i < len(s.y) else None
            ok = y is not None and math.isfinite(float(y))
            out.append(f"<td>{escape(y_format(float(y))) if ok and y is not None else '—'}</td>")
        out.append("</tr>")
    out.append("</tbody></table>")
    return mark_safe("".join(out))  # nosec B308, B703: every cell is escaped


def figure(
    svg: SafeString, table: SafeString, summary: str = "Show the data as a table"
) -> SafeString:
    """A chart in its scroll box with its data table folded underneath."""
    return format_html(
        '<div class="chart-box" tabindex="0">{}</div><details class="chart-data"><summary>{}</summary>'
        '<div class="scroll" tabindex="0">{}</div></details>',
        svg,
        summary,
        table,
    )
