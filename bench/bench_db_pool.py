"""PostgreSQL connections per server process under load (issue 13): pool against the alternatives.

Every mode serves one scratch database on the real PostgreSQL with the scaled-out layout on
loopback: one daphne (HTTP and ``/ws/``), gunicorn with ``BENCH_GUNICORN_WORKERS`` sync
workers, and ``manage.py run_publisher`` over Redis, publishing every second to
``BENCH_DB_WS_CLIENTS`` WebSocket clients connected to daphne. wrk then drives
``/api/portfolio`` (one database read per request) with ``BENCH_DB_CLIENTS`` connections for
``BENCH_DB_SECONDS``, first on daphne, then on gunicorn, while ``pg_stat_activity`` is sampled
every 0.1 s and each connection attributed to the process holding its socket
(``tests/support/postgres.py``). The publisher is measured during the daphne phase.

Modes:

* ``persistent``: the old settings, ``CONN_MAX_AGE=60`` without pool. It leaves one connection
  per finished daphne thread, so it runs with ``BENCH_DB_BASELINE_CLIENTS`` (4) for
  ``BENCH_DB_BASELINE_SECONDS`` (12), the issue's reproduction, not to exhaust a PostgreSQL
  that others share;
* ``per-request``: ``DATABASE_POOL_SIZE=0`` (``CONN_MAX_AGE=0``, one connection per request);
* ``pool``: ``DATABASE_POOL_SIZE`` (``BENCH_DB_POOL_SIZE``, default 4), psycopg's pool.

    python -m bench db_pool                          # all three modes
    BENCH_DB_MODES=pool BENCH_DB_SECONDS=60 python -m bench db_pool

Needs PostgreSQL (``BENCH_POSTGRES_URL``), Redis (``BENCH_REDIS_URL``) and wrk.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from bench.http_load import LoadResult, wrk
from tests.support.postgres import ConnectionProbe, process_tree, scratch_database
from tests.support.server import manage, serving, wait_for_http
from tests.support.services import free_port, postgres_problem, redis_problem
from tests.support.sessions import session_cookie

POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
CLIENTS = int(os.environ.get("BENCH_DB_CLIENTS", "50"))
SECONDS = float(os.environ.get("BENCH_DB_SECONDS", "60"))
BASELINE_CLIENTS = int(os.environ.get("BENCH_DB_BASELINE_CLIENTS", "4"))
BASELINE_SECONDS = float(os.environ.get("BENCH_DB_BASELINE_SECONDS", "12"))
WS_CLIENTS = int(os.environ.get("BENCH_DB_WS_CLIENTS", "50"))
POOL_SIZE = int(os.environ.get("BENCH_DB_POOL_SIZE", "4"))
GUNICORN_WORKERS = int(os.environ.get("BENCH_GUNICORN_WORKERS", "2"))
MODES = os.environ.get("BENCH_DB_MODES", "persistent,per-request,pool").split(",")
# Resolves the logged-in user's portfolio: a session and a user read per request.
PATH = "/api/portfolio?symbol=GLD"


@dataclass
class Peaks:
    """Highest connection count seen per process, and for all of a server kind at once."""

    per_process: dict[int, int] = field(default_factory=dict)
    total: int = 0

    def add(self, sample: dict[int, int]) -> None:
        for pid, count in sample.items():
            self.per_process[pid] = max(self.per_process.get(pid, 0), count)
        self.total = max(self.total, sum(sample.values()))

    @property
    def worst(self) -> int:
        return max(self.per_process.values(), default=0)


def _env(mode: str, database_url: str, data_dir: str, prefix: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "APP_ENV": "development",
            "DATA_DIR": data_dir,
            "DATABASE_URL": database_url,
            "REDIS_URL": REDIS_URL,
            "WEBSOCKET_PUBLISHER": "external",
            "WEBSOCKET_REDIS_PREFIX": prefix,
            "WEBSOCKET_INTERVAL_SECONDS": "1",
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
            "DATABASE_POOL_SIZE": str(POOL_SIZE) if mode == "pool" else "0",
        }
    )
    if mode == "persistent":
        env["BENCH_DB_PERSISTENT"] = "1"  # bench/settings.py restores CONN_MAX_AGE=60
    return env


class WebSocketClients:
    """``n`` sockets on ``/ws/updates`` in a thread of their own, counting updates."""

    def __init__(self, base: str, n: int) -> None:
        self.url = base.replace("http://", "ws://") + "/ws/updates?symbol=GLD"
        self.origin = base
        self.n = n
        self.updates = 0
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _one(self) -> None:
        from websockets.asyncio.client import connect

        try:
            async with connect(self.url, origin=self.origin, open_timeout=30) as ws:  # type: ignore[arg-type]
                while not self._stop.is_set():
                    with contextlib.suppress(TimeoutError):
                        message = await asyncio.wait_for(ws.recv(), 0.5)
                        if '"portfolio_update"' in message:
                            self.updates += 1
        except Exception:
            self.errors += 1

    async def _main(self) -> None:
        await asyncio.gather(*[self._one() for _ in range(self.n)])

    def __enter__(self) -> WebSocketClients:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


def _sampled_wrk(
    probe: ConnectionProbe,
    base: str,
    cookie: str,
    kinds: dict[str, list[int]],
    clients: int,
    seconds: float,
) -> tuple[dict[str, Peaks], LoadResult]:
    """wrk on ``base`` (logged in) while sampling the connections of each kind's processes."""
    peaks = {kind: Peaks() for kind in kinds}
    result: list[LoadResult] = []
    headers = {"Cookie": cookie}
    runner = threading.Thread(
        target=lambda: result.append(wrk(base, PATH, clients, seconds, headers=headers))
    )
    runner.start()
    while runner.is_alive():
        for kind, pids in kinds.items():
            peaks[kind].add(probe.sample(pids))
        time.sleep(0.1)
    runner.join()
    return peaks, result[0]


def run_mode(mode: str) -> None:
    clients, seconds = (
        (BASELINE_CLIENTS, BASELINE_SECONDS) if mode == "persistent" else (CLIENTS, SECONDS)
    )
    name = f"vault_bench_pool_{os.getpid()}"
    tmp = Path(tempfile.mkdtemp(prefix="vault-bench-db-"))
    prefix = f"bench-db-{uuid.uuid4().hex[:6]}"
    with scratch_database(POSTGRES_URL, name) as url:
        env = _env(mode, url, str(tmp), prefix)
        manage(env, "migrate", "--noinput", "-v0")
        manage(env, "seed_demo")
        # Logged in: every request reads its session and user, as a browser's do.
        cookie = session_cookie(env)
        daphne_port, gunicorn_port = free_port(), free_port()
        daphne = f"http://127.0.0.1:{daphne_port}"
        gunicorn = f"http://127.0.0.1:{gunicorn_port}"
        py = sys.executable
        with (
            serving(
                [py, "-m", "daphne", "-b", "127.0.0.1", "-p", str(daphne_port)]
                + ["vault_dash.asgi:application"],
                env,
                tmp / "daphne.log",
                None,
            ) as daphne_proc,
            serving(
                [py, "-m", "gunicorn", "-b", f"127.0.0.1:{gunicorn_port}"]
                + ["-w", str(GUNICORN_WORKERS), "vault_dash.wsgi:application"],
                env,
                tmp / "gunicorn.log",
                None,
            ) as gunicorn_proc,
            serving(
                [py, "manage.py", "run_publisher"], env, tmp / "publisher.log", None
            ) as pub_proc,
            ConnectionProbe(url) as probe,
        ):
            for base, proc in ((daphne, daphne_proc), (gunicorn, gunicorn_proc)):
                # Generous: three servers start at once on a small machine.
                wait_for_http(f"{base}/health/live", 240, proc)
                wait_for_http(f"{base}{PATH}", 240, proc)
            gunicorn_workers = [
                p for p in process_tree(gunicorn_proc.pid) if p != gunicorn_proc.pid
            ]
            with WebSocketClients(daphne, WS_CLIENTS) as ws:
                time.sleep(3)  # sockets connected, publisher ticking
                peaks, daphne_load = _sampled_wrk(
                    probe,
                    daphne,
                    cookie,
                    {"daphne": [daphne_proc.pid], "publisher": [pub_proc.pid]},
                    clients,
                    seconds,
                )
                gpeaks, gunicorn_load = _sampled_wrk(
                    probe, gunicorn, cookie, {"gunicorn": gunicorn_workers}, clients, seconds
                )
            peaks.update(gpeaks)
    shutil.rmtree(tmp, ignore_errors=True)
    bound = f"≤ {POOL_SIZE}" if mode == "pool" else "unbounded"
    print(f"\nmode {mode} ({bound}), wrk -c {clients} -d {seconds:g}s {PATH}, {WS_CLIENTS} sockets")
    print(
        f"{'server':10} {'procs':>5} {'peak/proc':>9} {'peak sum':>8} {'req/s':>8}"
        f" {'p99 ms':>8} {'errors':>6}"
    )
    loads = {"daphne": daphne_load, "gunicorn": gunicorn_load}
    for kind, peak in peaks.items():
        load = loads.get(kind)
        figures = (
            f"{load.requests_per_s:8.1f} {load.p99_ms:8.0f} {load.errors:6d}"
            if load
            else f"{'-':>8} {'-':>8} {ws.errors:6d}"
        )
        print(f"{kind:10} {len(peak.per_process):5d} {peak.worst:9d} {peak.total:8d} {figures}")
    print(f"publisher: {ws.updates} updates delivered to the sockets, {ws.errors} socket errors")


def main() -> None:
    for service, problem in (
        ("PostgreSQL", postgres_problem(POSTGRES_URL)),
        ("Redis", redis_problem(REDIS_URL)),
    ):
        if problem:
            print(f"skipped: {service} is not reachable ({problem})")
            return
    for mode in MODES:
        run_mode(mode.strip())


if __name__ == "__main__":
    main()
