"""Stop the clock for a test: Django's ``timezone.now`` and the market calendar's "now"."""

from __future__ import annotations

from datetime import datetime

import pytest


def freeze(monkeypatch: pytest.MonkeyPatch, at: datetime) -> None:
    """Every "now" the code reads (``timezone.now()``, ``timezone.localdate()``,
    ``market.calendar.market_date()``) answers ``at`` (timezone-aware) until the test ends."""
    from django.utils import timezone

    from market import calendar

    assert at.tzinfo is not None
    monkeypatch.setattr(timezone, "now", lambda: at)
    monkeypatch.setattr(calendar, "_utcnow", lambda: at)
