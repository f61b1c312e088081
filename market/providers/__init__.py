"""Market data providers behind one interface (:class:`market.providers.base.Provider`)."""

from __future__ import annotations

from typing import Any

from market.providers.base import Provider


def make_provider(name: str, **options: Any) -> Provider:
    """Build the provider called ``name`` ("synthetic", "yfinance" or "replay")."""
    name = (name or "").strip().lower()
    if name == "synthetic":
        from market.providers.synthetic import SyntheticProvider

        return SyntheticProvider(
            seed=int(options.get("seed", 7)),
            rate=float(options.get("rate", 0.04)),
            clock=options.get("clock"),
        )
    if name == "replay":
        from market.providers.replay import ReplayProvider

        path = options.get("replay_file") or ""
        if not path:
            raise ValueError("the replay provider needs a snapshot file (MARKET_REPLAY_FILE)")
        return ReplayProvider(path, clock=options.get("clock"))
    if name == "yfinance":
        from market.providers.yfinance_provider import YFinanceProvider

        return YFinanceProvider(timeout=float(options.get("timeout", 10.0)))
    raise ValueError(f"unknown market data provider {name!r}")


__all__ = ["Provider", "make_provider"]
