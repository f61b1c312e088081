"""Build the "old chain" database fixtures of tests/accounts/test_migrations.py.

They are databases migrated by the migration chain from before the squash (main at OLD_REF,
with vault_dash 0001-0002, accounts 0001-0002, portfolio 0001-0009 and so on) and holding a
few rows made through that tree's own code. The test migrates them with today's code and
checks that nothing runs and nothing is lost. Run from the repository root:

    .venv/bin/python tools/build_oldchain_fixture.py            # SQLite and PostgreSQL
    .venv/bin/python tools/build_oldchain_fixture.py --sqlite-only

PostgreSQL comes from TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres);
the script creates and drops a scratch database beside it and needs pg_dump on PATH.
"""

from __future__ import annotations

import argparse
import gzip
import os
import sqlite3
import subprocess  # nosec B404
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

# The last commit of main with the unsquashed migrations.
OLD_REF = "4746ce7c8792ddf7c681b7a5af83e45b16371e28"
ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "oldchain"
SCRATCH_DB = "vault_oldchain_build"

# Runs inside the old tree (manage.py shell), so it only uses what existed at OLD_REF.
SEED = """
from datetime import date, datetime, timezone
from decimal import Decimal as D

from django.contrib.auth import get_user_model

from accounts.models import TOKEN_PREFIX, ApiToken, _digest
from alerts.models import AlertRule
from portfolio import ledger
from portfolio.models import Portfolio, Trade

user = get_user_model().objects.create_user("olddev", "olddev@example.com", "old-chain-pw")
plain = f"{TOKEN_PREFIX}_0ldcha1n_fixture-token-not-a-secret"
ApiToken.objects.create(user=user, name="cron export", prefix="0ldcha1n", digest=_digest(plain))
pf = Portfolio.objects.create(name="Old chain book", owner=user, default_symbol="GLD")
ledger.record(pf, user, [
    Trade(symbol="GLD", kind="underlying", action="buy", quantity=D(300), price=D("180.25"),
          traded_on=date(2026, 6, 1), note="core"),
    Trade(symbol="GLD", kind="option", action="open", quantity=D(-3), price=D("2.5"),
          expiry=date(2027, 1, 15), strike=D(170), right="P", traded_on=date(2026, 6, 2)),
    Trade(symbol="GLD", kind="underlying", action="sell", quantity=D(-100), price=D("190"),
          fees=D("1.5"), traded_on=date(2026, 7, 1), source="csv", external_id="row-7"),
], reason="old chain fixture")
AlertRule.objects.create(portfolio=pf, symbol="GLD", name="floor watch", kind="spot",
                         op="below", level=170.0, reset_band=1.0, email="olddev@example.com")
print("seeded", Trade.objects.count(), "trades")
"""


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=cwd, env=env, check=True)  # nosec B603


def _old_tree(ref: str, into: Path) -> Path:
    archive = subprocess.run(  # nosec B603 B607
        ["git", "-C", str(ROOT), "archive", ref], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)  # nosec B603 B607
    return into


def _build(tree: Path, database_url: str) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "vault_dash.settings.test",
        "DATA_DIR": str(tree / "data"),
    }
    python = sys.executable
    _run([python, "manage.py", "migrate", "--no-input", "-v", "1"], tree, env)
    _run([python, "manage.py", "shell", "-c", SEED], tree, env)


def build_sqlite(tree: Path) -> Path:
    target = OUT / "oldchain.sqlite3"
    target.unlink(missing_ok=True)
    _build(tree, f"sqlite:///{target}")
    # The settings turn WAL on, which is stored in the file: a plain journal keeps it one file.
    with sqlite3.connect(target) as db:
        db.execute("PRAGMA journal_mode=DELETE")
    with sqlite3.connect(target) as db:
        db.execute("VACUUM")
    return target


def build_postgres(tree: Path, server_url: str) -> Path:
    parts = urlsplit(server_url)
    scratch = urlunsplit(parts._replace(path=f"/{SCRATCH_DB}"))
    admin = ["psql", server_url, "-v", "ON_ERROR_STOP=1", "-q", "-c"]
    _run([*admin, f"DROP DATABASE IF EXISTS {SCRATCH_DB}"], ROOT, dict(os.environ))
    _run([*admin, f"CREATE DATABASE {SCRATCH_DB}"], ROOT, dict(os.environ))
    try:
        _build(tree, scratch)
        target = OUT / "oldchain.postgres.sql.gz"
        dump = subprocess.run(  # nosec B603 B607
            ["pg_dump", "--no-owner", "--no-privileges", "--inserts", scratch],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        # pg_dump >= 15.14 wraps the dump in psql's \restrict meta-commands; without them it is
        # plain SQL that the test runs through psycopg (psql reads it as well).
        sql = "".join(ln for ln in dump.splitlines(keepends=True) if ln[:1] != "\\")
        target.write_bytes(gzip.compress(sql.encode(), mtime=0))
    finally:
        _run([*admin, f"DROP DATABASE IF EXISTS {SCRATCH_DB}"], ROOT, dict(os.environ))
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", default=OLD_REF, help="git ref with the old migrations")
    parser.add_argument("--sqlite-only", action="store_true")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="oldchain-") as tmp:
        tree = _old_tree(args.ref, Path(tmp))
        print("wrote", build_sqlite(tree).relative_to(ROOT))
        if not args.sqlite_only:
            url = os.environ.get("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
            print("wrote", build_postgres(tree, url).relative_to(ROOT))


if __name__ == "__main__":
    main()
