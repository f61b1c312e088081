"""Django glue: get_market_service() from settings, and the quote/chain/record commands."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from market.service import MarketService
from marketdata.service import get_market_service, reset_market_service


@pytest.fixture(autouse=True)
def fresh_service(settings):
    settings.MARKET_DATA_PROVIDER = "synthetic"
    settings.MARKET_SEED = 11
    reset_market_service()
    yield
    reset_market_service()


def test_service_is_a_process_wide_singleton_built_from_settings(settings):
    settings.CACHE_TTL = 123
    settings.QUOTE_CACHE_TTL = 4
    svc = get_market_service()
    assert isinstance(svc, MarketService) and svc is get_market_service()
    assert svc.provider.name == "synthetic" and svc.chain_ttl == 123 and svc.quote_ttl == 4
    h = svc.health()
    assert h["ok"] is True and h["provider"] == "synthetic" and h["breaker"] == "closed"


def test_health_endpoint_embeds_market_data_check():
    from vault_dash.health import check_market_data

    check = check_market_data()
    assert check["ok"] is True and check["provider"] == "synthetic" and "latency_ms" in check


def test_quote_command_prints_table():
    out = StringIO()
    call_command("quote", "GLD", "spy", stdout=out)
    text = out.getvalue()
    assert "GLD" in text and "SPY" in text and "synthetic" in text and "bid" in text


def test_chain_command_prints_next_expiry_table():
    out = StringIO()
    call_command("chain", "GLD", "--expiry", "next", "--strikes", "3", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("GLD ") and "ATM IV" in lines[0] and "expected move" in lines[0]
    assert "strike" in lines[3] and len(lines) == 4 + 7
    assert any("*" in ln for ln in lines[4:])


def test_chain_command_errors_are_clean():
    with pytest.raises(CommandError, match="unknown symbol"):
        call_command("chain", "ZZZZ")
    with pytest.raises(CommandError, match="invalid symbol"):
        call_command("quote", "not a symbol")
    with pytest.raises(CommandError, match="no 1999-01-01 expiry"):
        call_command("chain", "GLD", "--expiry", "1999-01-01")


def test_record_snapshot_then_replay_it(tmp_path, settings):
    path = tmp_path / "snap.json"
    call_command("record_market_snapshot", "GLD", "--out", str(path), stdout=StringIO())
    call_command(
        "record_market_snapshot",
        "IAU",
        "--out",
        str(path),
        "--append",
        "--provider",
        "synthetic",
        "--no-chain",
        stdout=StringIO(),
    )
    data = json.loads(path.read_text())
    assert data["version"] == 1 and len(data["snapshots"]) == 2
    recorded = get_market_service().chain("GLD")

    settings.MARKET_DATA_PROVIDER = "replay"
    settings.MARKET_REPLAY_FILE = str(path)
    reset_market_service()
    svc = get_market_service()
    assert svc.provider.name == "replay"
    replayed = svc.chain("GLD")
    assert replayed.spot == recorded.spot and len(replayed) == len(recorded)
    assert (replayed.bid == recorded.bid).all() and replayed.as_of == recorded.as_of
    assert svc.quote("IAU").symbol == "IAU"
    out = StringIO()
    call_command("chain", "GLD", stdout=out)
    assert "replay" in out.getvalue()
