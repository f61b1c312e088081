"""HTTP load on the app's pages and APIs, as ratios to a bare Django view on the same server.

wrk drives each path at a fixed concurrency for a fixed time on loopback; the reference is
``/bench/bare``, a JsonResponse of the same size as the API response, served by the same
server in the same run: first one daphne process (the embedded default), then gunicorn's
WSGI workers (the scaled-out layout's HTTP side), then those workers behind Caddy with
``deploy/Caddyfile`` (the whole scaled-out HTTP path, as a ratio to gunicorn direct). Then a soak: the dashboard API under steady load for
``BENCH_SOAK_SECONDS`` (600 by default) after a settling run through one chain-cache cycle
(``BENCH_SOAK_SETTLE_SECONDS``, 330), RSS sampled to give memory growth per hour.

    python -m bench load                      # everything
    BENCH_SOAK_SECONDS=0 python -m bench load # skip the soak
"""

from __future__ import annotations

import os
import statistics
import time

from bench.http_load import LoadResult, caddy, rss_kib, serve, warm, wrk

CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "50"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
SOAK_SECONDS = float(os.environ.get("BENCH_SOAK_SECONDS", "600"))
GUNICORN_WORKERS = int(os.environ.get("BENCH_GUNICORN_WORKERS", "2"))
SETTLE_SECONDS = float(os.environ.get("BENCH_SOAK_SETTLE_SECONDS", "330"))

PATHS = [
    "/",
    "/api/portfolio?symbol=GLD",
    "/api/options?symbol=GLD",
    "/api/strategies?symbol=GLD",
]


HEADER = (
    f"{'path':34} {'bytes':>8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}"
    " {0:>13} {1:>11}"
)


def print_pair(path: str, size: int, result: LoadResult, reference: LoadResult, label: str) -> None:
    """One measured path and its reference, with the ratios."""
    print(
        f"{path:34} {size:8d} {result.requests_per_s:8.1f} {result.p50_ms:8.1f} "
        f"{result.p99_ms:8.1f} {result.errors:6d} "
        f"{result.requests_per_s / reference.requests_per_s:13.2f} "
        f"{result.p99_ms / reference.p99_ms:11.2f}"
    )
    print(
        f"{'  ' + label:34} {size:8d} {reference.requests_per_s:8.1f} {reference.p50_ms:8.1f} "
        f"{reference.p99_ms:8.1f} {reference.errors:6d}"
    )


def load_table(server: str, workers: int = 1) -> None:
    """Each path and a bare view of its size, on one server, as ratios."""
    label = "daphne, 1 process" if server == "daphne" else f"gunicorn, {workers} WSGI workers"
    with serve(server, workers=workers) as (base, _process):
        print(f"\n{label}, wrk -c {CONNECTIONS} -d {SECONDS:g}s (loopback)")
        print(HEADER.format("req/s ×bare", "p99 ×bare"))
        for path in PATHS:
            size = warm(base, path)
            bare_path = f"/bench/bare?size={size}"
            warm(base, bare_path)
            bare = wrk(base, bare_path, CONNECTIONS, SECONDS)
            result = wrk(base, path, CONNECTIONS, SECONDS)
            print_pair(path, size, result, bare, "bare JsonResponse, same size")


def proxied_table(workers: int) -> None:
    """gunicorn behind Caddy (deploy/Caddyfile) against gunicorn direct, in the same run."""
    with serve("gunicorn", workers=workers) as (direct, _process):
        upstream = direct.removeprefix("http://")
        # /ws/ is not measured here (bench_ws covers WebSockets); point it at the same upstream.
        with caddy(upstream, upstream) as proxied:
            print(
                f"\ngunicorn ({workers} workers) behind Caddy vs direct, wrk -c {CONNECTIONS} "
                f"-d {SECONDS:g}s (loopback; Caddy adds gzip only when asked, wrk does not ask)"
            )
            print(HEADER.format("req/s ×direct", "p99 ×direct"))
            for path in PATHS:
                size = warm(direct, path)
                warm(proxied, path)
                plain = wrk(direct, path, CONNECTIONS, SECONDS)
                result = wrk(proxied, path, CONNECTIONS, SECONDS)
                print_pair(path, size, result, plain, "gunicorn direct")


def soak() -> None:
    if SOAK_SECONDS <= 0:
        print("soak skipped (BENCH_SOAK_SECONDS=0)")
        return
    path = "/api/portfolio?symbol=GLD"
    with serve("daphne") as (base, process):
        warm(base, path, times=20)
        # Settle through one full chain-cache cycle (CACHE_TTL, 300 s by default) so that the
        # steady state holds a refreshed chain too; growth is measured after that.
        settle = wrk(base, path, 10, SETTLE_SECONDS)
        start = time.monotonic()
        samples = [(0.0, rss_kib(process.pid))]
        errors, requests = settle.errors, settle.requests
        step = max(10.0, SOAK_SECONDS / 10)
        while time.monotonic() - start < SOAK_SECONDS:
            result = wrk(base, path, 10, step)
            errors += result.errors
            requests += result.requests
            samples.append((time.monotonic() - start, rss_kib(process.pid)))
    times = [t for t, _ in samples]
    rss = [r for _, r in samples]
    slope_kib_per_s = statistics.linear_regression(times, rss).slope
    growth_per_hour = slope_kib_per_s * 3600 / rss[0] * 100
    print(
        f"soak {path}: settle {SETTLE_SECONDS:.0f}s then {times[-1]:.0f}s measured, {requests} "
        f"requests, {errors} errors; RSS {rss[0] / 1024:.1f} → {rss[-1] / 1024:.1f} MiB, "
        f"least-squares growth {growth_per_hour:+.2f} %/hour (target < 5 %/hour)"
    )
    print("  RSS samples (s, MiB): " + ", ".join(f"{t:.0f}:{r / 1024:.1f}" for t, r in samples))


def main() -> None:
    # The embedded default (one daphne serves everything) and the scaled-out layout's HTTP
    # side (gunicorn WSGI workers behind the proxy; /ws/ stays on daphne).
    load_table("daphne")
    load_table("gunicorn", workers=GUNICORN_WORKERS)
    proxied_table(GUNICORN_WORKERS)
    soak()


if __name__ == "__main__":
    main()
