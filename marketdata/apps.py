from __future__ import annotations

from django.apps import AppConfig


class MarketDataConfig(AppConfig):
    """Django glue around the plain ``market`` package: the process-wide service built from
    the settings, the market snapshot every page and API prices from, and the market commands."""

    name = "marketdata"
    verbose_name = "Market data"
