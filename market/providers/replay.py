"""Replay recorded snapshots from a JSON file.

File format (``version`` 1)::

    {"version": 1, "snapshots": [{"recorded_at": "...", "quote": {...}, "chain": {...}}, ...]}

``quote`` and ``chain`` are :meth:`Quote.to_dict` / :meth:`OptionChain.to_dict`. A snapshot may
also carry the symbol's daily closes, ``"history": {"dates": ["YYYY-MM-DD", ...], "close":
[...]}`` (``record_market_snapshot --history DAYS`` records them): :meth:`ReplayProvider.history`
then serves them, with the recorded quotes' days after them; without one it serves one close per
recorded day (the last quote of that day). A symbol with
several snapshots is played back in recording order: snapshot ``i`` is served from
``i * step_seconds`` after the provider was created, looping at the end (``step_seconds`` defaults
to the spacing of the recordings, at least 1 s). Data keep their recorded ``as_of``, so anything
derived from them (time to expiry, Greeks) is reproducible.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from market.calendar import market_date
from market.data import OptionChain, PriceHistory, Quote, normalize_symbol
from market.errors import ProviderUnavailable, UnknownSymbol

FORMAT_VERSION = 1


def snapshot_dict(
    quote: Quote, chain: OptionChain | None, history: PriceHistory | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "recorded_at": datetime.now(UTC).isoformat(),
        "quote": quote.to_dict(),
        "chain": None if chain is None else chain.to_dict(),
    }
    if history is not None:
        out["history"] = {
            "dates": [str(d) for d in history.dates.astype("datetime64[D]")],
            "close": [float(c) for c in history.close],
        }
    return out


def _history_block(raw: Any) -> tuple[np.ndarray, np.ndarray]:
    """A snapshot's ``history``: dates (datetime64[D]) and positive finite closes."""
    if not isinstance(raw, dict):
        raise ValueError("history must be an object with 'dates' and 'close'")
    dates = np.array([np.datetime64(str(d), "D") for d in raw["dates"]], dtype="datetime64[D]")
    close = np.asarray(raw["close"], dtype=float)
    if dates.shape != close.shape:
        raise ValueError("history: 'dates' and 'close' differ in length")
    ok = np.isfinite(close) & (close > 0)
    return dates[ok], close[ok]


def write_snapshots(path: str | Path, snapshots: list[dict[str, Any]]) -> None:
    Path(path).write_text(
        json.dumps({"version": FORMAT_VERSION, "snapshots": snapshots}, indent=None)
    )


def read_snapshots(path: str | Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError as exc:
        raise ProviderUnavailable(f"replay file {path} not found") from exc
    except (OSError, ValueError) as exc:
        raise ProviderUnavailable(f"replay file {path} is unreadable: {exc}") from exc
    if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
        raise ProviderUnavailable(f"replay file {path}: expected version {FORMAT_VERSION}")
    snaps = data.get("snapshots")
    if not isinstance(snaps, list):
        raise ProviderUnavailable(f"replay file {path}: 'snapshots' must be a list")
    return snaps


class ReplayProvider:
    name = "replay"

    def __init__(
        self,
        path: str | Path,
        clock: Callable[[], float] | None = None,
        step_seconds: float | None = None,
    ) -> None:
        self.path = Path(path)
        self.clock = clock or time.monotonic
        self.started = self.clock()
        self.step_seconds = step_seconds
        self._by_symbol: dict[str, list[tuple[Quote, OptionChain | None]]] | None = None
        self._carried: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def _load(self) -> dict[str, list[tuple[Quote, OptionChain | None]]]:
        if self._by_symbol is None:
            out: dict[str, list[tuple[Quote, OptionChain | None]]] = {}
            for i, snap in enumerate(read_snapshots(self.path)):
                try:
                    q = Quote.from_dict(snap["quote"])
                    c = None if not snap.get("chain") else OptionChain.from_dict(snap["chain"])
                    q = replace(q, provider=self.name, stale=False, age_s=0.0)
                    if snap.get("history") is not None:
                        self._carried[q.symbol] = _history_block(snap["history"])
                    if c is not None:
                        meta = {**c.meta, "recorded_provider": c.provider}
                        c = replace(c, provider=self.name, stale=False, age_s=0.0, meta=meta)
                except (KeyError, TypeError, ValueError) as exc:
                    raise ProviderUnavailable(
                        f"replay file {self.path}: snapshot {i} is malformed: {exc}"
                    ) from exc
                out.setdefault(q.symbol, []).append((q, c))
            for items in out.values():
                items.sort(key=lambda qc: qc[0].as_of)
            self._by_symbol = out
        return self._by_symbol

    def _current(self, symbol: str) -> tuple[Quote, OptionChain | None]:
        sym = normalize_symbol(symbol)
        items = self._load().get(sym)
        if not items:
            raise UnknownSymbol(f"no recorded data for {sym!r} in {self.path.name}")
        if len(items) == 1:
            return items[0]
        step = self.step_seconds
        if step is None:
            span = (items[-1][0].as_of - items[0][0].as_of).total_seconds()
            step = max(1.0, span / (len(items) - 1))
        i = int((self.clock() - self.started) // step) % len(items)
        return items[i]

    def quote(self, symbol: str) -> Quote:
        q, _ = self._current(symbol)
        return q

    def chain(self, symbol: str) -> OptionChain:
        q, c = self._current(symbol)
        if c is None:
            raise UnknownSymbol(f"no recorded option chain for {q.symbol!r}")
        return c

    def history(self, symbol: str, days: int = 30) -> PriceHistory:
        sym = normalize_symbol(symbol)
        items = self._load().get(sym)
        if not items:
            raise UnknownSymbol(f"no recorded data for {sym!r}")
        dates = np.array([np.datetime64(market_date(q.as_of), "D") for q, _ in items])
        close = np.array([q.spot for q, _ in items])
        # One close per recorded day: the day's last quote (items are in time order).
        last = np.r_[dates[1:] != dates[:-1], True]
        dates, close = dates[last], close[last]
        carried = self._carried.get(sym)
        if carried is not None:
            after = dates > carried[0].max() if carried[0].size else np.ones(len(dates), bool)
            dates = np.concatenate([carried[0], dates[after]])
            close = np.concatenate([carried[1], close[after]])
        days = max(1, int(days))
        return PriceHistory(sym, self.name, dates[-days:], close[-days:])
