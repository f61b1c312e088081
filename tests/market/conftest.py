"""yfinance (the optional extra, installed by ``make install-dev``) on recorded HTTP answers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def _yfinance_caches(tmp_path_factory) -> None:
    """yfinance keeps cookie and timezone caches on disk: a throwaway folder, never ~/.cache."""
    yfinance = pytest.importorskip("yfinance")
    yfinance.set_tz_cache_location(str(tmp_path_factory.mktemp("yfinance-cache")))


@pytest.fixture
def yahoo(_yfinance_caches) -> Iterator[None]:
    """Forget yfinance's process-wide response memo between tests (one recorded world each)."""
    from yfinance.data import YfData

    YfData.cache_get.cache_clear()
    yield
    YfData.cache_get.cache_clear()
