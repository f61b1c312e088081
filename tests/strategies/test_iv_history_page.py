"""The IV history page, and IV rank on the chain page and the dashboard."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.cache import cache
from django.core.management import call_command

from marketdata import ivrecord
from tests.support.clock import freeze
from tests.support.market import synthetic_service, use_market_service

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 4, 21, 5, tzinfo=UTC)  # 16:05 New York


@pytest.fixture
def synthetic(monkeypatch):
    cache.clear()
    freeze(monkeypatch, NOW)
    svc = synthetic_service(NOW, vol_regime=True)
    with use_market_service(svc):
        yield svc
    cache.clear()


def backfill(days: int = 400) -> None:
    call_command(
        "backfill_iv_history",
        "--symbol",
        "GLD",
        "--days",
        str(days),
        "--until",
        "2026-03-04",
        stdout=StringIO(),
    )


def test_history_page_with_chart_table_and_rank(client, synthetic) -> None:
    backfill()
    r = client.get("/options/iv-history/", {"symbol": "gld"})
    assert r.status_code == 200
    html = r.content.decode()
    rank = ivrecord.rank_for("GLD")
    assert rank.rank is not None
    m = re.search(r'id="ivh-rank">([^<]+)<', html)
    assert m is not None
    dd = m.group(1).strip()
    assert dd == f"{rank.rank:,.0f}"
    assert 'id="iv-history-chart"' in html and 'role="img"' in html
    assert "<caption>GLD 30-day implied vol against realised vol (%)</caption>" in html
    assert "Realised 20 d (%)" in html and "Realised 60 d (%)" in html
    assert "total variance" in html  # the method is stated


def test_history_page_without_history_says_so(client, synthetic) -> None:
    r = client.get("/options/iv-history/", {"symbol": "GLD"})
    assert r.status_code == 200
    html = r.content.decode()
    assert 'id="ivh-empty"' in html and "no IV history yet" in html


def test_history_page_bad_symbol_is_400(client, synthetic) -> None:
    r = client.get("/options/iv-history/", {"symbol": "G$LD"})
    assert r.status_code == 400
    assert 'id="ivh-error"' in r.content.decode()


def test_history_page_unknown_symbol_has_no_realised_vol(client, synthetic) -> None:
    r = client.get("/options/iv-history/", {"symbol": "ZZZZ"})
    assert r.status_code == 200
    assert "No price history" in r.content.decode()


def test_chain_page_and_dashboard_show_the_rank(client, synthetic) -> None:
    backfill()
    rank = ivrecord.rank_for("GLD")
    chain = client.get("/options/", {"symbol": "GLD"}).content.decode()
    assert f'id="iv-rank-value">{rank.rank:,.0f}<' in chain
    assert f'id="iv-percentile-value">{rank.percentile:,.0f}<' in chain
    assert 'id="iv-history-link"' in chain
    dash = client.get("/", {"symbol": "GLD"}).content.decode()
    assert 'id="hedge-iv-rank"' in dash and f'id="iv-rank-value">{rank.rank:,.0f}<' in dash


def test_chain_page_without_history_gives_the_reason(client, synthetic) -> None:
    chain = client.get("/options/", {"symbol": "GLD"}).content.decode()
    assert 'id="iv-rank-reason">· no IV history yet<' in chain


def test_page_views_never_record_history(client, synthetic) -> None:
    from marketdata.models import IVObservation

    for path in ("/options/", "/", "/options/iv-history/", "/api/options"):
        assert client.get(path, {"symbol": "GLD"}).status_code == 200
    assert IVObservation.objects.count() == 0
