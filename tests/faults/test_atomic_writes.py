"""A process killed in the middle of a CSV import leaves all of it or none of it.

Run against the real PostgreSQL: a trigger makes the INSERT pause half-way through the rows,
the importing process is SIGKILLed while its transaction is open, and the table is checked.
The same import without the kill writes every row, so the check can fail.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from tests.support.postgres import pause_inserts
from tests.support.server import ROOT, app_env, manage

pytestmark = [pytest.mark.slow, pytest.mark.services]

ROWS = 2000
MARKER = "pause-here"

TRIGGER = pause_inserts("portfolio_position", f"NEW.note = '{MARKER}'", 30)


@pytest.fixture
def fault_db(scratch_db):
    with psycopg.connect(scratch_db, autocommit=True) as conn:
        # Lets the server notice a dead client during pg_sleep instead of 30 s later.
        conn.execute(
            f"ALTER DATABASE \"{conn.info.dbname}\" SET client_connection_check_interval = '100ms'"
        )
    return scratch_db


def _csv(path: Path, marker_row: int | None) -> None:
    lines = ["symbol,kind,quantity,cost_basis,expiry,strike,right,note"]
    for i in range(ROWS):
        note = MARKER if i == marker_row else f"row {i}"
        lines.append(f"GLD,option,1,2.5,2027-06-18,{100 + i * 0.5:.1f},P,{note}")
    path.write_text("\n".join(lines) + "\n")


def _count(url: str, portfolio_id: int) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM portfolio_position WHERE portfolio_id = %s", (portfolio_id,)
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_killed_import_writes_nothing_and_a_full_import_writes_everything(fault_db, tmp_path):
    env = app_env({"DATA_DIR": str(tmp_path), "DATABASE_URL": fault_db})
    manage(env, "migrate", "--noinput", "-v0", timeout=120)
    create = "from portfolio.models import Portfolio; print(Portfolio.objects.create(name='Kill test').pk)"
    created = manage(env, "shell", "-c", create, timeout=120)
    portfolio_id = int(created.stdout.strip().splitlines()[-1])
    with psycopg.connect(fault_db, autocommit=True) as conn:
        conn.execute(TRIGGER)

    paused = tmp_path / "paused.csv"
    _csv(paused, marker_row=ROWS // 2)
    process = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "import_positions",
            str(paused),
            "--portfolio",
            str(portfolio_id),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        # Wait until the INSERT is running (and paused half-way), then kill the client.
        deadline = time.monotonic() + 60
        with psycopg.connect(fault_db, autocommit=True) as watcher:
            while time.monotonic() < deadline:
                row = watcher.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
                    "AND query LIKE 'INSERT INTO \"portfolio_position\"%%'"
                ).fetchone()
                if row and row[0]:
                    break
                assert process.poll() is None, process.communicate()
                time.sleep(0.05)
            else:
                pytest.fail("the import never reached its INSERT")
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()

    # The server aborts the dead client's transaction; give it a moment to notice.
    time.sleep(1.0)
    assert _count(fault_db, portfolio_id) == 0

    complete = tmp_path / "complete.csv"
    _csv(complete, marker_row=None)
    manage(env, "import_positions", str(complete), "--portfolio", str(portfolio_id), timeout=120)
    assert _count(fault_db, portfolio_id) == ROWS
