from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest

from core.charts import Series, compact, heat_map, line_chart, nice_ticks

NS = "{http://www.w3.org/2000/svg}"


@pytest.mark.parametrize(
    ("lo", "hi", "expected"),
    [
        (0, 100, [0, 25, 50, 75, 100]),
        (3, 97, [0, 25, 50, 75, 100]),
        (180_000, 260_000, [180_000, 200_000, 220_000, 240_000, 260_000]),
        (-1.3, 2.1, [-2, -1, 0, 1, 2, 3]),
    ],
)
def test_nice_ticks_cover_the_range_with_round_steps(lo, hi, expected):
    assert nice_ticks(lo, hi) == expected


def test_nice_ticks_degenerate():
    assert nice_ticks(5, 5)[0] < 5 < nice_ticks(5, 5)[-1]
    assert nice_ticks(float("nan"), 1) == []


def test_compact():
    assert compact(1_234_567) == "1.23M"
    assert compact(-12_500) == "-12.5k"
    assert compact(0.25) == "0.25"


def test_line_chart_is_valid_svg_with_axes_and_escaped_labels():
    t0 = datetime(2026, 4, 1, tzinfo=UTC)
    xs = [t0 + timedelta(hours=i) for i in range(10)]
    svg = line_chart(
        [Series("<value>", xs, [100 + i for i in range(9)] + [None])],
        x_kind="time",
        title="A & B",
        hlines=[(104, "cost")],
        element_id="c",
    )
    root = ET.fromstring(str(svg))
    assert root.tag == f"{NS}svg" and root.get("id") == "c"
    texts = [t.text for t in root.iter(f"{NS}text")]
    assert "A & B" in texts and "cost" in texts and "<value>" in texts
    assert "00:00" in texts  # time tick labels
    assert {"100", "102", "104", "106", "108"} <= set(texts)  # nice y ticks
    line = root.find(f"{NS}polyline")
    assert line is not None
    points = (line.get("points") or "").split()
    assert len(points) == 9  # the None was skipped
    ys = [float(p.split(",")[1]) for p in points]
    assert ys == sorted(ys, reverse=True)  # rising values go up the screen


def test_line_chart_without_data():
    assert "No data yet" in line_chart([], title="x")


def test_placeholder_fits_a_phone_while_a_chart_keeps_its_legible_width():
    # The placeholder has one short line: no minimum width to push a 390 px page wider.
    assert 'style="min-width:0px"' in line_chart([], title="x")
    drawn = line_chart([Series("v", [1, 2], [1.0, 2.0])], title="x")
    assert 'style="min-width:0px"' not in drawn and "min-width:" in drawn


def test_heat_map_colours_by_sign_and_marks_the_highlight():
    svg = heat_map(["a", "b"], ["-1", "+1"], [[-10.0, 5.0], [None, 10.0]], highlight=(1, 1))
    root = ET.fromstring(str(svg))
    rects = root.findall(f"{NS}rect")
    assert len(rects) == 4
    kinds = [(r.get("class") or "").split() for r in rects]
    assert kinds[0] == ["neg"] and kinds[1] == ["pos"] and kinds[2] == ["none"]
    assert kinds[3] == ["pos", "mark"]  # the highlighted cell
    opacity = [float(r.get("fill-opacity") or "nan") for r in rects]
    assert opacity[3] > opacity[1]  # +10 is tinted stronger than +5
    assert opacity[0] == max(opacity[:2] + opacity[3:])  # |-10| is the largest magnitude
    assert "—" in [t.text for t in root.iter(f"{NS}text")]
    assert re.search(r"b / \+1: 10", str(svg))
