"""The API answers byte-for-byte what was recorded, at a fixed market seed and clock.

The synthetic provider is deterministic for a (seed, clock); with the wall clock and Django's
``timezone.now`` pinned too, every ``/api`` body is a pure function of the code. The recorded
bodies under ``tests/golden/`` were written before the issue-19 reorganisation, so this test
proves that moving code between modules changed no number and no key.

A deliberate change of a response is recorded again with ``VAULT_RECORD_GOLDEN=1`` (the diff
of ``tests/golden/`` then shows exactly what changed, for review).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from portfolio.models import Position
from tests.factories import PortfolioFactory, PositionFactory, UserFactory
from tests.support.clock import freeze
from tests.support.market import synthetic_service, use_market_service

# Sequences start at 1 on every database, so ids in the bodies match on SQLite and PostgreSQL.
pytestmark = pytest.mark.django_db(transaction=True, reset_sequences=True)

GOLDEN = Path(__file__).parent / "golden"
RECORD = os.environ.get("VAULT_RECORD_GOLDEN") == "1"
NOW = datetime(2026, 3, 4, 15, 30, tzinfo=UTC)  # a Wednesday, mid-session in New York


@pytest.fixture
def frozen_market(monkeypatch):
    freeze(monkeypatch, NOW)
    svc = synthetic_service(NOW)
    with use_market_service(svc):
        yield svc


@pytest.fixture
def book(frozen_market):
    """1,000 GLD, 10 long puts ~10 % out of the money and 5 short calls, at listed contracts."""
    chain = frozen_market.chain("GLD")
    expiry = sorted(chain.expiries)[4]
    strikes = sorted({float(k) for k in chain.strike})
    spot = float(chain.spot)
    put_k = min(strikes, key=lambda k: abs(k - 0.9 * spot))
    call_k = min(strikes, key=lambda k: abs(k - 1.1 * spot))
    owner = UserFactory(username="golden")
    portfolio = PortfolioFactory(owner=owner, name="Golden")
    PositionFactory(portfolio=portfolio, quantity=Decimal(1000), cost_basis=Decimal("180.00"))
    for right, strike, qty, cost in (("P", put_k, 10, "4.10"), ("C", call_k, -5, "3.20")):
        PositionFactory(
            portfolio=portfolio,
            kind=Position.Kind.OPTION,
            quantity=Decimal(qty),
            cost_basis=Decimal(cost),
            expiry=expiry,
            strike=Decimal(str(strike)),
            right=right,
            opened_on=NOW.date(),
        )
    return {"owner": owner, "portfolio": portfolio, "expiry": expiry, "put_k": put_k}


def _check(name: str, body: bytes) -> None:
    path = GOLDEN / f"{name}.json"
    text = json.dumps(json.loads(body), indent=1, sort_keys=True) + "\n"
    if RECORD:
        path.write_text(text)
    assert path.exists(), f"{path} not recorded (VAULT_RECORD_GOLDEN=1)"
    assert text == path.read_text(), f"{name}: the response changed"


def test_recorded_responses(client, book) -> None:
    client.force_login(book["owner"])
    pid = book["portfolio"].pk
    expiry = book["expiry"].isoformat()
    gets = {
        "portfolio": ("/api/portfolio", {"symbol": "GLD", "portfolio": pid}),
        "portfolio_dated": (
            "/api/portfolio",
            {"symbol": "GLD", "portfolio": pid, "date": "2026-05-01"},
        ),
        "options": ("/api/options", {"symbol": "GLD"}),
        "options_filtered": (
            "/api/options",
            {"symbol": "GLD", "expiry": expiry, "min_oi": 50, "max_spread_pct": 25},
        ),
        "strategies": ("/api/strategies", {"symbol": "GLD", "portfolio": pid}),
        "strategies_ranked": (
            "/api/strategies",
            {"symbol": "GLD", "portfolio": pid, "rank": "floor", "price": "mid", "limit": 7},
        ),
        "strategies_expiry": (
            "/api/strategies",
            {"symbol": "GLD", "portfolio": pid, "expiry": expiry, "max_cost_pct": 3},
        ),
        "rolls": ("/api/rolls", {"symbol": "GLD", "portfolio": pid, "limit": 8}),
    }
    seen: dict[str, dict] = {}
    for name, (url, params) in gets.items():
        r = client.get(url, params)
        assert r.status_code == 200, (name, r.content[:300])
        _check(name, r.content)
        seen[name] = r.json()

    first = seen["strategies_expiry"]["candidates"][0]
    r = client.get(
        "/api/strategies/payoff",
        {"symbol": "GLD", "portfolio": pid, "candidate": first["id"], "days": 30, "iv_shift": 2},
    )
    assert r.status_code == 200, r.content[:300]
    _check("payoff", r.content)

    legs = [
        {"side": "buy", "right": "P", "strike": book["put_k"], "expiry": expiry, "quantity": 10},
        {
            "side": "sell",
            "right": "C",
            "strike": first["legs"][-1]["strike"] or book["put_k"],
            "expiry": expiry,
            "quantity": 10,
        },
    ]
    r = client.post(
        "/api/strategies/evaluate",
        {"symbol": "GLD", "portfolio": pid, "legs": legs, "include_holding": True, "days": [15]},
        content_type="application/json",
    )
    assert r.status_code == 200, r.content[:300]
    _check("evaluate", r.content)
