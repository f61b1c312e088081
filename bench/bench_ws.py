"""WebSocket fan-out: channel-layer cost per recipient, publish→delivery latency, HTTP servers.

    python -m bench ws                      # everything (about two minutes)
    BENCH_WS_CLIENTS=200 python -m bench ws # smaller client counts

1. Layer cost per recipient, in one process, side by side: in-memory, channels_redis core and
   channels_redis pub/sub. One ``group_send`` of a realistic update (~3 KB) to N receiving
   channels; wall and CPU time until the last of them has it; the per-recipient cost is the
   slope between N=100 and N=1,000.
2. End to end over real WebSockets: N clients on one daphne process (in-memory layer, embedded
   publisher), then 2 x N on two daphne processes over Redis (core, then pub/sub) with
   ``manage.py run_publisher``. Per tick: time from publish to the last client's receipt
   (p50/p99 over ticks) and per-delivery latency; server CPU per 1,000 deliveries.
3. HTTP: ``/health/live`` on daphne vs gunicorn (2 sync WSGI workers), measured with wrk.

Needs Redis (``BENCH_REDIS_URL``, default redis://127.0.0.1:6379/13) for parts 1-2 and ``wrk``
for part 3; a part whose dependency is missing is skipped with a note.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.support.server import manage, server_command, serving

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
CLIENTS = int(os.environ.get("BENCH_WS_CLIENTS", "1000"))
TICK_S = 1.0
TICKS = int(os.environ.get("BENCH_WS_TICKS", "10"))
PAYLOAD_BYTES = 3000  # an update with its rendered KPI cards is about this size

_seq = itertools.count(1)


def bench_compute(symbol: str, portfolio_id: int | None = None) -> dict[str, Any]:
    """Stands in for live_snapshot in the servers: stamps the publish time."""
    return {
        "symbol": symbol,
        "seq": next(_seq),
        "published_at": time.time(),
        "pad": "x" * (PAYLOAD_BYTES - 200),
    }


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def _redis_ok() -> str | None:
    try:
        import redis

        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
        client.ping()
        client.close()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def _cleanup_redis(prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


# --- 1. layer cost per recipient ------------------------------------------------------------


LAYERS = {
    "memory": "channels InMemoryChannelLayer",
    "memory-fanout": "portfolio.layers.FanoutInMemoryChannelLayer",
    "core": "channels_redis core RedisChannelLayer",
    "pubsub": "channels_redis RedisPubSubChannelLayer",
}


def _make_layer(kind: str, prefix: str) -> Any:
    from channels.layers import InMemoryChannelLayer
    from channels_redis.core import RedisChannelLayer
    from channels_redis.pubsub import RedisPubSubChannelLayer

    from portfolio.layers import FanoutInMemoryChannelLayer

    host = {"address": REDIS_URL, "socket_timeout": 15, "socket_connect_timeout": 2}
    if kind == "memory":
        return InMemoryChannelLayer(capacity=100)
    if kind == "memory-fanout":
        return FanoutInMemoryChannelLayer(capacity=100)
    if kind == "core":
        return RedisChannelLayer(hosts=[host], prefix=prefix, capacity=100, expiry=10)
    return RedisPubSubChannelLayer(hosts=[host], prefix=prefix)


async def _layer_run(kind: str, n: int, rounds: int) -> tuple[float, float]:
    """Median wall and CPU seconds from group_send to the n-th receipt."""
    prefix = f"bench-ws-{uuid.uuid4().hex[:6]}"
    layer = _make_layer(kind, prefix)
    group = "updates.GLD"
    channels = [await layer.new_channel() for _ in range(n)]
    for ch in channels:
        await layer.group_add(group, ch)
    received = 0
    done = asyncio.Event()

    async def receiver(ch: str) -> None:
        nonlocal received
        while True:
            await layer.receive(ch)
            received += 1
            if received == n:
                done.set()

    tasks = [asyncio.ensure_future(receiver(ch)) for ch in channels]
    await asyncio.sleep(0.3)  # receivers waiting (pub/sub: subscriptions confirmed)
    message = {"type": "portfolio.update", "text": "x" * PAYLOAD_BYTES}
    walls, cpus = [], []
    for _ in range(rounds + 2):
        received = 0
        done.clear()
        t0, c0 = time.perf_counter(), time.process_time()
        await layer.group_send(group, message)
        await asyncio.wait_for(done.wait(), 30)
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
        await asyncio.sleep(0.02)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    if not kind.startswith("memory"):
        with contextlib.suppress(Exception):
            await layer.flush()
        _cleanup_redis(prefix)
    return statistics.median(walls[2:]), statistics.median(cpus[2:])


def layer_costs() -> dict[str, dict[str, float]]:
    print("\n-- 1. channel layer: one group_send to N receivers in one process (median of 15)")
    problem = _redis_ok()
    kinds = [k for k in LAYERS if not (problem and not k.startswith("memory"))]
    if problem:
        print(f"   Redis layers skipped: {problem}")
    out: dict[str, dict[str, float]] = {}
    print(
        f"   {'layer':14} {'N=100 wall':>11} {'N=1000 wall':>12} {'N=1000 CPU':>11} "
        f"{'per recipient wall':>19} {'per recipient CPU':>18}"
    )
    for kind in kinds:
        w100, c100 = asyncio.run(_layer_run(kind, 100, 15))
        w1000, c1000 = asyncio.run(_layer_run(kind, 1000, 15))
        per_wall = (w1000 - w100) / 900 * 1e6
        per_cpu = (c1000 - c100) / 900 * 1e6
        out[kind] = {
            "w100_ms": w100 * 1e3,
            "w1000_ms": w1000 * 1e3,
            "c1000_ms": c1000 * 1e3,
            "per_wall_us": per_wall,
            "per_cpu_us": per_cpu,
        }
        print(
            f"   {kind:14} {w100 * 1e3:9.2f}ms {w1000 * 1e3:10.2f}ms {c1000 * 1e3:9.2f}ms "
            f"{per_wall:16.1f} µs {per_cpu:15.1f} µs"
        )
    for a, b in (("memory-fanout", "memory"), ("pubsub", "core")):
        if a in out and b in out:
            ratio = out[b]["per_cpu_us"] / out[a]["per_cpu_us"]
            print(f"   {a} costs {ratio:.1f}x less CPU per recipient than {b}")
    for kind, name in LAYERS.items():
        print(f"   {kind:14} = {name}")
    return out


# --- 2. end to end --------------------------------------------------------------------------


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


_EMBEDDED_SERVER = """
import os
import sys
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vault_dash.settings.base")
django.setup()
from portfolio import publisher
from bench import bench_ws
publisher.default_compute = bench_ws.bench_compute
from daphne.cli import CommandLineInterface
CommandLineInterface().run(sys.argv[1:])
"""


@contextlib.contextmanager
def _server(env: dict[str, str], data_dir: Path) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    from tests.support.services import free_port

    port = free_port()
    argv = [sys.executable, "-c", _EMBEDDED_SERVER, "-b", "127.0.0.1", "-p", str(port)]
    argv.append("vault_dash.asgi:application")
    log_path = data_dir / f"daphne-{port}.log"
    with serving(argv, env, log_path, f"http://127.0.0.1:{port}/health/live") as proc:
        yield port, proc


@contextlib.contextmanager
def _publisher(env: dict[str, str], data_dir: Path) -> Iterator[subprocess.Popen[bytes]]:
    argv = [sys.executable, "manage.py", "run_publisher"]
    argv += ["--compute", "bench.bench_ws.bench_compute"]
    with serving(argv, env, data_dir / "publisher.log", None) as proc:
        yield proc


async def _client_main(url: str, n: int, ticks: int) -> list[tuple[int, float, float]]:
    """One client process: n sockets; records (seq, published_at, received_at) per update."""
    from websockets.asyncio.client import connect

    origin = url.replace("ws://", "http://").split("/ws/")[0]
    records: list[tuple[int, float, float]] = []
    sockets = []
    for start in range(0, n, 100):
        batch = await asyncio.gather(
            *[
                connect(url, origin=origin, open_timeout=30, max_queue=None)  # type: ignore[arg-type]
                for _ in range(min(100, n - start))
            ]
        )
        sockets.extend(batch)
    for ws in sockets:
        await ws.recv()  # connected
    print("READY", flush=True)
    ready_at = time.time()

    async def reader(ws: Any) -> None:
        got = 0
        while got < ticks:
            message = json.loads(await ws.recv())
            if message.get("type") != "portfolio_update" or message["published_at"] < ready_at:
                continue
            records.append((message["seq"], message["published_at"], time.time()))
            got += 1

    await asyncio.wait_for(asyncio.gather(*[reader(ws) for ws in sockets]), ticks * TICK_S + 60)
    for ws in sockets:
        await ws.close()
    return records


def _run_clients(
    urls: list[str], n: int, ticks: int, tmp: Path, on_ready: Any
) -> list[tuple[int, float, float]]:
    procs = []
    for i, url in enumerate(urls):
        out = tmp / f"clients-{i}.json"
        procs.append(
            (
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "bench.bench_ws",
                        "client",
                        url,
                        str(n),
                        str(ticks),
                        str(out),
                    ],
                    cwd=ROOT,
                    stdout=subprocess.PIPE,
                    env={**os.environ, "PYTHONPATH": str(ROOT)},
                ),
                out,
            )
        )
    for proc, _ in procs:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode().strip()
        if line != "READY":
            raise RuntimeError(f"client process did not connect its sockets ({line!r})")
    on_ready()
    records: list[tuple[int, float, float]] = []
    for proc, out in procs:
        proc.wait(ticks * TICK_S + 120)
        records.extend((int(a), float(b), float(c)) for a, b, c in json.loads(out.read_text()))
    return records


def _e2e(label: str, env: dict[str, str], servers: int, external: bool) -> dict[str, float]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-ws-"))  # kept (server logs) if the run fails
    if True:
        env = {**env, "DATA_DIR": str(tmp / "data")}
        (tmp / "data").mkdir()
        manage(env, "migrate", "--noinput", "-v0")
        with contextlib.ExitStack() as stack:
            started = [stack.enter_context(_server(env, tmp)) for _ in range(servers)]
            pids = [proc.pid for _, proc in started]
            if external:
                pids.append(stack.enter_context(_publisher(env, tmp)).pid)
            urls = [f"ws://127.0.0.1:{port}/ws/updates" for port, _ in started]
            cpu0: dict[int, float] = {}
            t0 = time.monotonic()

            def ready() -> None:  # CPU is counted from here: sockets open, updates flowing
                cpu0.update({pid: _cpu_s(pid) for pid in pids})

            records = _run_clients(urls, CLIENTS, TICKS, tmp, ready)
            elapsed = time.monotonic() - t0
            cpu = sum(_cpu_s(pid) - cpu0[pid] for pid in pids)
    if not os.environ.get("BENCH_WS_KEEP"):
        shutil.rmtree(tmp, ignore_errors=True)
    by_seq: dict[int, list[tuple[float, float]]] = {}
    for seq, published, received in records:
        by_seq.setdefault(seq, []).append((published, received))
    expected = CLIENTS * servers
    if os.environ.get("BENCH_WS_KEEP"):
        print(f"   kept {tmp}; deliveries per seq:", {k: len(v) for k, v in sorted(by_seq.items())})
    complete = {s: v for s, v in by_seq.items() if len(v) == expected}
    to_last = [max(r for _, r in v) - v[0][0] for v in complete.values()]
    each = [r - p for v in complete.values() for p, r in v]
    deliveries = len(records)
    result = {
        "ticks": len(complete),
        "clients": expected,
        "last_p50_ms": _pct(to_last, 50) * 1e3,
        "last_p99_ms": _pct(to_last, 99) * 1e3,
        "each_p50_ms": _pct(each, 50) * 1e3,
        "each_p99_ms": _pct(each, 99) * 1e3,
        "cpu_ms_per_1000": cpu / max(1, deliveries) * 1e6,
        "elapsed_s": elapsed,
    }
    print(
        f"   {label:34} {expected:5d} clients {len(complete):3d} full ticks | "
        f"publish→last p50 {result['last_p50_ms']:7.1f} ms p99 {result['last_p99_ms']:7.1f} ms"
        f" | each p50 {result['each_p50_ms']:6.1f} ms p99 {result['each_p99_ms']:6.1f} ms"
        f" | CPU (daphne + publisher) {result['cpu_ms_per_1000']:6.1f} ms/1000 deliveries"
    )
    return result


def end_to_end() -> dict[str, dict[str, float]]:
    from tests.support.server import app_env

    print(
        f"\n-- 2. end to end: {CLIENTS} WebSocket clients per daphne process, "
        f"{TICKS} ticks of {TICK_S:.0f} s, ~{PAYLOAD_BYTES} B updates"
    )
    base = {"WEBSOCKET_INTERVAL_SECONDS": str(TICK_S), "LOG_LEVEL": "WARNING"}
    out = {}
    out["memory"] = _e2e("1 process, in-memory, embedded", app_env(base), 1, external=False)
    problem = _redis_ok()
    if problem:
        print(f"   Redis runs skipped: {problem}")
        return out
    for layer in ("core", "pubsub"):
        prefix = f"bench-ws-{uuid.uuid4().hex[:6]}"
        env = app_env(
            {
                **base,
                "REDIS_URL": REDIS_URL,
                "WEBSOCKET_REDIS_PREFIX": prefix,
                "WEBSOCKET_CHANNEL_LAYER": layer,
            }
        )
        try:
            out[layer] = _e2e(f"2 processes, Redis {layer}, run_publisher", env, 2, True)
        finally:
            _cleanup_redis(prefix)
    return out


# --- 3. HTTP: daphne vs gunicorn ------------------------------------------------------------


def _wrk(url: str) -> float:
    result = subprocess.run(
        ["wrk", "-t2", "-c32", "-d5s", "--latency", url], capture_output=True, text=True, check=True
    )
    for line in result.stdout.splitlines():
        if line.startswith("Requests/sec:"):
            return float(line.split()[1])
    raise RuntimeError(f"wrk printed no Requests/sec: {result.stdout[-300:]}")


def http_servers() -> dict[str, float]:
    print(
        "\n-- 3. HTTP /health/live: daphne (1 process) vs gunicorn (2 sync workers); "
        "wrk -t2 -c32 -d5s"
    )
    if shutil.which("wrk") is None:
        print("   skipped: wrk is not installed (tools/system-deps.sh)")
        return {}
    from tests.support.server import app_env
    from tests.support.services import free_port

    out = {}
    with tempfile.TemporaryDirectory() as tmpdir:
        env = app_env({"DATA_DIR": tmpdir, "LOG_LEVEL": "WARNING"})
        for name in ("daphne", "gunicorn"):
            port = free_port()
            url = f"http://127.0.0.1:{port}/health/live"
            with serving(server_command(name, port, quiet=True), env, Path(os.devnull), url):
                _wrk(url)  # warm-up round, discarded
                out[name] = _wrk(url)
            print(f"   {name:9} {out[name]:8.0f} req/s")
    print(f"   gunicorn/daphne: {out['gunicorn'] / out['daphne']:.2f}x")
    return out


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vault_dash.settings.base")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    layer_costs()
    end_to_end()
    http_servers()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "client":
        url, n, ticks, out = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
        Path(out).write_text(json.dumps(asyncio.run(_client_main(url, n, ticks))))
    else:
        main()
