from __future__ import annotations

import pytest
from django.test import override_settings

from portfolio.schemas import PortfolioOut
from tests.factories import (
    PortfolioFactory,
    PositionFactory,
    UserFactory,
)
from tests.portfolio.fakes import SPOT

pytestmark = pytest.mark.django_db
URL = "/api/portfolio"


def error(resp, status, code, field=None):
    assert resp.status_code == status, resp.content
    assert resp["Content-Type"].startswith("application/json")
    body = resp.json()["error"]
    assert body["code"] == code
    assert body["field"] == field
    return body


def test_anonymous_gets_the_demo_valuation(client, fake_market, demo):
    resp = client.get(URL, {"symbol": "GLD"})
    assert resp.status_code == 200
    body = resp.json()
    PortfolioOut.model_validate(body)  # matches the documented schema
    assert body["portfolio"]["id"] == demo.pk
    assert body["market"]["spot"] == SPOT
    assert body["market"]["as_of"] == "2026-04-06T20:00:00+00:00"
    assert body["totals"]["value"] == pytest.approx(sum(p["value"] for p in body["positions"]))
    put = next(p for p in body["positions"] if p["kind"] == "option")
    for key in ("spot", "strike", "t", "rate", "div_yield", "vol", "vol_source", "model"):
        assert put["inputs"][key] is not None
    assert body["hedge"]["floor"]["floor_value"] == pytest.approx(180_000)
    assert len(body["scenarios"]["spot_vol"]["value"]) == 5
    assert resp["Cache-Control"] == "private, no-store"


def test_symbol_defaults_to_the_portfolio_and_is_normalised(client, fake_market, demo):
    assert client.get(URL).json()["symbol"] == "GLD"
    assert client.get(URL, {"symbol": " gld "}).json()["symbol"] == "GLD"


@pytest.mark.parametrize("symbol", ["bad symbol", "$$$", "A" * 11, "X" * 21, "GLD;DROP"])
def test_bad_symbol_is_400(client, fake_market, demo, symbol):
    error(
        client.get(URL, {"symbol": symbol}),
        400,
        *(("invalid", "symbol") if len(symbol) > 20 else ("invalid_symbol", "symbol")),
    )


def test_unknown_symbol_is_404(client, fake_market, demo):
    error(client.get(URL, {"symbol": "ZZZZ"}), 404, "unknown_symbol", "symbol")


def test_provider_down_is_503(client, fake_market, demo):
    fake_market.down = True
    body = error(client.get(URL, {"symbol": "GLD"}), 503, "provider_unavailable")
    assert "unavailable" in body["message"]


@pytest.mark.parametrize("value", ["abc", "0", "-1", "1.5", str(2**64), ""])
def test_bad_portfolio_id_is_400(client, fake_market, demo, value):
    error(client.get(URL, {"portfolio": value}), 400, "invalid", "portfolio")


def test_unknown_and_foreign_portfolios_are_404(client, fake_market, demo):
    alice, bob = UserFactory(), UserFactory()
    private = PortfolioFactory(owner=alice)
    PositionFactory(portfolio=private, quantity=7)
    error(client.get(URL, {"portfolio": 999999}), 404, "not_found", "portfolio")
    error(client.get(URL, {"portfolio": private.pk}), 404, "not_found", "portfolio")
    client.force_login(bob)
    error(client.get(URL, {"portfolio": private.pk}), 404, "not_found", "portfolio")
    # bob has no portfolio of his own: he sees the demo, never alice's
    assert client.get(URL).json()["portfolio"]["id"] == demo.pk
    client.force_login(alice)
    body = client.get(URL).json()
    assert body["portfolio"]["id"] == private.pk
    assert body["hedge"]["shares"] == 7
    assert client.get(URL, {"portfolio": private.pk}).status_code == 200


@pytest.mark.parametrize("value", ["2020-01-01", "2999-01-01", "not-a-date"])
def test_bad_scenario_date_is_400(client, fake_market, demo, value):
    resp = client.get(URL, {"date": value})
    assert resp.status_code == 400
    assert resp.json()["error"]["field"] == "date"


@override_settings(LOGIN_REQUIRED=True)
def test_login_required_in_production(client, fake_market, demo):
    error(client.get(URL), 401, "unauthorized")
    client.force_login(UserFactory())
    assert client.get(URL).status_code == 200


def test_no_portfolio_at_all_still_answers(client, fake_market):
    body = client.get(URL, {"symbol": "GLD"}).json()
    assert body["portfolio"] is None
    assert body["totals"]["value"] == 0
    assert body["hedge"]["hedge_ratio"] is None


def test_openapi_documents_the_endpoint(client):
    doc = client.get("/api/openapi.json").json()
    op = doc["paths"]["/api/portfolio"]["get"]
    assert {"200", "400", "401", "404", "503"} <= set(op["responses"])
    params = {p["name"] for p in op["parameters"]}
    assert {"symbol", "portfolio", "date"} <= params
    assert "PortfolioOut" in doc["components"]["schemas"]


def test_warm_request_runs_no_query(client, fake_market, demo, django_assert_num_queries):
    first = client.get(URL, {"symbol": "GLD"}).content
    with django_assert_num_queries(0):
        again = client.get(URL, {"symbol": "GLD"}).content
    assert again == first
    # a position change is seen by the next request
    PositionFactory(portfolio=demo, kind="physical", quantity=10, units_per_share=0.1)
    assert client.get(URL, {"symbol": "GLD"}).json()["hedge"]["shares"] == 1100
