"""Charts of the options and strategies pages, drawn with the shared SVG helpers."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from django.utils.safestring import SafeString

from core.charts import Series, figure, heat_map, heat_table, line_chart, series_table


def _money(v: float) -> str:
    a = abs(v)
    if a >= 1e6:
        s = f"${a / 1e6:.3g}M"
    elif a >= 1e3:
        s = f"${a / 1e3:.3g}k"
    else:
        s = f"${a:.0f}"
    return f"-{s}" if v < 0 else s


def _payoff_series(payoff: dict[str, Any]) -> list[Series]:
    """P&L at expiry, today and at the later dates, on the payoff's price grid."""
    grid = payoff["grid"]
    series = [Series("At expiry", grid, payoff["expiry_pnl"], color="#d4af37")]
    colors = ("#5fa8ff", "#c297ff", "#3fb950")
    for i, c in enumerate(payoff["curves"]):
        label = "Today" if c["days"] == 0 else f"{c['date']} (+{c['days']:.0f} d)"
        series.append(Series(label, grid, c["pnl"], color=colors[i % 3], dashed=i > 0))
    return series


def payoff_figure(
    payoff: dict[str, Any],
    spot: float,
    breakevens: Sequence[float] = (),
    element_id: str = "payoff-chart",
) -> SafeString:
    """The payoff chart with its data as a table underneath."""
    grid = payoff["grid"]
    series = _payoff_series(payoff)
    # Labels closer than ~6 % of the axis to the previous one would overlap: keep the line,
    # drop the text (the breakevens are also listed beside the chart).
    span = (grid[-1] - grid[0]) or 1.0
    vlines: list[tuple[Any, str]] = [(spot, f"spot {spot:,.2f}")]
    placed = [spot]
    for b in sorted(breakevens):
        if grid[0] <= b <= grid[-1]:
            near = any(abs(b - x) < 0.06 * span for x in placed)
            vlines.append((b, "" if near else f"BE {b:,.2f}"))
            placed.append(b)
    chart = line_chart(
        series,
        title="P&L by price of the underlying",
        x_title="Underlying price at the date ($)",
        y_title="P&L ($)",
        y_format=_money,
        x_format=lambda v: f"{v:,.0f}",
        hlines=[(0.0, "break-even")],
        vlines=vlines,
        element_id=element_id,
        height=300,
    )
    table = series_table(
        series,
        caption="P&L ($) by price of the underlying",
        x_title="Underlying price ($)",
        y_format=lambda v: f"{v:,.0f}",
    )
    return figure(chart, table)


def pnl_heat_map(payoff: dict[str, Any], element_id: str = "pnl-heatmap") -> SafeString:
    hm = payoff["heatmap"]
    rows = [f"{p:,.2f}" for p in hm["prices"]][::-1]
    values = [list(r) for r in hm["pnl"]][::-1]
    cols = [d[5:] for d in hm["dates"]]
    title = "P&L ($): price × date"
    svg = heat_map(
        rows,
        cols,
        values,
        fmt=_money,
        title=title,
        row_title="price ($)",
        col_title="date (MM-DD)",
        element_id=element_id,
        cell_w=64,
    )
    table = heat_table(
        rows,
        list(hm["dates"]),
        values,
        fmt=lambda v: f"{v:,.0f}",
        caption=title,
        corner="Price ($) ↓ · date →",
    )
    return figure(svg, table)


def smile_chart(
    strikes: Sequence[float],
    calls: Sequence[float | None],
    puts: Sequence[float | None],
    spot: float,
    title: str = "IV smile",
) -> SafeString:
    def pct(xs: Sequence[float | None]) -> list[float | None]:
        return [x * 100 if x is not None and math.isfinite(x) else None for x in xs]

    # The smile from out-of-the-money quotes (puts below spot, calls above): in-the-money
    # mids carry wide spreads and early-exercise premium, so their IVs are noisy.
    otm_c = [c if k >= spot else None for k, c in zip(strikes, calls, strict=True)]
    otm_p = [p if k <= spot else None for k, p in zip(strikes, puts, strict=True)]
    return line_chart(
        [
            Series("Call IV (OTM)", strikes, pct(otm_c), color="#5fa8ff"),
            Series("Put IV (OTM)", strikes, pct(otm_p), color="#d4af37"),
        ],
        title=title,
        x_title="Strike ($)",
        y_title="IV (%)",
        y_format=lambda v: f"{v:.0f}%",
        x_format=lambda v: f"{v:,.0f}",
        vlines=[(spot, "spot")],
        element_id="iv-smile",
        height=240,
    )


def term_chart(points: Sequence[tuple[Any, float, float]]) -> SafeString:
    return line_chart(
        [Series("ATM IV", [p[1] for p in points], [p[2] * 100 for p in points], color="#3fb950")],
        title="ATM IV term structure",
        x_title="Days to expiry",
        y_title="IV (%)",
        y_format=lambda v: f"{v:.1f}%",
        x_format=lambda v: f"{v:.0f}",
        element_id="iv-term",
        height=240,
    )


def smile_figure(
    strikes: Sequence[float],
    calls: Sequence[float | None],
    puts: Sequence[float | None],
    spot: float,
    expiry: Any,
) -> SafeString:
    """The volatility smile of one expiry, with the IVs as a table."""
    title = f"IV smile, expiry {expiry}"

    def pct(xs: Sequence[float | None]) -> list[float | None]:
        return [x * 100 if x is not None and math.isfinite(x) else None for x in xs]

    table = series_table(
        [Series("Call IV (%)", strikes, pct(calls)), Series("Put IV (%)", strikes, pct(puts))],
        caption=title,
        x_title="Strike ($)",
        y_format=lambda v: f"{v:.1f}",
        max_rows=60,
    )
    return figure(smile_chart(strikes, calls, puts, spot, title), table)


def term_figure(points: Sequence[tuple[Any, float, float]]) -> SafeString:
    """ATM implied volatility by expiry, with the points as a table."""
    table = series_table(
        [
            Series(
                "ATM IV (%)",
                [f"{p[0]} ({p[1]:.0f} d)" for p in points],
                [p[2] * 100 for p in points],
            )
        ],
        caption="ATM IV term structure",
        x_title="Expiry (days)",
        x_format=str,
        y_format=lambda v: f"{v:.1f}",
        max_rows=60,
    )
    return figure(term_chart(points), table)


def iv_history_figure(
    dates: Sequence[Any],
    iv30: Sequence[float | None],
    rv20: Sequence[float | None],
    rv60: Sequence[float | None],
    symbol: str,
) -> SafeString:
    """IV30 over time against close-to-close realised vol (20 and 60 days), with a table."""

    def pct(xs: Sequence[float | None]) -> list[float | None]:
        return [x * 100 if x is not None and math.isfinite(x) else None for x in xs]

    title = f"{symbol} 30-day implied vol against realised vol"
    series = [
        Series("IV30", dates, pct(iv30), color="#d4af37"),
        Series("Realised 20 d", dates, pct(rv20), color="#5fa8ff"),
        Series("Realised 60 d", dates, pct(rv60), color="#3fb950", dashed=True),
    ]
    svg = line_chart(
        series,
        title=title,
        x_kind="time",
        x_title="Date",
        y_title="Volatility (%)",
        y_format=lambda v: f"{v:.0f}%",
        element_id="iv-history-chart",
        height=280,
    )
    table = series_table(
        [Series(f"{s.name} (%)", s.x, s.y) for s in series],
        caption=title + " (%)",
        x_title="Date",
        x_format=str,
        y_format=lambda v: f"{v:.1f}",
        max_rows=60,
    )
    return figure(svg, table)
