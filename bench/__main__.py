"""Run every benchmark module ``bench/bench_*.py`` (``make bench``), or those named.

    python -m bench                 # all
    python -m bench market portfolio  # bench_market.py and bench_portfolio.py

Each module exposes ``main() -> None`` and prints its own side-by-side ratios.
"""

from __future__ import annotations

import importlib
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vault_dash.settings.base")


def main(argv: list[str]) -> int:
    here = Path(__file__).parent
    names = argv or sorted(p.stem.removeprefix("bench_") for p in here.glob("bench_*.py"))
    failed = []
    for name in names:
        print(f"\n=== bench_{name} " + "=" * max(0, 60 - len(name)), flush=True)
        start = time.perf_counter()
        try:
            importlib.import_module(f"bench.bench_{name}").main()
        except Exception as exc:  # report and go on with the other benchmarks
            print(f"bench_{name} FAILED: {type(exc).__name__}: {exc}", flush=True)
            failed.append(name)
        print(f"--- bench_{name} took {time.perf_counter() - start:.1f}s", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
