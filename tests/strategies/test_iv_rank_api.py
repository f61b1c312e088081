"""``iv_rank`` in /api/options: from the stored IV history, null with a reason without enough."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache

from market.calendar import market_date
from marketdata import ivrecord
from marketdata.models import IVObservation
from strategies.schemas import OptionsOut

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def store(values: list[float], symbol: str = "GLD") -> None:
    today = market_date()
    rows = [
        IVObservation(
            symbol=symbol,
            date=today - timedelta(days=len(values) - 1 - i),
            iv30=v,
            method="test",
            source="synthetic",
        )
        for i, v in enumerate(values)
    ]
    ivrecord._store(rows)


def test_rank_and_percentile_from_the_stored_history(client, fake_market) -> None:
    store([0.20, 0.10, 0.30, 0.25, 0.15] * 4 + [0.22])
    body = client.get("/api/options", {"symbol": "GLD"}).json()
    OptionsOut.model_validate(body)
    ivr = body["iv_rank"]
    # min 0.10, max 0.30 -> (0.22 - 0.10) / 0.20 = 60 %; 12 of the 20 earlier days are lower.
    assert ivr["rank"] == pytest.approx(60.0) and ivr["percentile"] == pytest.approx(60.0)
    assert ivr["iv30"] == 0.22 and ivr["observations"] == 21 and ivr["window_days"] == 365
    assert ivr["as_of"] == market_date().isoformat() and ivr["reason"] is None
    assert "total variance" in ivr["iv30_method"] and "365 calendar days" in ivr["method"]
    assert list(body)[:2] == ["inputs", "iv_rank"]


def test_null_with_a_reason_without_enough_history(client, fake_market) -> None:
    ivr = client.get("/api/options", {"symbol": "GLD"}).json()["iv_rank"]
    assert ivr["rank"] is None and ivr["percentile"] is None
    assert ivr["reason"] == "no IV history yet"
    store([0.2, 0.3, 0.25])
    ivr = client.get("/api/options", {"symbol": "GLD"}).json()["iv_rank"]
    assert ivr["rank"] is None and ivr["reason"].startswith("not enough IV history: 3 of 20")


def test_a_new_day_changes_the_cached_body(client, fake_market) -> None:
    store(
        [0.20, 0.10, 0.30, 0.25, 0.15] * 4,
    )
    first = client.get("/api/options", {"symbol": "GLD"}).json()["iv_rank"]
    IVObservation.objects.filter(date=market_date()).delete()
    ivrecord._store(
        [IVObservation(symbol="GLD", date=market_date(), iv30=0.30, method="t", source="live")]
    )
    second = client.get("/api/options", {"symbol": "GLD"}).json()["iv_rank"]
    assert first["iv30"] == 0.15 and second["iv30"] == 0.30
    assert second["rank"] == pytest.approx(100.0)
