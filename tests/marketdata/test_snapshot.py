"""The dashboard and the strategies pages price from one market snapshot.

A real synthetic market whose clock moves: when the chain refreshes, the portfolio valuation,
the option chain and the hedge candidates all move to the new chain together, and a held
contract's volatility in the valuation is the implied vol the chain API shows for it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from market.providers.synthetic import SyntheticProvider
from market.service import MarketService
from marketdata import snapshot
from portfolio.models import Position
from tests.factories import PortfolioFactory, PositionFactory, UserFactory
from tests.support.market import DictCache, use_market_service

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 4, 15, 30, tzinfo=UTC)


@pytest.fixture
def moving_market():
    now = [START]
    clock = lambda: now[0]  # noqa: E731
    wall = lambda: now[0].timestamp()  # noqa: E731
    svc = MarketService(
        SyntheticProvider(seed=11, clock=clock),
        DictCache(wall),
        chain_ttl=300,
        quote_ttl=5,
        wall_clock=wall,
    )
    with use_market_service(svc):
        yield now, svc


def _held_put(svc):
    chain = svc.chain("GLD")
    expiry = sorted(chain.expiries)[3]
    strikes = sorted({float(k) for k in chain.strike})
    strike = min(strikes, key=lambda k: abs(k - 0.93 * float(chain.spot)))
    return expiry, strike


def _views(client, pid, expiry):
    port = client.get("/api/portfolio", {"portfolio": pid}).json()
    opts = client.get("/api/options", {"symbol": "GLD", "expiry": expiry.isoformat()}).json()
    strat = client.get("/api/strategies", {"portfolio": pid, "limit": 3}).json()
    return port, opts, strat


def test_every_view_moves_to_a_refreshed_chain_together(client, moving_market) -> None:
    now, svc = moving_market
    expiry, strike = _held_put(svc)
    owner = UserFactory()
    portfolio = PortfolioFactory(owner=owner)
    PositionFactory(portfolio=portfolio, quantity=Decimal(500))
    PositionFactory(
        portfolio=portfolio,
        kind=Position.Kind.OPTION,
        quantity=Decimal(5),
        cost_basis=Decimal("3"),
        expiry=expiry,
        strike=Decimal(str(strike)),
        right="P",
    )
    client.force_login(owner)

    chain_times = []
    for step in range(2):
        port, opts, strat = _views(client, portfolio.pk, expiry)
        chain_as_of = port["market"]["chain_as_of"]
        assert opts["inputs"]["as_of"] == chain_as_of == strat["inputs"]["as_of"]
        chain_times.append(chain_as_of)

        held = next(p for p in port["positions"] if p["kind"] == "option")
        assert held["inputs"]["vol_source"] == "chain_iv"
        row = next(r for r in opts["chain"]["rows"] if r["strike"] == strike)
        assert held["inputs"]["vol"] == pytest.approx(row["put"]["iv"], abs=1e-6)
        assert held["inputs"]["bid"] == row["put"]["bid"]
        assert held["inputs"]["ask"] == row["put"]["ask"]

        if step == 0:
            now[0] += timedelta(seconds=301)  # past CACHE_TTL: the chain refreshes
    assert chain_times[1] > chain_times[0]


def test_one_key_identifies_a_chain_snapshot(moving_market) -> None:
    now, _ = moving_market
    first = snapshot.load("GLD")
    again = snapshot.load("GLD", quote=False)
    assert first.chain_key == again.chain_key
    assert first.chain is not None and first.quote is not None
    assert first.chain_inputs.spot == float(first.chain.spot)
    assert first.valuation_inputs.spot == float(first.quote.spot)
    now[0] += timedelta(seconds=10)  # the quote refreshes, the chain does not
    later = snapshot.load("GLD")
    assert later.chain_key == first.chain_key and later.key != first.key
    now[0] += timedelta(seconds=300)
    assert snapshot.load("GLD").chain_key != first.chain_key
