"""Schemathesis against the served OpenAPI schema: no generated request gets a 5xx."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

# The CLI beside the running interpreter (the project's venv).
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"


def test_no_server_errors_for_generated_requests(app_server, tmp_path) -> None:
    result = subprocess.run(
        [
            str(SCHEMATHESIS),
            "run",
            f"{app_server.url}/api/openapi.json",
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "40",
            "--seed",
            "20261130",
            "--request-timeout",
            "30",
            "--generation-allow-x00",
            "false",
            "--report",
            "junit",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=tmp_path,  # its example cache stays out of the work tree
        env={**os.environ, "SCHEMATHESIS_HOOKS": ""},
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    # It really exercised every operation and generated a real number of cases.
    selected = re.search(r"Selected: (\d+)/(\d+)", output)
    tested = re.search(r"Tested: (\d+)", output)
    cases = re.search(r"(\d+) generated, (\d+) passed", output)
    assert selected and tested and cases, output[-2000:]
    assert int(tested.group(1)) == int(selected.group(2)) >= 3
    assert int(cases.group(1)) == int(cases.group(2)) >= 100
