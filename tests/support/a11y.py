"""Checks every browser test can run on a page: axe-core, layout at the viewport, text size,
and a screenshot under test-artifacts/screenshots/ (git-ignored; CI keeps the folder)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support.server import ROOT

SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
BLOCKING = ("serious", "critical")
MIN_TEXT_PX = 11.0


def axe_violations(page: Any) -> list[str]:
    """axe-core's serious and critical violations on the page, one line each."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    out = []
    for v in results.response["violations"]:
        if v.get("impact") in BLOCKING:
            targets = [" ".join(map(str, n.get("target", []))) for n in v["nodes"][:3]]
            out.append(f"{v['id']} ({v['impact']}, {len(v['nodes'])}x): {targets}")
    return out


def overflow(page: Any) -> dict[str, int]:
    """The document's scroll width against the viewport's width."""
    result: dict[str, int] = page.evaluate(
        "() => ({scroll: document.documentElement.scrollWidth, viewport: window.innerWidth})"
    )
    return result


# The size each text is drawn at: its computed font size times the scale its SVG is drawn at
# (an SVG scaled down to fit a phone shrinks its text with it).
_SMALL_TEXT = """(min) => {
  const small = [];
  for (const el of document.querySelectorAll('body *')) {
    if (el.closest('details:not([open]), [hidden], .visually-hidden, title')) continue;
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own) continue;
    const rect = el.getBoundingClientRect();
    if (!rect.width || !rect.height) continue;
    let size = parseFloat(getComputedStyle(el).fontSize);
    const svg = el.closest('svg');
    if (svg && svg.viewBox && svg.viewBox.baseVal && svg.viewBox.baseVal.width) {
      size *= svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
    }
    if (size < min - 0.01) small.push(`${el.tagName.toLowerCase()}#${el.id}.${el.className && el.className.baseVal !== undefined ? el.className.baseVal : el.className} "${el.textContent.trim().slice(0, 20)}" ${size.toFixed(1)}px`);
  }
  return small;
}"""


def small_text(page: Any, minimum: float = MIN_TEXT_PX) -> list[str]:
    texts: list[str] = page.evaluate(_SMALL_TEXT, minimum)
    return texts


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def page_problems(page: Any, where: str, *, text: bool = False) -> list[str]:
    """What is wrong with the page as drawn, one line each, prefixed with ``where``: a document
    wider than the viewport, axe-core's blocking violations and, with ``text``, text drawn
    under 11 px."""
    problems = []
    size = overflow(page)
    if size["scroll"] > size["viewport"]:
        problems.append(f"{where}: document {size['scroll']} px wide")
    if text and (tiny := small_text(page)):
        problems.append(f"{where}: text under 11 px: {tiny[:5]}")
    return problems + [f"{where}: axe {v}" for v in axe_violations(page)]
