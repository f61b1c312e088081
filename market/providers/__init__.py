"""Market data providers behind one interface (:class:`market.providers.base.Provider`)."""

from __future__ import annotations

from typing import Any

from market.providers.base import Provider

PROVIDER_NAMES = ("synthetic", "yfinance", "cboe", "replay")


def parse_provider_list(raw: str) -> tuple[str, ...]:
    """``"yfinance, cboe"`` -> ``("yfinance", "cboe")``: an ordered list without repeats.

    Raises ValueError for an empty list, an unknown name or a repeated one.
    """
    names = tuple(part.strip().lower() for part in (raw or "").split(","))
    if not names or any(not n for n in names):
        raise ValueError(f"{raw!r} is not a comma-separated list of provider names")
    for name in names:
        if name not in PROVIDER_NAMES:
            raise ValueError(f"unknown market data provider {name!r} (one of {PROVIDER_NAMES})")
    if len(set(names)) != len(names):
        raise ValueError(f"{raw!r} names a provider twice")
    return names


def make_provider(name: str, **options: Any) -> Provider:
    """Build the provider called ``name`` (one of :data:`PROVIDER_NAMES`)."""
    name = (name or "").strip().lower()
    if name == "synthetic":
        from market.providers.synthetic import SyntheticProvider

        return SyntheticProvider(
            seed=int(options.get("seed", 7)),
            rate=float(options.get("rate", 0.04)),
            clock=options.get("clock"),
            vol_regime=bool(options.get("vol_regime", True)),
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
    if name == "cboe":
        from market.providers.cboe import CboeProvider

        return CboeProvider(timeout=float(options.get("timeout", 10.0)))
    raise ValueError(f"unknown market data provider {name!r}")


def make_providers(names: str, **options: Any) -> list[Provider]:
    """The providers of an ordered list such as ``"yfinance,cboe"`` (first = preferred)."""
    return [make_provider(name, **options) for name in parse_provider_list(names)]


__all__ = ["PROVIDER_NAMES", "Provider", "make_provider", "make_providers", "parse_provider_list"]
