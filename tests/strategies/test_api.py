"""/api/options and /api/strategies over a fake market: shapes, numbers and 4xx errors."""

from __future__ import annotations

import json
import math
from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from scipy.stats import norm

from strategies import ranked, services
from strategies.queries import StrategiesQuery
from strategies.schemas import OptionsOut, StrategiesOut
from tests.factories import DemoPortfolioFactory, PortfolioFactory, PositionFactory
from tests.strategies.conftest import AS_OF, EXPIRIES, SHARE_HEDGE_FAMILIES, SPOT, make_chain

pytestmark = pytest.mark.django_db


def error(resp, status: int, field: str | None) -> dict:
    assert resp.status_code == status, resp.content
    body = resp.json()["error"]
    assert body["field"] == field
    return body


def test_options_default_expiry_and_rows(client, fake_market) -> None:
    r = client.get("/api/options", {"symbol": "GLD"})
    assert r.status_code == 200, r.content
    body = r.json()
    assert [e["expiry"] for e in body["expiries"]] == [e.isoformat() for e in EXPIRIES]
    # Nearest expiry ≥ 7 days: the 4-day one is skipped.
    assert body["chain"]["expiry"] == EXPIRIES[1].isoformat()
    assert body["inputs"]["spot"] == SPOT
    rows = body["chain"]["rows"]
    atm = next(r for r in rows if r["strike"] == 250.0)
    c, p = atm["call"], atm["put"]
    assert c["mid"] == pytest.approx((c["bid"] + c["ask"]) / 2)
    assert 0.4 < c["delta"] < 0.65 and -0.6 < p["delta"] < -0.35
    assert 0.1 < c["iv"] < 0.4
    assert atm["parity"]["within_american_bounds"] is True
    chain = body["chain"]
    assert chain["expected_move"] == pytest.approx(
        SPOT * chain["atm_iv"] * math.sqrt(chain["t"]), abs=1e-3
    )
    itm_call = next(r for r in rows if r["strike"] == 230.0)["call"]
    assert itm_call["itm"] is True


def test_options_filters_and_expiry(client, fake_market) -> None:
    r = client.get(
        "/api/options", {"symbol": "gld", "expiry": EXPIRIES[3].isoformat(), "min_oi": 1000}
    )
    body = r.json()
    assert body["chain"]["expiry"] == EXPIRIES[3].isoformat()
    for row in body["chain"]["rows"]:
        for side in ("call", "put"):
            assert row[side] is None or row[side]["open_interest"] >= 1000


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [
        ({"symbol": "GLD", "expiry": "2025-13-01"}, 400, "expiry"),
        ({"symbol": "GLD", "expiry": "2025-06-07"}, 400, "expiry"),
        ({"symbol": "GLD", "min_oi": "-1"}, 400, "min_oi"),
        ({"symbol": "GLD", "max_spread_pct": "abc"}, 400, "max_spread_pct"),
        ({"symbol": "bad symbol!"}, 400, "symbol"),
        ({"symbol": "ZZZZ"}, 404, "symbol"),
    ],
)
def test_options_bad_params(client, fake_market, params, status, field) -> None:
    error(client.get("/api/options", params), status, field)


def test_strategies_sized_to_portfolio(client, fake_market) -> None:
    demo = DemoPortfolioFactory()
    PositionFactory(portfolio=demo, quantity=1000)
    r = client.get("/api/strategies", {"symbol": "GLD"})
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["portfolio"]["id"] == demo.pk
    assert body["holding_shares"] == 1000
    assert body["ranking"]["method"] == "cost_per_protection"
    fams = {c["family"] for c in body["candidates"]}
    assert fams >= SHARE_HEDGE_FAMILIES
    # Only expiries 7–400 days out.
    assert {c["expiry"] for c in body["candidates"]} == {e.isoformat() for e in EXPIRIES[1:]}
    put = next(
        c
        for c in body["candidates"]
        if c["family"] == "protective_put" and c["expiry"] == EXPIRIES[3].isoformat()
    )
    leg = put["legs"][1]
    assert leg["quantity"] == 10 and leg["price"] == leg["ask"]
    k, prem = leg["strike"], leg["price"]
    assert put["floor_value"] == pytest.approx(1000 * (k - prem), abs=0.01)
    assert put["breakevens"] == [pytest.approx(SPOT + prem, abs=1e-6)]
    # Probability of ending below the strike, by the closed form under the stated model.
    vol, t, r_ = put["vol"], put["t"], body["inputs"]["rate"]
    d2 = (math.log(SPOT / k) + (r_ - vol**2 / 2) * t) / (vol * math.sqrt(t))
    assert put["prob_floor"] == pytest.approx(norm.cdf(-d2), abs=1e-6)  # vol, t rounded
    ranks = [c["rank"] for c in body["candidates"]]
    assert ranks == list(range(1, len(ranks) + 1))


def test_strategies_filters_and_mid(client, fake_market) -> None:
    r = client.get(
        "/api/strategies",
        {
            "symbol": "GLD",
            "expiry": EXPIRIES[2].isoformat(),
            "min_floor_pct": 90,
            "max_cost_pct": 2,
            "price": "mid",
            "rank": "floor",
        },
    )
    body = r.json()
    assert r.status_code == 200, body
    assert body["holding_shares"] == 0 and body["candidates"]
    floors = [c["floor_pct"] for c in body["candidates"]]
    assert floors == sorted(floors, reverse=True) and min(floors) >= 90
    for c in body["candidates"]:
        assert c["net_debit_pct"] <= 2
        for leg in c["legs"][1:]:
            assert leg["price"] == pytest.approx((leg["bid"] + leg["ask"]) / 2, abs=1e-4)


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [
        ({"price": "best"}, 400, "price"),
        ({"rank": "magic"}, 400, "rank"),
        ({"portfolio": "abc"}, 400, "portfolio"),
        ({"portfolio": "0"}, 400, "portfolio"),
        ({"portfolio": "999999"}, 404, "portfolio"),
        ({"max_cost_pct": "nan"}, 400, "max_cost_pct"),
        ({"expiry": "2030-01-01"}, 400, "expiry"),
        ({"symbol": "QQQQ"}, 404, "symbol"),
    ],
)
def test_strategies_bad_params(client, fake_market, params, status, field) -> None:
    error(client.get("/api/strategies", {"symbol": "GLD", **params}), status, field)


def test_foreign_portfolio_is_404(client, fake_market) -> None:
    other = PortfolioFactory()
    error(client.get("/api/strategies", {"portfolio": other.pk}), 404, "portfolio")


def test_payoff_endpoint(client, fake_market) -> None:
    body = client.get("/api/strategies", {"symbol": "GLD"}).json()
    cand = next(c for c in body["candidates"] if c["family"] == "collar")
    r = client.get("/api/strategies/payoff", {"candidate": cand["id"], "days": 10})
    assert r.status_code == 200, r.content
    p = r.json()
    assert len(p["grid"]) == len(p["expiry_pnl"]) and len(p["curves"]) == 2
    assert len(p["heatmap"]["pnl"]) == len(p["heatmap"]["prices"])
    assert p["model"] == "american"
    eu = client.get(
        "/api/strategies/payoff", {"candidate": cand["id"], "days": 10, "model": "european"}
    ).json()
    assert eu["model"] == "bsm" and eu["expiry_pnl"] == p["expiry_pnl"]
    error(
        client.get("/api/strategies/payoff", {"candidate": cand["id"], "model": "x"}), 400, "model"
    )
    error(client.get("/api/strategies/payoff", {"candidate": "junk"}), 400, "candidate")
    error(
        client.get("/api/strategies/payoff", {"candidate": "2025-07-18:collar:pX"}),
        404,
        "candidate",
    )


def test_evaluate_custom_put_spread(client, fake_market) -> None:
    exp = EXPIRIES[2].isoformat()
    legs = [
        {"side": "buy", "right": "P", "strike": 250, "expiry": exp, "quantity": 2},
        {"side": "sell", "right": "P", "strike": 230, "expiry": exp, "quantity": 2},
    ]
    r = client.post(
        "/api/strategies/evaluate", {"symbol": "GLD", "legs": legs}, content_type="application/json"
    )
    assert r.status_code == 200, r.content
    s = r.json()["strategy"]
    lp, sp = s["legs"]
    debit = (lp["ask"] - sp["bid"]) * 200
    assert s["net_debit"] == pytest.approx(debit, abs=0.01)
    assert s["max_gain"] == pytest.approx(20 * 200 - debit, abs=0.01)
    assert s["max_loss"] == pytest.approx(debit, abs=0.01)


@pytest.mark.parametrize(
    ("leg", "field"),
    [
        ({"side": "hold"}, "legs.0.side"),
        ({"right": "X"}, "legs.0.right"),
        ({"strike": -5}, "legs.0.strike"),
        ({"strike": 251}, "legs.0.strike"),
        ({"expiry": "2025-06-07"}, "legs.0.expiry"),
        ({"quantity": 0}, "legs.0.quantity"),
    ],
)
def test_evaluate_invalid_legs(client, fake_market, leg, field) -> None:
    base = {
        "side": "buy",
        "right": "P",
        "strike": 250,
        "expiry": EXPIRIES[2].isoformat(),
        "quantity": 1,
    }
    r = client.post(
        "/api/strategies/evaluate",
        {"symbol": "GLD", "legs": [{**base, **leg}]},
        content_type="application/json",
    )
    error(r, 400, field)


def test_evaluate_rejects_mixed_expiries_and_garbage(client, fake_market) -> None:
    legs = [
        {"side": "buy", "right": "P", "strike": 250, "expiry": e.isoformat()} for e in EXPIRIES[1:3]
    ]
    r = client.post(
        "/api/strategies/evaluate", {"symbol": "GLD", "legs": legs}, content_type="application/json"
    )
    error(r, 400, "legs")
    r = client.post("/api/strategies/evaluate", "not json", content_type="application/json")
    assert r.status_code == 400


def test_openapi_documents_routes(client) -> None:
    doc = client.get("/api/openapi.json").json()
    for path in (
        "/api/options",
        "/api/strategies",
        "/api/strategies/payoff",
        "/api/strategies/evaluate",
    ):
        assert path in doc["paths"], path
    assert "CandidateOut" in doc["components"]["schemas"]


# --- serialised bodies, cached per chain snapshot -----------------------------------------------

BODY_CASES = [
    ("/api/options", {"symbol": "GLD"}),
    ("/api/options", {"symbol": "GLD", "expiry": EXPIRIES[3].isoformat(), "min_oi": 500}),
    ("/api/strategies", {"symbol": "GLD"}),
    ("/api/strategies", {"symbol": "GLD", "price": "mid", "rank": "cap", "limit": 5}),
]


@pytest.mark.parametrize(("path", "params"), BODY_CASES)
def test_cached_bodies_match_the_schema_and_the_uncached_payload(
    client, fake_market, path, params
) -> None:
    DemoPortfolioFactory(name="Demo")
    body = client.get(path, params).json()
    schema = OptionsOut if path == "/api/options" else StrategiesOut
    # Nothing the schema does not declare, nothing it would coerce differently.
    assert schema.model_validate(body).model_dump(mode="json") == body
    if path == "/api/options":
        payload = services.options_payload(
            "GLD", params.get("expiry"), params.get("min_oi"), params.get("max_spread_pct")
        )
    else:
        query = StrategiesQuery.model_validate(params)
        payload = ranked.strategies_payload(AnonymousUser(), query)
    assert json.loads(json.dumps(payload)) == body


def test_bodies_are_built_once_per_snapshot_with_fresh_inputs(
    client, fake_market, monkeypatch
) -> None:
    built = {"options": 0, "strategies": 0}
    options_payload, strategies_rest = services.options_payload, ranked._strategies_rest

    def count_options(*args, **kwargs):
        built["options"] += 1
        return options_payload(*args, **kwargs)

    def count_strategies(*args, **kwargs):
        built["strategies"] += 1
        return strategies_rest(*args, **kwargs)

    monkeypatch.setattr(services, "options_payload", count_options)
    monkeypatch.setattr(ranked, "_strategies_rest", count_strategies)
    monkeypatch.setattr(services, "_bodies", type(services._bodies)(64))
    monkeypatch.setattr(ranked, "_bodies", type(ranked._bodies)(64))
    first = client.get("/api/options", {"symbol": "GLD"}).json()
    client.get("/api/strategies", {"symbol": "GLD"})
    # The same chain served stale and older: only the inputs block changes.
    fresh_chain = fake_market._chain
    fake_market._chain = fresh_chain.with_staleness(True, 42.0)
    stale = client.get("/api/options", {"symbol": "GLD"}).json()
    client.get("/api/strategies", {"symbol": "GLD"})
    assert built == {"options": 1, "strategies": 1}
    assert (first["inputs"]["stale"], stale["inputs"]["stale"]) == (False, True)
    assert stale["inputs"]["age_s"] == 42.0
    assert {k: v for k, v in stale.items() if k != "inputs"} == {
        k: v for k, v in first.items() if k != "inputs"
    }
    # A refreshed chain (new time and spot) is a new snapshot: rebuilt, new numbers.
    fake_market._chain = make_chain(spot=SPOT + 5, as_of=AS_OF + timedelta(minutes=5))
    refreshed = client.get("/api/options", {"symbol": "GLD"}).json()
    assert built["options"] == 2
    assert refreshed["inputs"]["spot"] == SPOT + 5
    atm = next(r for r in refreshed["chain"]["rows"] if r["strike"] == 250.0)
    old_atm = next(r for r in first["chain"]["rows"] if r["strike"] == 250.0)
    assert atm["call"]["delta"] > old_atm["call"]["delta"]  # spot rose


def test_strategies_body_follows_the_holding(client, fake_market) -> None:
    demo = DemoPortfolioFactory(name="Demo")
    holding = PositionFactory(portfolio=demo, quantity=1000)
    before = client.get("/api/strategies", {"symbol": "GLD"}).json()
    holding.quantity = 1500
    holding.save()
    after = client.get("/api/strategies", {"symbol": "GLD"}).json()
    assert (before["holding_shares"], after["holding_shares"]) == (1000, 1500)
    put = next(c for c in after["candidates"] if c["family"] == "protective_put")
    assert sum(leg["quantity"] for leg in put["legs"] if leg["kind"] == "put") == 15
