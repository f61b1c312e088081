"""Apply Django migrations while holding a lock, so replicas that start together do not race.

PostgreSQL: a session-level advisory lock (shared by every replica of the database, wherever
it runs), after waiting for the server to accept connections. SQLite: an ``flock`` on a file
beside the database (replicas share it through the data volume). Each wait is bounded by
``MIGRATE_LOCK_TIMEOUT`` seconds (default 300); on timeout the process exits 1 and the
container restarts rather than serving an unmigrated schema.

    python -m deploy.migrate
"""

from __future__ import annotations

import fcntl
import os
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

# A fixed 32-bit key for pg_advisory_lock; any other user of advisory locks picks another.
ADVISORY_KEY = zlib.crc32(b"vault-dash:migrate")


class LockTimeout(RuntimeError):
    pass


def _wait(try_lock: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    announced = False
    while not try_lock():
        if time.monotonic() >= deadline:
            raise LockTimeout(f"migration lock ({what}) still held after {timeout:g}s")
        if not announced:
            print(f"migrate: waiting for the migration lock ({what})", flush=True)
            announced = True
        time.sleep(0.5)


def _wait_for_database(connection: Any, timeout: float) -> None:
    """A database server started beside the app (compose cannot order the app after a
    profile's service) may not accept connections yet: wait for it within the same bound."""
    from django.db import OperationalError
    from psycopg import OperationalError as DriverError  # a pool's timeout is one

    deadline = time.monotonic() + timeout
    announced = False
    while True:
        try:
            _probe(connection)
            return
        except (OperationalError, DriverError) as exc:
            if time.monotonic() >= deadline:
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else "no detail"
                raise LockTimeout(f"database unreachable after {timeout:g}s: {reason}") from None
            if not announced:
                print("migrate: waiting for the database to accept connections", flush=True)
                announced = True
            time.sleep(1)


def _probe(connection: Any) -> None:
    """Connect once. Through the connection pool (DATABASE_POOL_SIZE) with a short timeout of
    its own: the pool's DATABASE_POOL_TIMEOUT would make each try wait 10 s."""
    pool = getattr(connection, "pool", None) if connection.vendor == "postgresql" else None
    if pool is None:
        connection.ensure_connection()
        return
    pool.open()
    pool.putconn(pool.getconn(timeout=1.0))


def migrate(timeout: float) -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vault_dash.settings.base")
    django.setup()
    from django.core.management import call_command
    from django.db import connection

    def run() -> None:
        call_command("migrate", interactive=False, verbosity=1)

    if connection.vendor == "postgresql":
        _wait_for_database(connection, timeout)
        with connection.cursor() as cursor:

            def try_lock() -> bool:
                cursor.execute("SELECT pg_try_advisory_lock(%s)", [ADVISORY_KEY])
                row = cursor.fetchone()
                return bool(row and row[0])

            _wait(try_lock, timeout, f"pg_advisory_lock {ADVISORY_KEY}")
            try:
                run()
            finally:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [ADVISORY_KEY])
        return

    name = str(connection.settings_dict.get("NAME") or "")
    directory = Path(name).parent if connection.vendor == "sqlite" and name else None
    from django.conf import settings

    lock_dir = directory or Path(getattr(settings, "DATA_DIR", "."))
    lock_dir.mkdir(parents=True, exist_ok=True)
    with open(lock_dir / ".migrate.lock", "a+b") as handle:

        def try_flock() -> bool:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            return True

        _wait(try_flock, timeout, str(lock_dir / ".migrate.lock"))
        try:
            run()
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def main() -> int:
    raw = os.environ.get("MIGRATE_LOCK_TIMEOUT", "300")
    try:
        timeout = float(raw)
    except ValueError:
        print(f"migrate: MIGRATE_LOCK_TIMEOUT={raw!r} is not a number", file=sys.stderr)
        return 2
    try:
        migrate(timeout)
    except LockTimeout as exc:
        print(f"migrate: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
