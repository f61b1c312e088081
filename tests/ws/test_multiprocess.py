"""Two daphne processes and standalone publishers over a real Redis channel layer."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest
from websockets.asyncio.client import connect

from portfolio.publisher import LOCK_POLL_S, LOCK_TTL_S
from tests.support.private_services import PrivateRedis
from tests.support.server import ROOT, AppServer, app_env, manage, run_app_server, stop_process
from tests.support.websocket import portfolio_updates

pytestmark = [pytest.mark.services, pytest.mark.slow]

INTERVAL_S = 0.5
WS_DB = 13  # this module's own Redis database; keys are namespaced per test as well


def _ws_redis_url(redis_url: str) -> str:
    parts = urlsplit(redis_url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{WS_DB}", parts.query, ""))


@pytest.fixture(params=["pubsub", "core"])
def cluster_env(request, redis_url, tmp_path) -> Iterator[dict[str, str]]:
    import redis

    url = _ws_redis_url(redis_url)
    prefix = f"test-ws-{uuid.uuid4().hex[:8]}"
    yield {
        "REDIS_URL": url,
        "WEBSOCKET_REDIS_PREFIX": prefix,
        "WEBSOCKET_INTERVAL_SECONDS": str(INTERVAL_S),
        "DATA_DIR": str(tmp_path / "data"),
        "WEBSOCKET_CHANNEL_LAYER": request.param,
    }
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(f"{prefix}:*"))
    if keys:
        client.delete(*keys)
    client.close()


@contextlib.contextmanager
def publisher_process(env: dict[str, str], log_path) -> Iterator[subprocess.Popen[bytes]]:
    full = app_env(env)
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "run_publisher",
                "--compute",
                "tests.ws.fake_compute.compute",
            ],
            cwd=ROOT,
            env=full,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            stop_process(proc)


def ws_url(server: AppServer) -> str:
    return f"ws://{server.host}:{server.port}/ws/updates"


def test_two_servers_one_publisher_and_takeover(cluster_env, tmp_path):
    with contextlib.ExitStack() as stack:
        a = stack.enter_context(run_app_server(cluster_env))
        b = stack.enter_context(run_app_server(cluster_env, migrate=False))
        procs: dict[int, subprocess.Popen[bytes]] = {}

        async def scenario() -> None:
            origin_a, origin_b = f"http://{a.host}:{a.port}", f"http://{b.host}:{b.port}"
            async with (
                connect(ws_url(a), origin=origin_a) as ca,  # type: ignore[arg-type]
                connect(ws_url(b), origin=origin_b) as cb,  # type: ignore[arg-type]
                connect(ws_url(b) + "?symbol=SLV", origin=origin_b) as cs,  # type: ignore[arg-type]
            ):
                for ws in (ca, cb, cs):
                    hello = json.loads(await ws.recv())
                    assert hello["type"] == "connected"
                    assert hello["interval_s"] == INTERVAL_S
                # Idle past redis-py 8's default 5 s read timeout: the layer's blocking reads
                # must not tear the consumers down (django/channels_redis#422).
                await asyncio.sleep(6.5)
                first = stack.enter_context(publisher_process(cluster_env, tmp_path / "p1.log"))
                await asyncio.sleep(1.0)  # let the first take the lock before the standby starts
                second = stack.enter_context(publisher_process(cluster_env, tmp_path / "p2.log"))
                procs.update({first.pid: first, second.pid: second})
                # A publisher process takes seconds to boot Django on a loaded machine.
                await portfolio_updates(ca, 1, 60)
                # Both servers deliver the very same updates, from one publisher.
                got_a = await portfolio_updates(ca, 4, 4 * INTERVAL_S + 1)
                got_b = await portfolio_updates(cb, 4, 4 * INTERVAL_S + 1)
                seq_a = {u["seq"]: u for u in got_a}
                common = [u for u in got_b if u["seq"] in seq_a]
                assert common, (got_a, got_b)
                assert all(seq_a[u["seq"]] == u for u in common)
                assert {u["symbol"] for u in got_a + got_b} == {"GLD"}
                assert (await portfolio_updates(cs, 1, INTERVAL_S + 1))[0]["symbol"] == "SLV"
                pids = {u["publisher_pid"] for u in got_a + got_b}
                assert len(pids) == 1, "more than one publisher active"
                active = pids.pop()
                assert active in procs

                # Kill the active publisher without letting it release the lock.
                procs[active].send_signal(signal.SIGKILL)
                procs[active].wait()
                killed_at = time.monotonic()
                standby = next(pid for pid in procs if pid != active)
                while True:
                    (u,) = await portfolio_updates(ca, 1, LOCK_TTL_S + LOCK_POLL_S + INTERVAL_S + 5)
                    if u["publisher_pid"] == standby:
                        break
                takeover_s = time.monotonic() - killed_at
                assert takeover_s < LOCK_TTL_S + LOCK_POLL_S + INTERVAL_S + 1.5, takeover_s
                # The other server delivers the new publisher's updates too (after what it had
                # already buffered from the old one).
                async with asyncio.timeout(2 * INTERVAL_S + 2):
                    while (await portfolio_updates(cb, 1, 5))[0]["publisher_pid"] != standby:
                        pass

        asyncio.run(scenario())
        assert "Exception inside application" not in a.log() + b.log()


def test_run_publisher_refuses_without_redis(tmp_path):
    env = app_env({"DATA_DIR": str(tmp_path)})
    result = manage(env, "run_publisher", check=False, timeout=60)
    assert result.returncode != 0
    assert "needs the Redis channel layer" in result.stderr


@pytest.fixture
def private_redis():
    """A redis-server of our own that the test may kill and restart (never the shared one)."""
    import shutil

    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    redis = PrivateRedis()
    redis.start()
    yield redis.url, redis.start, redis.stop
    redis.stop()


def test_updates_resume_after_redis_restarts(private_redis, tmp_path):
    url, start_redis, kill_redis = private_redis
    env = {
        "REDIS_URL": url,
        "WEBSOCKET_INTERVAL_SECONDS": str(INTERVAL_S),
        "DATA_DIR": str(tmp_path / "data"),
    }  # the default layer (pub/sub)
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(run_app_server(env))
        stack.enter_context(publisher_process(env, tmp_path / "pub.log"))

        async def scenario() -> None:
            async with connect(ws_url(server), origin=server.url) as ws:  # type: ignore[arg-type]
                assert json.loads(await ws.recv())["type"] == "connected"
                await portfolio_updates(ws, 1, 60)
                kill_redis()
                await asyncio.sleep(2)
                start_redis()
                restarted = time.time()
                # Published after the restart, on the same socket: the layer re-subscribed, the
                # registry was repopulated (5 s) and the publisher re-took its lock.
                async with asyncio.timeout(20):
                    while (await portfolio_updates(ws, 1, 20))[0]["published_at"] <= restarted:
                        pass
                (following,) = await portfolio_updates(ws, 1, INTERVAL_S + 1)
                assert following["published_at"] > restarted

        asyncio.run(scenario())
        assert "Exception inside application" not in server.log()
