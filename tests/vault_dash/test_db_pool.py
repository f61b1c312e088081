"""A server process holds at most DATABASE_POOL_SIZE PostgreSQL connections under load.

Issue 13: daphne runs each request in a thread of its own; with persistent connections one was
left behind per finished thread (4 clients raised the count to 45, 22 exhausted the server).
"""

from __future__ import annotations

import os
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.postgres import ConnectionProbe, process_tree, scratch_database
from tests.support.server import run_app_server
from tests.support.sessions import session_cookie

POOL_SIZE = 3
CLIENTS = 16
SECONDS = 6.0


def _hammer(url: str, cookie: str, stop: threading.Event) -> Counter[int]:
    statuses: Counter[int] = Counter()
    request = urllib.request.Request(url, headers={"Cookie": cookie})  # noqa: S310
    while not stop.is_set():
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                response.read()
                statuses[response.status] += 1
        except urllib.error.HTTPError as exc:
            statuses[exc.code] += 1
    return statuses


@pytest.mark.slow
@pytest.mark.services
def test_daphne_stays_within_its_pool_under_concurrent_requests(postgres_url, tmp_path):
    name = f"vault_pool_{os.getpid()}"
    with scratch_database(postgres_url, name) as url:
        env = {
            "DATA_DIR": str(tmp_path / "data"),
            "DATABASE_URL": url,
            "DATABASE_POOL_SIZE": str(POOL_SIZE),
            "LOG_LEVEL": "WARNING",
        }
        with (
            run_app_server(env, seed=True) as server,
            ConnectionProbe(url) as probe,
        ):
            # Logged in: every request reads its session and user, as a browser's do.
            cookie = session_cookie(server.env)
            target = f"{server.url}/api/portfolio?symbol=GLD"
            urllib.request.urlopen(target, timeout=60).read()  # noqa: S310 (warm the caches)
            stop = threading.Event()
            peaks: Counter[int] = Counter()
            with ThreadPoolExecutor(CLIENTS) as pool:
                futures = [pool.submit(_hammer, target, cookie, stop) for _ in range(CLIENTS)]
                deadline = time.monotonic() + SECONDS
                while time.monotonic() < deadline:
                    for pid, count in probe.sample(process_tree(server.process.pid)).items():
                        peaks[pid] = max(peaks[pid], count)
                    time.sleep(0.05)
                stop.set()
                statuses = sum((f.result() for f in futures), Counter())

    assert set(statuses) == {200}, statuses
    assert statuses[200] >= CLIENTS
    assert peaks, "the probe saw no server process"
    # The probe must see the server's connections at all, and never more than the pool.
    assert 1 <= max(peaks.values()) <= POOL_SIZE, dict(peaks)
