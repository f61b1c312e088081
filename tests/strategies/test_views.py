"""Pages: full vs HTMX partial, errors without 500s, ownership, and adopt in one transaction."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import override_settings

from portfolio.models import Position
from strategies.models import AdoptedHedge
from tests.factories import DemoPortfolioFactory, PortfolioFactory, PositionFactory, UserFactory
from tests.strategies.conftest import EXPIRIES

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


def test_chain_page_full_and_partial(client, fake_market) -> None:
    r = client.get("/options/", {"symbol": "GLD"})
    assert r.status_code == 200
    html = r.content.decode()
    assert "<html" in html and 'id="chain-table"' in html and 'id="iv-smile"' in html
    assert 'id="iv-term"' in html
    assert r["Vary"] and "HX-Request" in r["Vary"]
    exp = EXPIRIES[3].isoformat()
    r = client.get("/options/", {"symbol": "GLD", "expiry": exp}, **HX)
    html = r.content.decode()
    assert "<html" not in html and f'data-expiry="{exp}"' in html
    # A history restore gets the full page.
    r = client.get("/options/", {"symbol": "GLD"}, HTTP_HX_HISTORY_RESTORE_REQUEST="true", **HX)
    assert "<html" in r.content.decode()


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"symbol": "GLD", "expiry": "2020-01-01"}, 400),
        ({"symbol": "GLD", "min_oi": "x"}, 400),
        ({"symbol": "NOPE"}, 404),
        ({"symbol": "<script>"}, 400),
    ],
)
def test_chain_page_errors(client, fake_market, params, status) -> None:
    r = client.get("/options/", params)
    assert r.status_code == status
    assert "<script>" not in r.content.decode().split("<main", 1)[1]


def test_strategies_page_payoff_compare(client, fake_market) -> None:
    demo = DemoPortfolioFactory()
    PositionFactory(portfolio=demo, quantity=500)
    r = client.get("/strategies/", {"symbol": "GLD"})
    assert r.status_code == 200
    html = r.content.decode()
    assert 'id="strategies-table"' in html and 'id="payoff-chart"' in html
    assert 'id="pnl-heatmap"' in html and "Ranked by" in html
    api = client.get("/api/strategies", {"symbol": "GLD"}).json()
    ids = [c["id"] for c in api["candidates"][:5]]
    r = client.get("/strategies/", [("symbol", "GLD"), *(("compare", i) for i in ids)], **HX)
    html = r.content.decode()
    assert 'id="comparison"' in html and "<html" not in html
    assert html.count("compare ") >= 5
    r = client.get(
        "/strategies/", {"symbol": "GLD", "selected": ids[2], "panel": "payoff", "days": 5}, **HX
    )
    html = r.content.decode()
    assert html.lstrip().startswith('<section class="card" id="payoff-panel"')
    assert "+5 days" in html


def test_strategies_page_bad_input_is_4xx(client, fake_market) -> None:
    assert client.get("/strategies/", {"price": "free"}).status_code == 400
    assert client.get("/strategies/", {"selected": "garbage"}).status_code == 400
    other = PortfolioFactory()
    assert client.get("/strategies/", {"portfolio": other.pk}).status_code == 404


def test_builder_add_and_remove_leg(client, fake_market) -> None:
    r = client.get("/strategies/builder/", {"symbol": "GLD", "add": "1"}, **HX)
    html = r.content.decode()
    assert r.status_code == 200 and 'id="leg-0"' in html and 'id="payoff-chart"' in html
    exp = EXPIRIES[2].isoformat()
    q = [
        ("symbol", "GLD"),
        ("side", "buy"),
        ("right", "P"),
        ("strike", "250"),
        ("expiry", exp),
        ("qty", "1"),
        ("side", "sell"),
        ("right", "P"),
        ("strike", "230"),
        ("expiry", exp),
        ("qty", "1"),
    ]
    html = client.get("/strategies/builder/", q, **HX).content.decode()
    assert 'id="leg-1"' in html and 'id="m-max-gain"' in html
    html = client.get("/strategies/builder/", [*q, ("remove", "1")], **HX).content.decode()
    assert 'id="leg-1"' not in html and 'id="leg-0"' in html
    bad = client.get("/strategies/builder/", [*q[:5], ("qty", "0")], **HX)
    assert 'data-field="legs.0.quantity"' in bad.content.decode()


def _adopt_token(client, portfolio=None, cid: str | None = None) -> tuple[str, dict]:
    params = {"symbol": "GLD"}
    if portfolio is not None:
        params["portfolio"] = portfolio.pk
    api = client.get("/api/strategies", params).json()
    cand = next(
        c for c in api["candidates"] if (c["id"] == cid if cid else c["family"] == "collar")
    )
    r = client.get("/strategies/adopt/", {**params, "candidate": cand["id"]})
    assert r.status_code == 200, r.content
    html = r.content.decode()
    token = html.split('name="token" value="', 1)[1].split('"', 1)[0]
    return token, cand


def test_adopt_adds_positions_and_records(client, fake_market, today_is_as_of) -> None:
    demo = DemoPortfolioFactory()
    PositionFactory(portfolio=demo, quantity=1000)
    token, cand = _adopt_token(client)
    r = client.post("/strategies/adopt/", {"token": token})
    assert r.status_code == 302 and "/?" in r["Location"]
    opts = Position.objects.filter(portfolio=demo, kind=Position.Kind.OPTION)
    assert opts.count() == 2
    put = opts.get(right="P")
    leg = next(lg for lg in cand["legs"] if lg["kind"] == "put")
    assert put.quantity == 10 and put.cost_basis == Decimal(str(leg["price"]))
    call = opts.get(right="C")
    assert call.quantity == -10
    rec = AdoptedHedge.objects.get()
    assert rec.portfolio == demo and rec.positions.count() == 2 and rec.adopted_at
    assert rec.net_premium == pytest.approx(cand["net_debit"], abs=0.01)
    # A new confirmation of the same legs adds to the same open positions (no duplicate
    # instrument); on the whole book the ranking has moved, so the candidate is named.
    again, _ = _adopt_token(client, cid=cand["id"])
    client.post("/strategies/adopt/", {"token": again})
    assert Position.objects.get(pk=put.pk).quantity == 20
    assert AdoptedHedge.objects.count() == 2


def test_a_confirmation_is_used_once(client, fake_market, today_is_as_of) -> None:
    """Posting one confirmation three times (a retry, a double-click) adopts once."""
    demo = DemoPortfolioFactory()
    PositionFactory(portfolio=demo, quantity=1000)
    token, _ = _adopt_token(client)
    answers = [client.post("/strategies/adopt/", {"token": token}, follow=True) for _ in range(3)]
    assert all(a.status_code == 200 for a in answers)
    opts = Position.objects.filter(portfolio=demo, kind=Position.Kind.OPTION)
    assert sorted(int(p.quantity) for p in opts) == [-10, 10]
    assert AdoptedHedge.objects.count() == 1
    # The repeats show the first result and say nothing more was added.
    for repeat in answers[1:]:
        assert "already adopted" in repeat.content.decode()
    assert "already adopted" not in answers[0].content.decode()


def test_adopt_is_all_or_nothing(client, fake_market, monkeypatch, today_is_as_of) -> None:
    demo = DemoPortfolioFactory()
    token, _ = _adopt_token(client)
    from strategies import models as smodels

    def boom(*a, **k):
        raise RuntimeError("db down")

    monkeypatch.setattr(smodels.AdoptedHedge.objects, "create", boom)
    with pytest.raises(RuntimeError):
        client.post("/strategies/adopt/", {"token": token})
    assert not Position.objects.filter(portfolio=demo).exists()


def test_adopt_rejects_tampering_and_foreign_portfolios(client, fake_market) -> None:
    DemoPortfolioFactory()
    token, _ = _adopt_token(client)
    r = client.post("/strategies/adopt/", {"token": token[:-3] + "abc"})
    assert r.status_code == 400 and not Position.objects.exists()
    owner = UserFactory()
    theirs = PortfolioFactory(owner=owner)
    intruder = UserFactory()
    client.force_login(intruder)
    r = client.get(
        "/strategies/adopt/", {"symbol": "GLD", "portfolio": theirs.pk, "candidate": "x"}
    )
    assert r.status_code == 404


def test_adopt_needs_csrf(fake_market) -> None:
    from django.test import Client

    DemoPortfolioFactory()
    c = Client(enforce_csrf_checks=True)
    token, _ = _adopt_token(c)
    assert c.post("/strategies/adopt/", {"token": token}).status_code == 403


@override_settings(LOGIN_REQUIRED=True)
def test_login_required_in_production(client, fake_market) -> None:
    for url in ("/options/", "/strategies/", "/strategies/builder/", "/strategies/adopt/"):
        r = client.get(url)
        assert r.status_code == 302 and "login" in r["Location"]
    assert client.get("/api/strategies").status_code == 401


def test_adoption_history_is_listed(client, fake_market, today_is_as_of) -> None:
    demo = DemoPortfolioFactory()
    token, cand = _adopt_token(client)
    client.post("/strategies/adopt/", {"token": token})
    html = client.get("/strategies/", {"symbol": "GLD"}).content.decode()
    assert 'id="adoptions"' in html and cand["name"] in html
    assert AdoptedHedge.objects.filter(portfolio=demo).count() == 1


@pytest.mark.parametrize(
    "params",
    [
        {"symbol": "GLD"},
        {"symbol": "GLD", "rank": "floor", "price": "mid"},
        {"symbol": "GLD", "rank": "cost", "max_cost_pct": "1.5", "min_floor_pct": "80"},
    ],
)
def test_strategies_page_ranks_like_the_api(client, fake_market, params) -> None:
    """The page and the API read one query schema and one ranking: same candidates, same order."""
    import re

    demo = DemoPortfolioFactory()
    PositionFactory(portfolio=demo, quantity=700)
    api = client.get("/api/strategies", params).json()
    html = client.get("/strategies/", params).content.decode()
    shown = re.findall(r'<tr id="cand-\d+" data-id="([^"]+)"', html)
    expected = [c["id"] for c in api["candidates"]]
    assert shown and shown == expected[: len(shown)]
    assert api["holding_shares"] == 700


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("rank", "cost_per_protection_x"),
        ("max_cost_pct", "101"),
        ("min_floor_pct", "-1"),
        ("limit", "0"),
    ],
)
def test_strategies_page_and_api_refuse_the_same_values(client, fake_market, field, value) -> None:
    page = client.get("/strategies/", {"symbol": "GLD", field: value})
    api = client.get("/api/strategies", {"symbol": "GLD", field: value})
    assert page.status_code == api.status_code == 400
    assert api.json()["error"]["field"] == field
    assert field in page.content.decode()


def test_candidates_page_in_steps_and_says_how_many_are_shown(client, fake_market) -> None:
    import re

    from strategies.views import TABLE_ROWS

    html = client.get("/strategies/", {"symbol": "GLD"}).content.decode()
    found = re.search(r"of (\d+) candidates pass the filters", html)
    assert found
    total = int(found.group(1))
    rows = len(re.findall(r'<tr id="cand-\d+"', html))
    assert rows == min(TABLE_ROWS, total)
    assert f"{rows} of {total} candidates shown" in html
    if total > TABLE_ROWS:
        more = client.get("/strategies/", {"symbol": "GLD", "limit": str(total)}).content.decode()
        assert len(re.findall(r'<tr id="cand-\d+"', more)) == total
        assert f"{total} of {total} candidates shown" in more
    # Rank keys are shown by their labels.
    assert ">Cost per point of protection</option>" in html


def test_builder_presets_are_sized_and_the_zero_cost_collar_pays_for_itself(
    client, fake_market
) -> None:
    import math
    import re

    import numpy as np

    from strategies import presets

    chain = fake_market.chain("GLD")
    spot = float(chain.spot)
    expiry = EXPIRIES[2]
    found = {p.key: p for p in presets.presets(chain, expiry, spot, 1000)}
    assert set(found) == {"protective_put", "collar", "zero_cost_collar", "put_spread"}
    assert all(leg["qty"] == "10" for p in found.values() for leg in p.legs)
    put, call = found["zero_cost_collar"].legs
    m = np.asarray(chain.expiry).astype("datetime64[D]") == np.datetime64(expiry, "D")

    def quote(right: bool, k: float) -> tuple[float, float]:
        i = np.flatnonzero(m & (np.asarray(chain.is_call) == right) & np.isclose(chain.strike, k))[
            0
        ]
        return float(chain.bid[i]), float(chain.ask[i])

    put_ask = quote(False, float(put["strike"]))[1]
    gap = abs(quote(True, float(call["strike"]))[0] - put_ask)
    others = [
        abs(float(b) - put_ask)
        for b, k, c in zip(
            np.asarray(chain.bid)[m],
            np.asarray(chain.strike)[m],
            np.asarray(chain.is_call)[m],
            strict=True,
        )
        if c and k > spot and math.isfinite(b)
    ]
    assert gap == min(others)  # no listed call pays for the put more exactly
    assert float(found["protective_put"].legs[0]["strike"]) < spot
    html = client.get("/strategies/builder/", {"symbol": "GLD"}).content.decode()
    assert len(re.findall(r'id="preset-[a-z_]+"', html)) == 4
