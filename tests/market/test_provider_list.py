"""MARKET_DATA_PROVIDER as an ordered list, and recording a snapshot from each live provider."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.management import call_command

from market.providers import cboe as cboe_module
from market.providers import make_providers, parse_provider_list, yfinance_provider
from marketdata.service import get_market_service, reset_market_service
from tests.market.yahoo_http import RecordedYahoo
from vault_dash.config import ConfigError, load_config

CBOE_FIXTURES = Path(__file__).parent / "fixtures" / "cboe"


def test_parse_provider_list():
    assert parse_provider_list(" YFinance , cboe ") == ("yfinance", "cboe")
    assert parse_provider_list("synthetic") == ("synthetic",)
    for bad in ("", "yfinance,", "yfinance,yfinance", "bloomberg", "cboe;rm -rf /"):
        with pytest.raises(ValueError):
            parse_provider_list(bad)
    assert [p.name for p in make_providers("yfinance,cboe")] == ["yfinance", "cboe"]


def test_config_accepts_an_ordered_list(tmp_path):
    env = {"DATA_DIR": str(tmp_path)}
    assert load_config({**env, "MARKET_DATA_PROVIDER": "yfinance, CBOE"}).market_data_provider == (
        "yfinance,cboe"
    )
    with pytest.raises(ConfigError, match="twice"):
        load_config({**env, "MARKET_DATA_PROVIDER": "cboe,cboe"})
    with pytest.raises(ConfigError, match="MARKET_REPLAY_FILE"):
        load_config({**env, "MARKET_DATA_PROVIDER": "yfinance,replay"})


@pytest.fixture
def live_recorded(monkeypatch, yahoo):
    """make_provider's own clients, with only their HTTP round trips on recordings."""
    body = (CBOE_FIXTURES / "GLD.json").read_bytes()
    monkeypatch.setattr(cboe_module, "urllib_transport", lambda url, timeout: (200, body))
    monkeypatch.setattr(yfinance_provider, "observed_session_class", lambda: RecordedYahoo)


@pytest.mark.parametrize("provider", ["yfinance", "cboe"])
@pytest.mark.django_db
def test_record_market_snapshot_from_each_live_provider(
    provider, live_recorded, tmp_path, settings
):
    path = tmp_path / "snap.json"
    out = StringIO()
    call_command(
        "record_market_snapshot", "GLD", "--out", str(path), "--provider", provider, stdout=out
    )
    assert f"({provider})" in out.getvalue()
    snap = json.loads(path.read_text())["snapshots"][0]
    assert snap["quote"]["provider"] == provider and snap["chain"]["provider"] == provider
    assert snap["quote"]["market_state"] and snap["chain"]["meta"]["market_state"]

    settings.MARKET_DATA_PROVIDER = "replay"
    settings.MARKET_REPLAY_FILE = str(path)
    reset_market_service()
    cache.clear()  # a replay of another recording may be cached under the same key
    try:
        replayed = get_market_service().chain("GLD")
        assert replayed.meta["recorded_provider"] == provider
        assert replayed.spot == 366.42 and len(replayed) == len(
            snap["chain"]["contracts"]["strike"]
        )
    finally:
        reset_market_service()
