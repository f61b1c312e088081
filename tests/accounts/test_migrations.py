"""The squashed migrations (issue 19): one per app, and old databases migrate as a no-op.

A database migrated from nothing and one built by the old chain (tests/fixtures/oldchain, made
by tools/build_oldchain_fixture.py from main before the squash) end with the same tables,
columns and constraints. The old one keeps its rows, and migrate has nothing to do on it. Each
test works on a scratch database of the suite's engine (SQLite, or PostgreSQL when
DATABASE_URL points there), beside the test database.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import shutil
from collections.abc import Iterator
from decimal import Decimal
from importlib import import_module
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.core.management import call_command
from django.db import connections
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader

from tests.support.postgres import libpq, scratch_database


@pytest.fixture(autouse=True)
def _scratch_databases_only(django_db_blocker, monkeypatch):
    """Connections of their own (TestCase forbids those), and none to the default database:
    a migration that forgets which database it runs on fails here."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the default database was used while migrating a scratch one")

    monkeypatch.setattr(connections["default"], "ensure_connection", refuse)
    with django_db_blocker.unblock():
        yield


FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "oldchain"
APPS = ["accounts", "alerts", "marketdata", "portfolio", "strategies"]
SQUASHED = {
    ("accounts", "0001_squashed_0002_invitation"),
    ("alerts", "0001_squashed_0002_option_event_rules"),
    ("portfolio", "0001_squashed_0009_trade_source_demo"),
    ("strategies", "0001_squashed_0003_hedge_roll"),
}
# The rows tools/build_oldchain_fixture.py made through the old code.
OLD_TOKEN = "vd_0ldcha1n_fixture-token-not-a-secret"


def _engine() -> str:
    return str(connections.settings["default"]["ENGINE"]).rsplit(".", 1)[1]


def _postgres_url(name: str) -> str:
    s = connections.settings["default"]
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or 'localhost'}:{s['PORT'] or 5432}/{name}"


@contextlib.contextmanager
def _alias(alias: str, name: str) -> Iterator[Any]:
    """A Django connection ``alias`` to database ``name`` with the default one's settings."""
    settings = {**connections.settings["default"], "NAME": name, "TEST": {}}
    settings["OPTIONS"] = {k: v for k, v in settings["OPTIONS"].items() if k != "pool"}
    connections.settings[alias] = settings
    try:
        yield connections[alias]
    finally:
        connections[alias].close()
        del connections[alias]
        del connections.settings[alias]


@contextlib.contextmanager
def _scratch(tmp_path: Path, role: str, *, old_chain: bool) -> Iterator[Any]:
    """A connection to an empty database, or to a copy of the old-chain fixture."""
    alias = f"squash_{role}"
    if _engine() == "sqlite3":
        path = tmp_path / f"{role}.sqlite3"
        if old_chain:
            shutil.copyfile(FIXTURES / "oldchain.sqlite3", path)
        with _alias(alias, str(path)) as conn:
            yield conn
        return
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"{connections.settings['default']['NAME']}_{role}_{worker}"[-63:]
    with scratch_database(_postgres_url("postgres"), name) as url:
        if old_chain:
            with psycopg.connect(libpq(url), autocommit=True) as pg:
                pg.execute(gzip.decompress((FIXTURES / "oldchain.postgres.sql.gz").read_bytes()))
        with _alias(alias, name) as conn:
            yield conn


def _plan(conn: Any) -> list[Any]:
    executor = MigrationExecutor(conn)
    return executor.migration_plan(executor.loader.graph.leaf_nodes())


def _recorded(conn: Any) -> set[tuple[str, str]]:
    with conn.cursor() as cur:
        cur.execute("SELECT app, name FROM django_migrations")
        return set(cur.fetchall())


def _schema(conn: Any) -> dict[str, Any]:
    """Our apps' tables: their columns (name, type, null) and named constraints and indexes."""
    out: dict[str, Any] = {}
    with conn.cursor() as cur:
        tables = conn.introspection.table_names(cur)
        for table in tables:
            if table.split("_", 1)[0] not in {*APPS, "vault"}:
                continue
            columns = sorted(
                (c.name, str(c.type_code), bool(c.null_ok))
                for c in conn.introspection.get_table_description(cur, table)
            )
            named = conn.introspection.get_constraints(cur, table)
            constraints = sorted(
                (name, tuple(c["columns"] or ()), bool(c["unique"]), bool(c["check"]))
                for name, c in named.items()
                if not name.startswith("__unnamed")
            )
            out[table] = (columns, constraints)
    return out


def test_a_fresh_database_gets_one_migration_per_app_and_the_backing_defaults(tmp_path):
    with _scratch(tmp_path, "fresh", old_chain=False) as conn:
        assert len(_plan(conn)) > len(APPS)
        call_command("migrate", database=conn.alias, interactive=False, verbosity=0)

        assert _plan(conn) == []
        recorded = _recorded(conn)
        # Django records a squash and every migration it replaces; vault_dash has none.
        assert (
            SQUASHED | {("marketdata", "0001_iv_history"), ("portfolio", "0002_ledger")} <= recorded
        )
        assert not any(app == "vault_dash" for app, _ in recorded)
        from portfolio.models import CommodityBacking

        rows = {b.symbol: b for b in CommodityBacking.objects.using(conn.alias)}
        assert set(rows) == {"GLD", "IAU"}
        assert rows["GLD"].ounces_per_share == Decimal("0.0915589843")
        assert rows["IAU"].annual_fee_pct == Decimal("0.2500")
        assert all(b.enabled and b.commodity == "gold" for b in rows.values())


def test_each_app_has_a_single_migration_and_vault_dash_none():
    loader = MigrationLoader(None, ignore_no_migrations=True)
    names = sorted(key for key in loader.disk_migrations if key[0] in {*APPS, "vault_dash"})
    assert {app for app, _ in names} == set(APPS)
    assert len(names) == len(APPS)
    squashed = import_module("portfolio.migrations.0001_squashed_0009_trade_source_demo")
    assert ("portfolio", "0007_commodity_backing_defaults") in squashed.Migration.replaces


def test_a_database_built_by_the_old_chain_migrates_as_a_no_op_and_keeps_its_rows(tmp_path):
    with (
        _scratch(tmp_path, "oldchain", old_chain=True) as old,
        _scratch(tmp_path, "fresh", old_chain=False) as fresh,
    ):
        before = _recorded(old)
        assert ("vault_dash", "0002_apitoken_moved_to_accounts") in before
        assert ("portfolio", "0009_trade_source_demo") in before
        schema_before = _schema(old)
        # The loader counts each squash as applied because its whole old chain is ...
        assert _plan(old) == []
        # ... and every old migration of ours is in some squash's replaces.
        loader = MigrationLoader(old)
        known = set(loader.disk_migrations).union(
            *(m.replaces for m in loader.replacements.values())
        )
        assert {key for key in before if key[0] in APPS} <= known

        call_command("migrate", database=old.alias, interactive=False, verbosity=0)

        assert _plan(old) == []
        # migrate only records the squashes; the vault_dash rows stay and are ignored.
        assert _recorded(old) == before | SQUASHED
        assert _schema(old) == schema_before
        call_command("migrate", database=fresh.alias, interactive=False, verbosity=0)
        assert _schema(old) == _schema(fresh)
        assert "vault_dash_apitoken" in _schema(fresh)

        _assert_old_rows(old.alias)


def _assert_old_rows(db: str) -> None:
    from accounts.models import ApiToken, _digest
    from alerts.models import AlertRule
    from portfolio.models import CommodityBacking, Lot, Portfolio, Position, Trade

    # authenticate() itself would stamp last_used_at on the default database: match as it does.
    token = ApiToken.objects.using(db).active().get(prefix=OLD_TOKEN.split("_")[1])
    assert token.digest == _digest(OLD_TOKEN) and token.name == "cron export"
    assert token.user.username == "olddev"

    book = Portfolio.objects.using(db).get(name="Old chain book", owner=token.user)
    trades = list(Trade.objects.using(db).filter(portfolio=book).order_by("traded_on"))
    assert [(t.action, t.quantity) for t in trades] == [
        ("buy", Decimal(300)),
        ("open", Decimal(-3)),
        ("sell", Decimal(-100)),
    ]
    assert trades[2].external_id == "row-7" and trades[2].fees == Decimal("1.5")
    shares = Position.objects.using(db).get(portfolio=book, kind="underlying")
    assert shares.quantity == Decimal(200)
    assert Lot.objects.using(db).filter(portfolio=book).count() == 2

    assert set(CommodityBacking.objects.using(db).values_list("symbol", flat=True)) == {
        "GLD",
        "IAU",
    }
    rule = AlertRule.objects.using(db).get(portfolio=book)
    assert (rule.name, rule.kind, rule.op, rule.level) == ("floor watch", "spot", "below", 170.0)
