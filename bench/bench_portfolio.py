"""``/api/portfolio`` (warm cache) vs a bare Django ``JsonResponse`` of the same body.

Both endpoints are served by the same daphne process (embedded defaults, seeded demo
portfolio, synthetic market data) and hit by the same load generator (``wrk`` on loopback when
installed, else an asyncio/httpx client) in alternating rounds of one run, so the machine's
load affects both alike. Prints throughput and p99 latency as ratios (targets: ≥ 0.8×, ≤ 1.5×).

    python -m bench portfolio   # BENCH_SECONDS=4 BENCH_ROUNDS=3 BENCH_CONNECTIONS=16 to tune
"""

from __future__ import annotations

import os
import statistics
import tempfile
import urllib.request
from pathlib import Path

from bench.http_load import serve, warm, wrk

SECONDS = float(os.environ.get("BENCH_SECONDS", "4"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
API_PATH = "/api/portfolio?symbol=GLD"
BARE_PATH = "/bench/bare"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        bare_file = Path(tmp) / "bare.json"
        with serve("daphne", extra_env={"BENCH_BARE_FILE": str(bare_file)}) as (base, _):
            with urllib.request.urlopen(base + API_PATH, timeout=60) as response:  # noqa: S310
                body = response.read()
            bare_file.write_bytes(body)
            bare_size = warm(base, BARE_PATH)
            print(
                f"server: daphne (1 process) on {base}; load: wrk, "
                f"{CONNECTIONS} connections, {ROUNDS}×{SECONDS:g}s per endpoint, alternating"
            )
            print(f"body: /api/portfolio {len(body)} B, bare JsonResponse {bare_size} B")
            for path in (API_PATH, BARE_PATH):  # warm-up
                wrk(base, path, CONNECTIONS, 1)
            results: dict[str, list[tuple[float, float]]] = {"api": [], "bare": []}
            order = ["bare", "api", "api", "bare"] * ROUNDS
            for name in order[: 2 * ROUNDS]:
                result = wrk(base, API_PATH if name == "api" else BARE_PATH, CONNECTIONS, SECONDS)
                if result.errors:
                    raise RuntimeError(f"{result.path}: {result.errors} errors during the run")
                results[name].append((result.requests_per_s, result.p99_ms))
                print(
                    f"  round {name:4s}: {result.requests_per_s:8.0f} req/s   "
                    f"p99 {result.p99_ms:7.2f} ms"
                )
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
