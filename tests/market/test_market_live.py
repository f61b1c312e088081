"""MarketService with the live providers on recorded answers: market closed and failover."""

from __future__ import annotations

import numpy as np
import pytest

from market.errors import CircuitOpen, ProviderUnavailable
from market.service import CLOSED, OPEN
from market.session import two_sided_fraction
from tests.market.recorded_providers import Switch, cboe, yahoo
from tests.support.market import Clock, clocked_service

pytestmark = pytest.mark.usefixtures("yahoo")


def service(*providers, clock=None):
    clock = clock or Clock()
    return clocked_service(list(providers), clock, chain_ttl=0, quote_ttl=0), clock


# ---- market closed -----------------------------------------------------------------------


def test_pre_market_serves_the_last_in_session_chain_as_of_its_time():
    switch = Switch()
    yf, _ = yahoo(switch)
    svc, clock = service(yf)
    live = svc.chain("GLD")
    assert live.meta["market_state"] == "REGULAR" and "market_closed" not in live.meta
    assert svc.health()["market_open"] is True

    switch.pre_market = True
    clock.t += 15 * 3600  # the next morning
    raw = yf.chain("GLD")
    assert raw.meta["market_state"] == "PRE" and two_sided_fraction(raw) == 0.0  # blanks
    shown = svc.chain("GLD")
    assert shown.meta["market_closed"] is True and shown.meta["market_state"] == "PRE"
    assert shown.as_of == live.as_of and shown.provider == "yfinance"  # as of the close
    assert np.array_equal(shown.bid, live.bid, equal_nan=True)
    assert two_sided_fraction(shown) > 0.8  # never a page of blanks
    health = svc.health()
    assert health["market_open"] is False and health["market_state"] == "PRE"
    assert health["ok"] is True  # a closed market is not a fault


def test_closed_market_without_a_kept_chain_takes_another_providers_closing_quotes():
    switch = Switch()
    switch.pre_market = True
    yf, _ = yahoo(switch)
    cb, transport = cboe()
    svc, _ = service(yf, cb)
    shown = svc.chain("GLD")
    assert shown.provider == "cboe" and shown.meta["market_closed"] is True
    assert shown.meta["market_state"] == "PRE" and two_sided_fraction(shown) > 0.8
    assert transport.calls == 1
    # ... and keeps it as the session's chain: the next request does not ask CBOE again
    svc.chain("GLD")
    assert transport.calls == 1


def test_closed_market_with_nothing_better_is_marked_not_an_error():
    switch = Switch()
    switch.pre_market = True
    yf, _ = yahoo(switch)
    svc, _ = service(yf)
    shown = svc.chain("GLD")
    assert shown.meta["market_closed"] is True and shown.provider == "yfinance"
    assert not shown.stale


# ---- failover ----------------------------------------------------------------------------


def test_failover_to_cboe_and_back_when_yahoo_recovers():
    switch = Switch()
    yf, session = yahoo(switch)
    cb, transport = cboe()
    svc, clock = service(yf, cb)
    assert svc.quote("GLD").provider == "yfinance"
    assert svc.chain("GLD").provider == "yfinance"

    switch.down = True  # Yahoo dies mid-session: 503 on everything
    served = [svc.quote("GLD") for _ in range(3)]
    assert {q.provider for q in served} == {"cboe"} and not any(q.stale for q in served)
    assert served[0].spot == 366.42  # the same market, labelled with its source
    chain = svc.chain("GLD")
    assert chain.provider == "cboe" and not chain.stale
    health = svc.health()
    by_name = {p["name"]: p for p in health["providers"]}
    assert by_name["yfinance"]["breaker"] == OPEN and by_name["cboe"]["breaker"] == CLOSED
    assert health["serving"] == "cboe" and health["ok"] is True
    assert "503" in by_name["yfinance"]["last_error"]

    asked = len(session.requests)
    svc.quote("GLD")
    assert len(session.requests) == asked  # open breaker: Yahoo is not called

    switch.down = False
    clock.t += 31  # the breaker lets one trial through
    assert svc.quote("GLD").provider == "yfinance"
    assert svc.health()["providers"][0]["breaker"] == CLOSED
    assert svc.chain("GLD").provider == "yfinance"


def test_every_provider_down_serves_the_last_value_stale_then_circuit_open():
    switch = Switch()
    yf, _ = yahoo(switch)
    cb, transport = cboe()
    svc, clock = service(yf, cb)
    good = svc.quote("GLD")
    switch.down = transport.down = True
    clock.t += 10
    stale = svc.quote("GLD")
    assert stale.stale and stale.age_s == 10 and stale.provider == good.provider
    assert svc.health()["ok"] is False
    for _ in range(3):
        svc.quote("GLD")
    with pytest.raises(CircuitOpen):
        svc._call(lambda p: p.quote("GLD"))
    with pytest.raises(ProviderUnavailable):
        svc.history("GLD")  # CBOE has no history and Yahoo's breaker is open
