"""Roll candidates of a held collar (strategies.rolls, vectorised) vs a plain per-candidate loop.

    python -m bench rolls

Both price the same candidates (every later expiry × strike move, each leg snapped to the nearest
listed strike with a two-sided quote, closes at bid/ask and opens at ask/bid) and compute the
book's floor on the same kink grid; the loop uses dicts and Python arithmetic per candidate and
leg. The run prints both timings, the ratio and the largest difference in debit and floor.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime

REPEAT = 20


def _loop(held, from_expiry, chain, spot, shares, today, shifts):
    """The same candidates, one Python iteration per (expiry, shift, leg)."""
    from market.data import CONTRACT_MULTIPLIER

    book: dict = {}
    for e, k, c, b, a in zip(chain.expiry.astype("datetime64[D]").astype(object), chain.strike,
                             chain.is_call, chain.bid, chain.ask, strict=True):  # fmt: skip
        book.setdefault((e, bool(c)), []).append((float(k), float(b), float(a)))
    old = [lg for lg in held if lg.expiry == from_expiry]
    quotes = {(e, c, k): (b, a) for (e, c), rows in book.items() for k, b, a in rows}
    close = 0.0
    for lg in old:
        b, a = quotes[(from_expiry, lg.right == "C", lg.strike)]
        px = (b if b > 0 else 0.0) if lg.quantity > 0 else a
        close += px * lg.quantity * CONTRACT_MULTIPLIER
    out: dict[tuple, tuple[float, float]] = {}
    for e in sorted({e for e, _ in book if e > from_expiry and (e - today).days <= 400}):
        for s in shifts:
            legs, ok = [], True
            for lg in old:
                rows = [r for r in book.get((e, lg.right == "C"), ()) if r[1] > 0 and r[2] >= r[1]]
                if not rows:
                    ok = False
                    break
                target = lg.strike + s * spot
                k, b, a = min(rows, key=lambda r: (abs(r[0] - target), r[0]))
                legs.append((lg, k, a if lg.quantity > 0 else b))
            if not ok:
                continue
            debit = sum(px * lg.quantity * CONTRACT_MULTIPLIER for lg, _, px in legs) - close
            grid = [0.0, spot] + [k for _, k, _ in legs]
            floor = math.inf
            for x in grid:
                if x > spot:
                    continue
                v = shares * x
                for lg, k, _ in legs:
                    pay = max(x - k, 0) if lg.right == "C" else max(k - x, 0)
                    v += lg.quantity * CONTRACT_MULTIPLIER * pay
                floor = min(floor, v)
            key = (e, tuple(k for _, k, _ in legs))
            out.setdefault(key, (debit, floor))
    return out


def main() -> None:
    import numpy as np

    from market.calendar import market_date
    from market.providers.synthetic import SyntheticProvider
    from strategies import rolls

    now = datetime(2026, 3, 4, 15, 30, tzinfo=UTC)
    chain = SyntheticProvider(seed=7, rate=0.04, clock=lambda: now).chain("GLD")
    spot, today = float(chain.spot), market_date(now)
    expiries = sorted(chain.expiries)
    e = expiries[2]
    strikes = np.asarray(chain.strike)[np.asarray(chain.expiry) == np.datetime64(e)]
    put_k = float(min(strikes, key=lambda k: abs(k - 0.9 * spot)))
    call_k = float(min(strikes, key=lambda k: abs(k - 1.1 * spot)))
    held = [rolls.HeldLeg("P", put_k, e, 10.0), rolls.HeldLeg("C", call_k, e, -10.0)]
    quotes = rolls.Quotes.of(chain)
    t0 = time.perf_counter()
    for _ in range(REPEAT):
        ours = rolls.roll_candidates(held, e, quotes, spot=spot, shares=1000, today=today)
    t_ours = (time.perf_counter() - t0) / REPEAT
    t0 = time.perf_counter()
    for _ in range(REPEAT):
        ref = _loop(held, e, chain, spot, 1000, today, rolls.SHIFTS)
    t_loop = (time.perf_counter() - t0) / REPEAT
    n = len(ours["candidates"])
    diff_debit = diff_floor = 0.0
    for c in ours["candidates"]:
        opened = tuple(lg["strike"] for lg in c["legs"] if lg["action"] == "open")
        debit, floor = ref[(datetime.fromisoformat(c["to_expiry"]).date(), opened)]
        diff_debit = max(diff_debit, abs(c["debit"] - debit))
        diff_floor = max(diff_floor, abs(c["floor_value"] - floor))
    print(f"chain: {len(chain)} contracts, {len(expiries)} expiries; collar held in {e}")
    print(f"candidates: {n} (loop: {len(ref)})")
    print(f"strategies.rolls (vectorised): {t_ours * 1e3:8.2f} ms")
    print(f"per-candidate loop:            {t_loop * 1e3:8.2f} ms")
    print(f"ratio ours/loop: {t_ours / t_loop:.2f}x")
    print(f"max |debit diff| ${diff_debit:.4f}, max |floor diff| ${diff_floor:.4f}")
