"""The real publisher path (``live_snapshot``) delivers the right numbers over the socket.

The reference is independent of the valuation code: for a portfolio of plain shares, value,
P&L and day change are arithmetic on the quote the market service serves for the same instant
(the update's ``ts`` is the quote's ``as_of``). A second test compares a portfolio with options
against a direct call of the full valuation for that same market snapshot.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async

from portfolio import publisher
from tests.ws.conftest import INTERVAL_S
from tests.ws.helpers import communicator, next_of_type, running_publisher

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("ws_settings")]

SHARES = 250
COST = 150.0


@pytest.fixture
def market(settings):
    settings.MARKET_DATA_PROVIDER = "synthetic"
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def demo_shares(market):
    from tests.factories import DemoPortfolioFactory, PositionFactory

    demo = DemoPortfolioFactory()
    PositionFactory(portfolio=demo, quantity=Decimal(SHARES), cost_basis=Decimal(str(COST)))
    return demo


@pytest.fixture
def demo_hedged(market):
    from tests.factories import DemoPortfolioFactory, OptionPositionFactory, PositionFactory

    demo = DemoPortfolioFactory()
    PositionFactory(portfolio=demo)
    OptionPositionFactory(portfolio=demo)
    return demo


def _quote(symbol: str):
    from marketdata.service import get_market_service

    return get_market_service().quote(symbol)


async def _warm_up() -> None:
    """One valuation before timing: the first in a process also builds the synthetic chain."""
    from portfolio.services import live_snapshot

    await sync_to_async(live_snapshot)("GLD")


async def _update_with_quote(comm):
    """An update and the quote of the same instant (the quote cache may roll over between)."""
    for _ in range(4):
        update = await next_of_type(comm, "portfolio_update", INTERVAL_S + 1)
        quote = await sync_to_async(_quote)("GLD")
        if datetime.fromisoformat(update["ts"]) == quote.as_of:
            return update, quote
    raise AssertionError("never saw an update for the quote the market service serves")


async def test_update_within_interval_with_correct_numbers(registry, known_symbols, demo_shares):
    await _warm_up()
    async with running_publisher(None, render=None):  # None: the real live_snapshot
        comm = communicator()
        assert (await comm.connect(timeout=5))[0]
        assert (await comm.receive_json_from())["type"] == "connected"
        update, quote = await _update_with_quote(comm)
        await comm.disconnect()

    assert update["symbol"] == "GLD"
    assert update["spot"] == pytest.approx(quote.spot, rel=1e-12)
    assert update["value"] == pytest.approx(SHARES * quote.spot, rel=1e-9)
    assert update["pnl"] == pytest.approx(SHARES * (quote.spot - COST), rel=1e-9)
    assert update["day_change"] == pytest.approx(SHARES * (quote.spot - quote.prev_close), rel=1e-9)
    assert update["greeks"]["delta_shares"] == pytest.approx(SHARES)
    assert update["stale"] is quote.stale is False


async def test_hedged_portfolio_matches_a_direct_valuation(registry, known_symbols, demo_hedged):
    from portfolio import services

    await _warm_up()
    async with running_publisher(None, render=publisher.render_kpis):
        comm = communicator()
        assert (await comm.connect(timeout=5))[0]
        await comm.receive_json_from()
        update, quote = await _update_with_quote(comm)
        await comm.disconnect()

    def direct():
        services.clear_memos()  # a fresh valuation, not the publisher's memoised result
        return services.value_portfolio(demo_hedged, "GLD", with_scenarios=False)

    result = await sync_to_async(direct)()
    assert result["market"]["as_of"] == quote.as_of.isoformat()
    totals, hedge = result["totals"], result["hedge"]
    assert update["value"] == pytest.approx(totals["value"], rel=1e-9)
    assert update["pnl"] == pytest.approx(totals["pnl"], rel=1e-9)
    assert update["day_change"] == pytest.approx(totals["day_change"], rel=1e-9)
    assert update["greeks"]["delta_shares"] == pytest.approx(totals["greeks"]["delta_shares"])
    assert update["hedge"]["hedge_ratio"] == pytest.approx(hedge["hedge_ratio"])
    # The pushed KPI cards are the dashboard's partial with these numbers.
    assert 'id="kpi-value"' in update["kpis_html"]
    assert f"${totals['value']:,.0f}" in update["kpis_html"]
