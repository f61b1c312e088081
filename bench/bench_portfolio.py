"""``/api/portfolio`` (warm cache) vs a bare Django ``JsonResponse`` of the same body.

Both endpoints are served by the same daphne process (embedded defaults, seeded demo
portfolio, synthetic market data) and hit by the same load generator (``wrk`` on loopback when
installed, else an asyncio/httpx client) in alternating rounds of one run, so the machine's
load affects both alike. Prints throughput and p99 latency as ratios (targets: ≥ 0.8×, ≤ 1.5×).

    python -m bench portfolio   # BENCH_SECONDS=4 BENCH_ROUNDS=3 BENCH_CONNECTIONS=16 to tune
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from tests.support.server import run_app_server

SECONDS = float(os.environ.get("BENCH_SECONDS", "4"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
API_PATH = "/api/portfolio?symbol=GLD"
BARE_PATH = "/bench/bare"


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as r:  # noqa: S310 - loopback
        if r.status != 200:
            raise RuntimeError(f"{url}: HTTP {r.status}")
        return bytes(r.read())


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(url: str, seconds: float) -> tuple[float, float]:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{max(1, round(seconds))}s", "--latency", url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    if "Non-2xx" in out:
        raise RuntimeError(f"{url}: non-2xx responses during the run\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    m = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    assert m, out
    return rps, _ms(m.group(1), m.group(2))


def run_python(url: str, seconds: float) -> tuple[float, float]:
    import httpx

    async def go() -> tuple[float, float]:
        latencies: list[float] = []
        deadline = time.perf_counter() + seconds
        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=CONNECTIONS)) as client:

            async def worker() -> None:
                while time.perf_counter() < deadline:
                    t = time.perf_counter()
                    r = await client.get(url)
                    r.raise_for_status()
                    latencies.append((time.perf_counter() - t) * 1000)

            start = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(CONNECTIONS)))
            elapsed = time.perf_counter() - start
        latencies.sort()
        return len(latencies) / elapsed, latencies[int(0.99 * (len(latencies) - 1))]

    return asyncio.run(go())


def main() -> None:
    tool = "wrk" if shutil.which("wrk") else "python-httpx"
    measure = run_wrk if tool == "wrk" else run_python
    with tempfile.TemporaryDirectory() as tmp:
        bare_file = Path(tmp) / "bare.json"
        env = {
            "DATA_DIR": str(Path(tmp) / "data"),
            "DJANGO_SETTINGS_MODULE": os.environ.get("BENCH_SETTINGS", "bench.portfolio_settings"),
            "BENCH_BARE_FILE": str(bare_file),
            "LOG_LEVEL": "WARNING",
        }
        with run_app_server(env, seed=True) as server:
            body = _get(server.url + API_PATH)
            bare_file.write_bytes(body)
            bare_body = _get(server.url + BARE_PATH)
            print(
                f"server: daphne (1 process) on {server.url}; load: {tool}, "
                f"{CONNECTIONS} connections, {ROUNDS}×{SECONDS:g}s per endpoint, alternating"
            )
            print(f"body: /api/portfolio {len(body)} B, bare JsonResponse {len(bare_body)} B")
            for path in (API_PATH, BARE_PATH):  # warm-up
                measure(server.url + path, 1)
            results: dict[str, list[tuple[float, float]]] = {"api": [], "bare": []}
            order = ["bare", "api", "api", "bare"] * ROUNDS
            for name in order[: 2 * ROUNDS]:
                path = API_PATH if name == "api" else BARE_PATH
                rps, p99 = measure(server.url + path, SECONDS)
                results[name].append((rps, p99))
                print(f"  round {name:4s}: {rps:8.0f} req/s   p99 {p99:7.2f} ms")
    med = {
        k: (statistics.median(r for r, _ in v), statistics.median(p for _, p in v))
        for k, v in results.items()
    }
    (api_rps, api_p99), (bare_rps, bare_p99) = med["api"], med["bare"]
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"medians (machine load average {load}; 2 vCPU shared with other jobs):")
    print(f"/api/portfolio : {api_rps:8.0f} req/s   p99 {api_p99:7.2f} ms")
    print(f"bare JsonResp. : {bare_rps:8.0f} req/s   p99 {bare_p99:7.2f} ms")
    tr, lr = api_rps / bare_rps, api_p99 / bare_p99
    print(f"throughput ratio {tr:.2f}x (target >= 0.8x) {'OK' if tr >= 0.8 else 'MISSED'}")
    print(f"p99 ratio        {lr:.2f}x (target <= 1.5x) {'OK' if lr <= 1.5 else 'MISSED'}")


if __name__ == "__main__":
    main()
