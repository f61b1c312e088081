"""Market data providers and the options analytics engine (plain Python; see docs/market.md)."""

from __future__ import annotations
