"""Memory across market-data refreshes, in process: does anything grow without bound?

The HTTP soak (``bench_load``) sees a chain refresh only every ``CACHE_TTL`` (300 s), so ten
minutes hold two. Here each round clears the cache, which forces what a refresh does (new quote,
new chain, its analytics and implied vols, a new valuation and options page), and serves
``/api/portfolio`` and ``/api/options`` through the Django test client. RSS is printed every
``STEP`` rounds, and ``tracemalloc`` compares the Python heap (numpy arrays included) between
the middle and the end, so growth of live objects can be told from allocator fragmentation.

    python -m bench memory        # BENCH_MEMORY_ROUNDS=160 by default
"""

from __future__ import annotations

import gc
import os
import tempfile
import time
import tracemalloc

ROUNDS = int(os.environ.get("BENCH_MEMORY_ROUNDS", "160"))
STEP = 40
# Production refreshes the chain every CACHE_TTL seconds (300 by default): 12 per hour.
REFRESHES_PER_HOUR = 3600 / 300


def _rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main() -> None:
    os.environ["DATA_DIR"] = tempfile.mkdtemp(prefix="vault-bench-memory-")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.cache import cache
    from django.core.management import call_command
    from django.test import Client

    call_command("migrate", verbosity=0)
    call_command("seed_demo", verbosity=0)
    client = Client()
    tracemalloc.start(10)
    samples: list[tuple[int, int]] = []
    middle = None
    start = time.perf_counter()
    for i in range(ROUNDS + 1):
        cache.clear()
        for path in ("/api/portfolio?symbol=GLD", "/api/options?symbol=GLD"):
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
    elapsed = time.perf_counter() - start
    assert middle is not None
    traced = sum(stat.size_diff for stat in end.compare_to(middle, "filename"))
    print(
        f"{ROUNDS} forced refreshes in {elapsed:.0f}s; RSS (round: MiB) "
        + ", ".join(f"{i}: {kib / 1024:.1f}" for i, kib in samples)
    )
    steps = [(b[1] - a[1]) / 1024 for a, b in zip(samples, samples[1:], strict=False)]
    print("RSS growth per 40 refreshes (MiB): " + ", ".join(f"{s:+.1f}" for s in steps))
    last = steps[-1] / STEP
    base = samples[-1][1] / 1024
    print(
        f"last window: {last * 1000:+.0f} KiB per refresh = "
        f"{last * REFRESHES_PER_HOUR / base * 100:+.2f} %/hour at one refresh per 300 s; "
        f"live Python/numpy heap between round {ROUNDS // 2} and {ROUNDS}: {traced / 1024:+.0f} KiB"
    )


if __name__ == "__main__":
    main()
