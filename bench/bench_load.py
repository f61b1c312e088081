"""HTTP load on the app's pages and APIs, as ratios to a bare Django view on the same server.

wrk drives each path at a fixed concurrency for a fixed time on loopback; the reference is
``/bench/bare``, a JsonResponse of the same size as the API response, served by the same
daphne process in the same run. Then a soak: the dashboard API under steady load for
``BENCH_SOAK_SECONDS`` (600 by default), RSS sampled to give memory growth per hour.

    python -m bench load                      # everything
    BENCH_SOAK_SECONDS=0 python -m bench load # skip the soak
"""

from __future__ import annotations

import os
import time

from bench.http_load import rss_kib, serve, warm, wrk

CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "50"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
SOAK_SECONDS = float(os.environ.get("BENCH_SOAK_SECONDS", "600"))

PATHS = [
    "/",
    "/api/portfolio?symbol=GLD",
    "/api/options?symbol=GLD",
    "/api/strategies?symbol=GLD",
]


def load_table() -> None:
    with serve("daphne") as (base, _process):
        print(f"daphne, 1 process, wrk -c {CONNECTIONS} -d {SECONDS:g}s (loopback)")
        print(
            f"{'path':34} {'bytes':>8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}"
            f" {'req/s ×bare':>11} {'p99 ×bare':>9}"
        )
        for path in PATHS:
            size = warm(base, path)
            bare_path = f"/bench/bare?size={size}"
            warm(base, bare_path)
            bare = wrk(base, bare_path, CONNECTIONS, SECONDS)
            result = wrk(base, path, CONNECTIONS, SECONDS)
            print(
                f"{path:34} {size:8d} {result.requests_per_s:8.1f} {result.p50_ms:8.1f} "
                f"{result.p99_ms:8.1f} {result.errors:6d} "
                f"{result.requests_per_s / bare.requests_per_s:11.2f} "
                f"{result.p99_ms / bare.p99_ms:9.2f}"
            )
            print(
                f"{'  bare JsonResponse, same size':34} {size:8d} {bare.requests_per_s:8.1f} "
                f"{bare.p50_ms:8.1f} {bare.p99_ms:8.1f} {bare.errors:6d}"
            )


def soak() -> None:
    if SOAK_SECONDS <= 0:
        print("soak skipped (BENCH_SOAK_SECONDS=0)")
        return
    path = "/api/portfolio?symbol=GLD"
    with serve("daphne") as (base, process):
        warm(base, path, times=20)
        # Settle first: the first minute fills caches and allocator pools.
        wrk(base, path, 10, min(60.0, SOAK_SECONDS / 5))
        start_rss, start = rss_kib(process.pid), time.monotonic()
        samples = [(0.0, start_rss)]
        errors = requests = 0
        step = max(10.0, SOAK_SECONDS / 10)
        while time.monotonic() - start < SOAK_SECONDS:
            result = wrk(base, path, 10, step)
            errors += result.errors
            requests += result.requests
            samples.append((time.monotonic() - start, rss_kib(process.pid)))
        elapsed = samples[-1][0]
        end_rss = samples[-1][1]
        growth_per_hour = (end_rss - start_rss) / start_rss * 3600 / elapsed * 100
        print(
            f"soak {path}: {elapsed:.0f}s, {requests} requests, {errors} errors, RSS "
            f"{start_rss / 1024:.1f} → {end_rss / 1024:.1f} MiB "
            f"({growth_per_hour:+.2f} %/hour extrapolated; target < 5 %/hour)"
        )
        print("  RSS samples (s, MiB): " + ", ".join(f"{t:.0f}:{r / 1024:.1f}" for t, r in samples))


def main() -> None:
    load_table()
    soak()


if __name__ == "__main__":
    main()
