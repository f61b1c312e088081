"""The runnable example in docs/market.md runs and prints what the page says."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "market.md"


def test_docs_example_output_matches():
    text = DOC.read_text()
    example = text.split("## Example", 1)[1]
    match = re.search(r"```python\n(.*?)```", example, re.S)
    assert match is not None
    code = match.group(1)
    expected = [ln[2:] for ln in code.splitlines() if ln.startswith("# ")]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(DOC), "exec"), {})  # noqa: S102 - our own documentation
    assert out.getvalue().splitlines() == expected
