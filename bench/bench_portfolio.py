"""``/api/portfolio`` (warm cache) vs a bare Django ``JsonResponse`` of the same body.

Both endpoints are served by the same daphne process (embedded defaults, seeded demo
portfolio, synthetic market data) and hit by the same load generator (``wrk`` on loopback when
installed, else an asyncio/httpx client) in alternating rounds of one run, so the machine's
load affects both alike. Prints throughput and p99 latency as ratios (targets: ≥ 0.8×, ≤ 1.5×).

Two cases: the seeded demo (1,000 shares + 10 puts), and a **book** of 50 open positions built
from 500 trades through the ledger (issue 14), where the warm path must keep the same ratio.

    python -m bench portfolio   # BENCH_SECONDS=4 BENCH_ROUNDS=3 BENCH_CONNECTIONS=16 to tune
                                # BENCH_CASES=demo,book (default both)

With ``BENCH_PAGE=dashboard`` it compares the dashboard page ``/`` instead, against the bare view
padded to the page's size (``/bench/bare?size=N``), on daphne and on gunicorn (2 workers), at
``BENCH_CONNECTIONS`` (50 for the issue-16 target of ≥ 0.5×).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import urllib.request
from pathlib import Path

from bench.http_load import bench_env, serve, warm, wrk
from tests.support.server import manage

SECONDS = float(os.environ.get("BENCH_SECONDS", "4"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
API_PATH = "/api/portfolio?symbol=GLD"
BARE_PATH = "/bench/bare"
CASES = os.environ.get("BENCH_CASES", "demo,book").split(",")

# 48 options (4 listed expiries × 12 put strikes around spot) beside the demo's shares and put:
# 50 open positions; 10 trades on each option (buy 3, sell 1, …) and 20 on the shares, through
# the ledger: 500 trades, plus the opening trade the ledger gives the demo's shares.
BOOK_SCRIPT = """
from datetime import timedelta
from decimal import Decimal
import numpy as np
from django.utils import timezone
from marketdata.service import get_market_service
from portfolio import ledger
from portfolio.models import Portfolio, Trade
from portfolio.management.commands.seed_demo import DEMO_NAME
demo = Portfolio.objects.get(name=DEMO_NAME, owner__isnull=True)
chain = get_market_service().chain(demo.default_symbol)
today = timezone.localdate()
expiries = [d for d in chain.expiries if (d - today).days >= 30][:4]
start = today - timedelta(days=200)
for e in expiries:
    sel = (chain.expiry == np.datetime64(e, "D")) & ~np.asarray(chain.is_call, dtype=bool)
    strikes = np.asarray(chain.strike, dtype=float)[sel]
    near = sorted(strikes[np.argsort(np.abs(strikes - chain.spot))[:12]])
    for k in near:
        trades = [
            Trade(symbol=demo.default_symbol, kind="option", expiry=e, strike=Decimal(str(k)),
                  right="P", action="buy" if i % 2 == 0 else "sell",
                  quantity=Decimal(3 if i % 2 == 0 else -1), price=Decimal("2.50") + i,
                  fees=Decimal("1.30"), traded_on=start + timedelta(days=i))
            for i in range(10)
        ]
        ledger.record(demo, None, trades)
ledger.record(demo, None, [
    Trade(symbol=demo.default_symbol, kind="underlying", action="buy" if i % 2 else "sell",
          quantity=Decimal(10 if i % 2 else -5), price=Decimal(150 + i), fees=Decimal(1),
          traded_on=start + timedelta(days=i))
    for i in range(1, 21)
])
print(demo.open_positions().count(), demo.trades.count())
"""


def _book_dir(tmp: str) -> str:
    """A data dir whose demo portfolio holds the 50-position, 500-trade book."""
    data_dir = str(Path(tmp) / "book")
    env = bench_env(data_dir)
    manage(env, "migrate", "--noinput", "-v0")
    manage(env, "seed_demo")
    done = manage(env, "shell", "-c", BOOK_SCRIPT)
    positions, trades = done.stdout.split()[-2:]
    print(f"book: {positions} open positions from {trades} trades")
    return data_dir


def _rounds(base: str, paths: dict[str, str]) -> dict[str, tuple[float, float]]:
    """Alternating wrk rounds of each path; medians of (req/s, p99 ms)."""
    for path in paths.values():  # warm-up
        wrk(base, path, CONNECTIONS, 1)
    results: dict[str, list[tuple[float, float]]] = {k: [] for k in paths}
    names = list(paths)
    for i in range(ROUNDS):
        for name in names if i % 2 == 0 else names[::-1]:
            result = wrk(base, paths[name], CONNECTIONS, SECONDS)
            if result.errors:
                raise RuntimeError(f"{result.path}: {result.errors} errors during the run")
            results[name].append((result.requests_per_s, result.p99_ms))
            print(f"  {name:9s}: {result.requests_per_s:8.0f} req/s   p99 {result.p99_ms:7.2f} ms")
    return {
        k: (statistics.median(r for r, _ in v), statistics.median(p for _, p in v))
        for k, v in results.items()
    }


def dashboard() -> None:
    for server, workers in (("daphne", 1), ("gunicorn", 2)):
        with serve(server, workers=workers) as (base, _):
            size = warm(base, "/")
            bare = f"{BARE_PATH}?size={size}"
            warm(base, bare)
            print(f"{server} ({workers} process(es)), {CONNECTIONS} connections, page {size} B")
            med = _rounds(base, {"dashboard": "/", "bare": bare})
            ratio = med["dashboard"][0] / med["bare"][0]
            verdict = "OK" if ratio >= 0.5 else "MISSED"
            print(f"  {server}: throughput ratio {ratio:.2f}x (target >= 0.5x) {verdict}")


def main() -> None:
    if os.environ.get("BENCH_PAGE") == "dashboard":
        dashboard()
        return
    for case in CASES:
        print(f"--- case: {case}")
        measure(case)


def measure(case: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        bare_file = Path(tmp) / "bare.json"
        extra = {"BENCH_BARE_FILE": str(bare_file)}
        if case == "book":
            extra["DATA_DIR"] = _book_dir(tmp)
        with serve("daphne", extra_env=extra) as (base, _):
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
