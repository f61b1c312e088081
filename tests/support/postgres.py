"""PostgreSQL helpers for the tests and benches: scratch databases, connections per process.

A server's connections are told apart in ``pg_stat_activity`` by their client port: the
ports of the TCP sockets to PostgreSQL a process holds (``/proc/<pid>/fd`` → socket inode →
``/proc/<pid>/net/tcp``) are matched against ``client_port``. That needs no cooperation from
the server and separates the workers of one gunicorn. :func:`race` runs calls in threads released together.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

import psycopg

T = TypeVar("T")


def libpq(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(scheme="postgresql"))


def with_database(url: str, name: str) -> str:
    """``url`` pointing at database ``name`` (same server, user and options)."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


@contextlib.contextmanager
def scratch_database(url: str, name: str) -> Iterator[str]:
    """Create database ``name`` on the server of ``url`` (dropped first and afterwards)."""
    admin = libpq(with_database(url, "postgres"))

    def drop() -> None:
        with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    drop()
    with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(url, name)
    finally:
        drop()


def pause_inserts(table: str, when: str, seconds: float) -> str:
    """SQL for a trigger that sleeps ``seconds`` before inserting each row of ``table`` for
    which ``when`` (an expression on ``NEW``) holds: holds a writer's transaction open there."""
    return f"""
CREATE OR REPLACE FUNCTION vault_pause_{table}() RETURNS trigger AS $$
BEGIN
  IF {when} THEN PERFORM pg_sleep({seconds}); END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER vault_pause BEFORE INSERT ON {table}
  FOR EACH ROW EXECUTE FUNCTION vault_pause_{table}();
"""


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (gunicorn's workers, make's daphne)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def _local_ports(pid: int, remote_port: int) -> set[int]:
    """Local ports of ``pid``'s TCP sockets to ``remote_port`` (a local port alone is ambiguous:
    Linux reuses one for connections to different destinations)."""
    inodes = set()
    with contextlib.suppress(OSError):
        for fd in os.scandir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(fd.path)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
    ports = set()
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
                fields = line.split()
                remote = int(fields[2].rsplit(":", 1)[1], 16)
                if fields[9] in inodes and remote == remote_port:
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


class ConnectionProbe:
    """Counts, per process, the connections it holds to one database (one probe connection)."""

    def __init__(self, url: str) -> None:
        self._conn = psycopg.connect(libpq(url), autocommit=True, connect_timeout=3)
        self._server_port = urlsplit(url).port or 5432

    def sample(self, pids: Iterable[int]) -> dict[int, int]:
        ports = {pid: _local_ports(pid, self._server_port) for pid in pids}
        rows = self._conn.execute(
            "SELECT client_port FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
        clients = {row[0] for row in rows}
        return {pid: len(own & clients) for pid, own in ports.items()}

    def total(self) -> int:
        row = self._conn.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> ConnectionProbe:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def at_once(call: Callable[[], T], n: int = 2, timeout: float = 30) -> list[T]:
    """``call()`` in ``n`` threads released together (see :func:`race`)."""
    return race([call] * n, timeout)


def race(calls: Sequence[Callable[[], T]], timeout: float = 30) -> list[T]:
    """Each of ``calls`` in a thread of its own, released together (each with its own database
    connection, closed afterwards); their results, or the first exception any of them raised."""
    start = threading.Barrier(len(calls))
    results: list[T] = []
    errors: list[BaseException] = []

    def run(call: Callable[[], T]) -> None:
        try:
            start.wait()
            results.append(call())
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            errors.append(exc)
        finally:
            from django.db import connections

            connections.close_all()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    if errors:
        raise errors[0]
    return results
