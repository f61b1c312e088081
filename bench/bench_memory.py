"""Memory across market-data refreshes, in process: does anything grow without bound?

The HTTP soak (``bench_load``) sees a chain refresh only every ``CACHE_TTL`` (300 s), so ten
minutes hold two. Here each round moves the synthetic market on by 300 s and clears the cache,
which forces what a refresh does (new quote, new chain, its implied vols, a new valuation,
options page and hedge candidates), and serves
``/api/portfolio``, ``/api/options`` and ``/api/strategies`` through the Django test client.

The same rounds run twice, side by side, each in a fresh process: once with malloc tuned as the
servers tune it (``core.allocator``: fixed mmap/trim thresholds, two arenas), once with
glibc's defaults. Each prints RSS every ``STEP`` rounds and the growth of the live Python/numpy
heap (``tracemalloc``) between the middle and the end, so growth of live objects can be told
from the allocator keeping freed memory.

    python -m bench memory        # BENCH_MEMORY_ROUNDS=120 by default
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROUNDS = int(os.environ.get("BENCH_MEMORY_ROUNDS", "120"))
STEP = 20
PATHS = ("/api/portfolio?symbol=GLD", "/api/options?symbol=GLD", "/api/strategies?symbol=GLD")
# Production refreshes the chain every CACHE_TTL seconds (300 by default): 12 per hour.
REFRESH_SECONDS = 300
REFRESHES_PER_HOUR = 3600 / REFRESH_SECONDS
ROOT = Path(__file__).resolve().parent.parent


def _rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def rounds(tuned: bool) -> dict[str, Any]:
    """Run the refresh rounds in this process; returns RSS samples and the traced growth."""
    if tuned:
        from core.allocator import tune_allocator

        if not tune_allocator():
            raise RuntimeError("this C library does not take mallopt thresholds")
    os.environ["DATA_DIR"] = tempfile.mkdtemp(prefix="vault-bench-memory-")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.cache import cache
    from django.core.management import call_command
    from django.test import Client

    call_command("migrate", verbosity=0)
    call_command("seed_demo", verbosity=0)
    # Each round is one real refresh: the synthetic market moves on by CACHE_TTL (300 s), so
    # every round brings a new quote and chain snapshot (new IVs, candidates, bodies).
    from market.providers.synthetic import SyntheticProvider
    from marketdata.service import get_market_service

    provider = get_market_service().provider
    if not isinstance(provider, SyntheticProvider):
        raise RuntimeError("bench memory runs on the synthetic provider (MARKET_DATA_PROVIDER)")
    market_time = [datetime.now(UTC)]
    provider.clock = lambda: market_time[0]
    client = Client()
    tracemalloc.start(1)
    samples: list[tuple[int, int]] = []
    middle = None
    start = time.perf_counter()
    for i in range(ROUNDS + 1):
        cache.clear()
        market_time[0] += timedelta(seconds=REFRESH_SECONDS)
        for path in PATHS:
            response = client.get(path)
            if response.status_code != 200:
                raise RuntimeError(f"{path}: HTTP {response.status_code}")
        if i % STEP == 0:
            gc.collect()
            samples.append((i, _rss_kib()))
        if i == ROUNDS // 2:
            gc.collect()
            middle = tracemalloc.take_snapshot()
    gc.collect()
    end = tracemalloc.take_snapshot()
    assert middle is not None
    traced = sum(stat.size_diff for stat in end.compare_to(middle, "filename"))
    return {
        "samples": samples,
        "traced_kib": traced / 1024,
        "seconds": time.perf_counter() - start,
    }


def _child(tuned: bool) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    out = subprocess.run(
        [sys.executable, "-m", "bench.bench_memory", "tuned" if tuned else "glibc-default"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def main() -> None:
    print(f"{ROUNDS} forced refreshes per run, each serving {', '.join(PATHS)}")
    results = {}
    for label, tuned in (("tuned (as served)", True), ("glibc defaults", False)):
        result = _child(tuned)
        results[label] = result
        samples = result["samples"]
        rss = [kib / 1024 for _, kib in samples]
        half = len(rss) // 2
        # Growth over the second half, per refresh, as a share of the final RSS per hour.
        per_refresh = (rss[-1] - rss[half]) / (samples[-1][0] - samples[half][0])
        per_hour = per_refresh * REFRESHES_PER_HOUR / rss[-1] * 100
        print(
            f"{label:20} RSS MiB every {STEP} rounds: "
            + ", ".join(f"{r:.1f}" for r in rss)
            + f"\n{'':20} second half: {per_refresh * 1024:+.0f} KiB/refresh = {per_hour:+.2f} "
            f"%/hour at one refresh per 300 s; live heap {result['traced_kib']:+.0f} KiB; "
            f"{result['seconds']:.0f} s"
        )
    tuned_rss = results["tuned (as served)"]["samples"][-1][1]
    default_rss = results["glibc defaults"]["samples"][-1][1]
    print(f"final RSS tuned / defaults: {tuned_rss / default_rss:.2f}")


if __name__ == "__main__":
    if len(sys.argv) == 2 and sys.argv[1] in ("tuned", "glibc-default"):
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vault_dash.settings.base")
        print(json.dumps(rounds(sys.argv[1] == "tuned")))
    else:
        main()
