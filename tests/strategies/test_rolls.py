"""Roll candidates: prices against QuantLib, floors against a brute-force payoff, the
single-use confirmation and its ledger trades, the page and the API."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import numpy as np
import pytest
from django.urls import reverse
from django.utils.html import escape

from market import calendar
from portfolio import services as portfolio_services
from portfolio.models import Position, Trade
from strategies import roll_service, rolls
from strategies import services as strategy_services
from strategies.models import HedgeRoll
from strategies.roll_schemas import RollQuoteOut, RollsOut
from tests.factories import OptionPositionFactory, PortfolioFactory, PositionFactory, UserFactory
from tests.portfolio.fakes import AS_OF, EXPIRIES, SPOT, TODAY, FakeMarket, ql_price, surface_vol

HALF_SPREAD = 0.05  # the fake chain quotes QuantLib's price ± 0.05


def _quotes() -> rolls.Quotes:
    return rolls.Quotes.of(FakeMarket().chain("GLD"))


def _bid_ask(strike: float, expiry: date, call: bool) -> tuple[float, float]:
    p = ql_price(SPOT, strike, expiry, surface_vol(SPOT, strike, expiry), call)
    return max(p - HALF_SPREAD, 0.0), p + HALF_SPREAD


def _brute_floor_cap(shares: float, legs: list[tuple[str, float, float]]) -> tuple[float, float]:
    """Book value at expiry on a dense price grid (options at intrinsic), independent of the
    kink search: (min below spot, max above spot or inf if it keeps rising)."""
    s = np.linspace(0.0, 4 * SPOT, 400_001)
    v = shares * s
    for right, k, q in legs:
        pay = np.maximum(s - k, 0) if right == "C" else np.maximum(k - s, 0)
        v = v + q * 100 * pay
    floor = float(v[s <= SPOT].min())
    slope = v[-1] - v[-2]
    cap = float(v[s >= SPOT].max()) if slope <= 1e-9 else float("inf")
    return floor, cap


# --- pure maths -----------------------------------------------------------------------------


def test_debit_cost_per_day_and_floor_against_quantlib_and_hand_arithmetic():
    held = [rolls.HeldLeg("P", 190.0, EXPIRIES[1], 10.0)]
    out = rolls.roll_candidates(held, EXPIRIES[1], _quotes(), spot=SPOT, shares=1000, today=TODAY)
    bid_old, _ = _bid_ask(190.0, EXPIRIES[1], False)
    assert out["legs"][0]["close_price"] == pytest.approx(round(bid_old, 4), abs=1e-4)
    assert out["close_value"] == pytest.approx(bid_old * 10 * 100, abs=0.01)
    by_id = {c["id"]: c for c in out["candidates"]}
    # Same strike, one expiry out: sell 10 old puts at the bid, buy 10 new at the ask.
    cid = f"{EXPIRIES[1]}>{EXPIRIES[2]}:p190x10"
    c = by_id[cid]
    _, ask_new = _bid_ask(190.0, EXPIRIES[2], False)
    debit = (ask_new - bid_old) * 10 * 100
    assert c["debit"] == pytest.approx(debit, abs=0.011)
    assert c["net"] == "debit" and c["debit"] > 0
    added = (EXPIRIES[2] - EXPIRIES[1]).days
    assert c["added_days"] == added == 34
    assert c["cost_per_added_day"] == pytest.approx(debit / added, abs=1e-3)
    assert c["cost_per_added_day_pct"] == pytest.approx(debit / added / (1000 * SPOT) * 100, 1e-3)
    # 1000 shares and 10 puts at 190: floor 190 × 1000, no cap.
    assert c["floor_value"] == pytest.approx(190_000) and c["cap_value"] is None
    assert c["floor_per_share"] == pytest.approx(190.0) and c["floor_pct"] == pytest.approx(95.0)
    legs = c["legs"]
    assert [(lg["action"], lg["quantity"]) for lg in legs] == [("close", -10.0), ("open", 10.0)]
    # Down 5 % of spot (−10 $): the 180 put.
    down = by_id[f"{EXPIRIES[1]}>{EXPIRIES[3]}:p180x10"]
    _, ask_down = _bid_ask(180.0, EXPIRIES[3], False)
    assert down["strike_shift_pct"] == -5.0
    assert down["debit"] == pytest.approx((ask_down - bid_old) * 1000, abs=0.011)
    assert down["floor_value"] == pytest.approx(180_000)
    # Ranked by cost per added day, cheapest first.
    per_day = [c["cost_per_added_day"] for c in out["candidates"]]
    assert per_day == sorted(per_day)
    assert [c["rank"] for c in out["candidates"]] == list(range(1, len(per_day) + 1))
    # Only later expiries, every shift × later expiry once (4 later expiries × 6 shifts).
    assert {c["to_expiry"] for c in out["candidates"]} == {e.isoformat() for e in EXPIRIES[2:]}
    assert len(out["candidates"]) == len(EXPIRIES[2:]) * len(rolls.SHIFTS)


def test_collar_roll_short_call_bought_back_at_the_ask_and_floor_cap_by_brute_force():
    held = [
        rolls.HeldLeg("P", 190.0, EXPIRIES[1], 10.0),
        rolls.HeldLeg("C", 220.0, EXPIRIES[1], -10.0),
        rolls.HeldLeg("P", 170.0, EXPIRIES[4], 5.0),  # a later hedge, alive at every target
    ]
    out = rolls.roll_candidates(held, EXPIRIES[1], _quotes(), spot=SPOT, shares=1000, today=TODAY)
    p_bid, _ = _bid_ask(190.0, EXPIRIES[1], False)
    _, c_ask = _bid_ask(220.0, EXPIRIES[1], True)
    close_cash = p_bid * 1000 - c_ask * 1000
    assert out["close_value"] == pytest.approx(close_cash, abs=0.01)
    floor0, cap0 = _brute_floor_cap(1000, [("P", 190, 10), ("C", 220, -10), ("P", 170, 5)])
    assert out["floor_value"] == pytest.approx(floor0, abs=0.01)
    assert out["cap_value"] == pytest.approx(cap0, abs=0.01)
    for c in out["candidates"]:
        opened = [lg for lg in c["legs"] if lg["action"] == "open"]
        put, call = opened
        _, put_ask = _bid_ask(put["strike"], date.fromisoformat(put["expiry"]), False)
        call_bid, _ = _bid_ask(call["strike"], date.fromisoformat(call["expiry"]), True)
        debit = put_ask * 1000 - call_bid * 1000 - close_cash
        assert c["debit"] == pytest.approx(debit, abs=0.011), c["id"]
        alive = [("P", 170, 5)] if date.fromisoformat(c["to_expiry"]) <= EXPIRIES[4] else []
        floor, cap = _brute_floor_cap(
            1000, [("P", put["strike"], 10), ("C", call["strike"], -10), *alive]
        )
        assert c["floor_value"] == pytest.approx(floor, abs=0.01), c["id"]
        assert c["cap_value"] == pytest.approx(cap, abs=0.01), c["id"]
        # Both strikes moved by the same step; the collar width kept.
        assert call["strike"] - put["strike"] == pytest.approx(30.0)


def test_rankings_order_by_floor_or_debit():
    held = [rolls.HeldLeg("P", 190.0, EXPIRIES[1], 10.0)]
    kw: dict = {"spot": SPOT, "shares": 1000, "today": TODAY}
    by_floor = rolls.roll_candidates(held, EXPIRIES[1], _quotes(), rank="floor", **kw)
    floors = [(-c["floor_value"], c["cost_per_added_day"]) for c in by_floor["candidates"]]
    assert floors == sorted(floors)
    by_debit = rolls.roll_candidates(held, EXPIRIES[1], _quotes(), rank="debit", **kw)
    debits = [c["debit"] for c in by_debit["candidates"]]
    assert debits == sorted(debits)
    assert {c["id"] for c in by_floor["candidates"]} == {c["id"] for c in by_debit["candidates"]}
    with pytest.raises(ValueError):
        rolls.roll_candidates(held, EXPIRIES[1], _quotes(), rank="best", **kw)


def test_mid_mode_prices_every_leg_at_the_mid():
    held = [rolls.HeldLeg("P", 190.0, EXPIRIES[1], 4.0)]
    out = rolls.roll_candidates(
        held, EXPIRIES[1], _quotes(), spot=SPOT, shares=400, today=TODAY, mode="mid"
    )
    c = next(c for c in out["candidates"] if c["id"] == f"{EXPIRIES[1]}>{EXPIRIES[4]}:p190x4")
    mid_old = ql_price(SPOT, 190, EXPIRIES[1], surface_vol(SPOT, 190, EXPIRIES[1]), False)
    mid_new = ql_price(SPOT, 190, EXPIRIES[4], surface_vol(SPOT, 190, EXPIRIES[4]), False)
    assert c["debit"] == pytest.approx((mid_new - mid_old) * 400, abs=0.011)


def test_last_expiry_has_no_candidates_and_unquoted_short_cannot_close():
    held = [rolls.HeldLeg("P", 190.0, EXPIRIES[-1], 1.0)]
    out = rolls.roll_candidates(held, EXPIRIES[-1], _quotes(), spot=SPOT, shares=100, today=TODAY)
    assert out["candidates"] == []
    held = [rolls.HeldLeg("P", 190.0, EXPIRIES[1], 1.0), rolls.HeldLeg("C", 999.0, EXPIRIES[1], -1)]
    out = rolls.roll_candidates(held, EXPIRIES[1], _quotes(), spot=SPOT, shares=100, today=TODAY)
    assert out["closable"] is False and out["candidates"] == []
    with pytest.raises(ValueError):
        rolls.roll_candidates(held, EXPIRIES[2], _quotes(), spot=SPOT, shares=100, today=TODAY)
    unlisted = [rolls.HeldLeg("P", 191.0, EXPIRIES[1], 1.0)]  # no such strike in the chain
    out = rolls.roll_candidates(
        unlisted, EXPIRIES[1], _quotes(), spot=SPOT, shares=100, today=TODAY
    )
    assert out["closable"] is False and out["legs"][0]["close_price"] is None


def test_floor_cap_matches_the_hedge_panel():
    from portfolio.hedge import floor_and_cap
    from portfolio.valuation import PositionIn

    legs = [("P", 185.0, 3.0), ("P", 175.0, -3.0), ("C", 230.0, -2.0)]
    kind = np.array([[rolls.KIND_PUT, rolls.KIND_PUT, rolls.KIND_CALL]], dtype=np.int8)
    units = np.array([[300.0, -300.0, -200.0]])
    strike = np.array([[185.0, 175.0, 230.0]])
    floor, cap = rolls.floor_cap(200, kind, units, strike, SPOT)
    ins = [
        PositionIn(
            id=i,
            kind="option",
            quantity=q,
            cost_basis=0.0,
            expiry=EXPIRIES[2],
            strike=k,
            is_call=r == "C",
        )  # fmt: skip
        for i, (r, k, q) in enumerate(legs)
    ]
    f, _, c, _ = floor_and_cap(200, ins, SPOT)
    assert c is not None  # 200 shares, 2 short calls: capped
    assert floor[0] == pytest.approx(f) and cap[0] == pytest.approx(c)
    assert (floor[0], cap[0]) == pytest.approx(_brute_floor_cap(200, legs), abs=0.01)


# --- confirmation and ledger ----------------------------------------------------------------


@pytest.fixture
def market(monkeypatch):
    fm = FakeMarket()
    monkeypatch.setattr("marketdata.service.get_market_service", lambda: fm)
    monkeypatch.setattr(calendar, "_utcnow", lambda: AS_OF)
    portfolio_services.clear_memos()
    yield fm
    portfolio_services.clear_memos()


@pytest.fixture
def book(db):
    user = UserFactory()
    pf = PortfolioFactory(owner=user)
    PositionFactory(portfolio=pf, quantity=Decimal(1000))
    OptionPositionFactory(
        portfolio=pf, quantity=Decimal(10), strike=Decimal(190), expiry=EXPIRIES[1]
    )
    return user, pf


def _quote_token(pf, cid: str) -> tuple[str, dict]:
    mk = strategy_services.load_market("GLD")
    cand = roll_service.find_roll(mk, pf, cid, "ask_bid")
    return roll_service.sign_roll(mk, pf.pk, cand), cand


CID = f"{EXPIRIES[1]}>{EXPIRIES[2]}:p190x10"


def test_confirm_closes_and_opens_once(market, book):
    user, pf = book
    token, cand = _quote_token(pf, CID)
    data = roll_service.read_roll(token)
    done = roll_service.roll(user, data)
    assert done.created
    trades = Trade.objects.filter(portfolio=pf, source=Trade.Source.ROLL).order_by("pk")
    assert [(t.action, t.quantity, t.expiry) for t in trades] == [
        ("close", Decimal(-10), EXPIRIES[1]),
        ("open", Decimal(10), EXPIRIES[2]),
    ]
    assert [float(t.price) for t in trades] == [lg["price"] for lg in cand["legs"]]
    options = Position.objects.open().filter(portfolio=pf, kind=Position.Kind.OPTION)
    assert [(p.expiry, p.quantity) for p in options] == [(EXPIRIES[2], Decimal(10))]
    assert set(done.record.trades.all()) == set(trades)
    assert done.record.debit == cand["debit"]
    # The same confirmation again: nothing more traded, the first roll answered.
    again = roll_service.roll(user, roll_service.read_roll(token))
    assert not again.created and again.record.pk == done.record.pk
    assert Trade.objects.filter(portfolio=pf, source=Trade.Source.ROLL).count() == 2
    assert HedgeRoll.objects.count() == 1


def test_a_second_quote_after_the_roll_conflicts_and_writes_nothing(market, book):
    user, pf = book
    token1, _ = _quote_token(pf, CID)
    token2, _ = _quote_token(pf, CID)
    roll_service.roll(user, roll_service.read_roll(token1))
    with pytest.raises(strategy_services.InvalidInput) as raised:
        roll_service.roll(user, roll_service.read_roll(token2))
    assert raised.value.code == "conflict"
    assert Trade.objects.filter(portfolio=pf, source=Trade.Source.ROLL).count() == 2


def test_others_cannot_roll_and_tampered_tokens_are_refused(market, book):
    user, pf = book
    token, _ = _quote_token(pf, CID)
    with pytest.raises(strategy_services.NotFound):
        roll_service.roll(UserFactory(), roll_service.read_roll(token))
    with pytest.raises(strategy_services.InvalidInput):
        roll_service.read_roll(token[:-3] + "abc")
    assert not Trade.objects.filter(source=Trade.Source.ROLL).exists()


# --- page and API ---------------------------------------------------------------------------


def test_roll_page_and_confirm(client, market, book):
    user, pf = book
    client.force_login(user)
    r = client.get("/strategies/roll/", {"symbol": "GLD", "portfolio": pf.pk})
    assert r.status_code == 200
    html = r.content.decode()
    assert f'data-candidate="{escape(CID)}"' in html and 'id="roll-confirm"' not in html
    r = client.get(
        "/strategies/roll/", {"symbol": "GLD", "portfolio": pf.pk}, HTTP_HX_REQUEST="true"
    )
    assert r.status_code == 200 and r.content.decode().lstrip().startswith('<div id="roll-body"')
    r = client.get("/strategies/roll/", {"portfolio": pf.pk, "candidate": CID})
    assert r.status_code == 200 and 'id="roll-confirm"' in r.content.decode()
    token = r.context["confirm"]["token"]
    r = client.post("/strategies/roll/", {"token": token})
    assert r.status_code == 302 and r.url.startswith(reverse("portfolio:dashboard"))
    r = client.post("/strategies/roll/", {"token": token})  # replayed: no second trade
    assert r.status_code == 302
    assert Trade.objects.filter(portfolio=pf, source=Trade.Source.ROLL).count() == 2


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"expiry": "2026-13-01"}, 400),
        ({"expiry": EXPIRIES[3].isoformat()}, 400),  # no hedge held there
        ({"to_expiry": "2026-05-16"}, 400),  # not listed
        ({"price": "best"}, 400),
        ({"rank": "best"}, 400),
        ({"candidate": "garbage"}, 400),
        ({"candidate": f"{EXPIRIES[1]}>{EXPIRIES[2]}:p1x1"}, 404),
        ({"portfolio": "999999"}, 404),
        ({"symbol": "GLD;"}, 400),
    ],
)
def test_roll_page_bad_input_is_a_4xx(client, market, book, params, status):
    user, pf = book
    client.force_login(user)
    r = client.get("/strategies/roll/", {"portfolio": pf.pk, **params})
    assert r.status_code == status
    assert b'id="roll-error"' in r.content


def test_roll_page_others_portfolio_is_invisible_and_login_required(client, market, book, settings):
    _, pf = book
    client.force_login(UserFactory())
    assert client.get("/strategies/roll/", {"portfolio": pf.pk}).status_code == 404
    assert client.post("/strategies/roll/", {"token": "x"}).status_code == 400
    client.logout()
    settings.LOGIN_REQUIRED = True
    r = client.get("/strategies/roll/", {"portfolio": pf.pk})
    assert r.status_code in (302, 401, 403)


def test_api_lists_quotes_and_confirms_once(client, market, book):
    user, pf = book
    client.force_login(user)
    r = client.get("/api/rolls", {"portfolio": pf.pk, "symbol": "GLD", "limit": 3})
    assert r.status_code == 200, r.content
    body = r.json()
    RollsOut.model_validate(body)  # the body the schema documents
    (hedge,) = body["hedges"]
    assert hedge["from_expiry"] == EXPIRIES[1].isoformat() and len(hedge["candidates"]) == 3
    assert hedge["count"] == len(EXPIRIES[2:]) * len(rolls.SHIFTS)
    r = client.get("/api/rolls", {"portfolio": pf.pk, "to_expiry": EXPIRIES[2].isoformat()})
    (only,) = r.json()["hedges"]
    assert {c["to_expiry"] for c in only["candidates"]} == {EXPIRIES[2].isoformat()}
    assert only["count"] == len(rolls.SHIFTS)
    r = client.post(
        "/api/rolls/quote",
        json.dumps({"portfolio": pf.pk, "symbol": "GLD", "candidate": CID}),
        content_type="application/json",
    )
    assert r.status_code == 200, r.content
    token = r.json()["token"]
    RollQuoteOut.model_validate(r.json())
    assert r.json()["candidate"]["id"] == CID
    confirm = {"token": token}
    r1 = client.post("/api/rolls/confirm", json.dumps(confirm), content_type="application/json")
    r2 = client.post("/api/rolls/confirm", json.dumps(confirm), content_type="application/json")
    assert r1.status_code == r2.status_code == 200
    assert r1.json()["created"] is True and r2.json()["created"] is False
    assert r1.json()["id"] == r2.json()["id"] and len(r1.json()["trades"]) == 2
    # A fresh quote of the old hedge: it is no longer held.
    r = client.post(
        "/api/rolls/quote",
        json.dumps({"portfolio": pf.pk, "symbol": "GLD", "candidate": CID}),
        content_type="application/json",
    )
    assert r.status_code == 404 and r.json()["error"]["field"] == "candidate"


@pytest.mark.parametrize(
    ("method", "path", "payload", "status"),
    [
        ("get", "/api/rolls", {"limit": 0}, 400),
        ("get", "/api/rolls", {"expiry": "nope"}, 400),
        ("get", "/api/rolls", {"rank": "best"}, 400),
        ("get", "/api/rolls", {"portfolio": 999999}, 404),
        ("post", "/api/rolls/quote", {"portfolio": 1, "candidate": "x" * 301}, 400),
        ("post", "/api/rolls/confirm", {"token": "forged"}, 400),
        ("post", "/api/rolls/confirm", {}, 400),
    ],
)
def test_api_bad_input_is_a_one_line_4xx(client, market, book, method, path, payload, status):
    user, pf = book
    client.force_login(user)
    if method == "get":
        r = client.get(path, {"portfolio": pf.pk, **payload})
    else:
        r = client.post(path, json.dumps(payload), content_type="application/json")
    assert r.status_code == status, r.content
    message = r.json()["error"]["message"]
    assert message and "\n" not in message


def test_api_someone_elses_portfolio(client, market, book):
    user, pf = book
    token, _ = _quote_token(pf, CID)
    client.force_login(UserFactory())
    assert client.get("/api/rolls", {"portfolio": pf.pk}).status_code == 404
    r = client.post(
        "/api/rolls/confirm", json.dumps({"token": token}), content_type="application/json"
    )
    assert r.status_code == 404
    assert not Trade.objects.filter(source=Trade.Source.ROLL).exists()


def test_nonce_is_random_per_quote(market, book):
    _, pf = book
    a, _ = _quote_token(pf, CID)
    b, _ = _quote_token(pf, CID)
    assert roll_service.read_roll(a)["nonce"] != roll_service.read_roll(b)["nonce"]


@pytest.mark.django_db
def test_openapi_documents_the_roll_routes(client):
    doc = client.get("/api/openapi.json").json()
    assert {"/api/rolls", "/api/rolls/quote", "/api/rolls/confirm"} <= set(doc["paths"])
    get = doc["paths"]["/api/rolls"]["get"]
    assert {"200", "400", "404"} <= set(get["responses"])
    assert {p["name"] for p in get["parameters"]} >= {"portfolio", "expiry", "to_expiry", "price"}
    confirm = doc["paths"]["/api/rolls/confirm"]["post"]
    assert {"200", "400", "403", "404", "409"} <= set(confirm["responses"])
    assert {"RollsOut", "RollCandidateOut", "RollDoneOut"} <= set(doc["components"]["schemas"])


def test_admin_lists_rolls_read_only(client, market, book):
    user, pf = book
    token, _ = _quote_token(pf, CID)
    record = roll_service.roll(user, roll_service.read_roll(token)).record
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    assert client.get("/admin/strategies/hedgeroll/").status_code == 200
    assert client.get(f"/admin/strategies/hedgeroll/{record.pk}/change/").status_code == 200
    assert client.get("/admin/strategies/hedgeroll/add/").status_code == 403


def test_demo_is_read_only_when_logins_are_required(client, market, settings, db):
    from tests.factories import DemoPortfolioFactory

    settings.LOGIN_REQUIRED = True
    demo = DemoPortfolioFactory()
    PositionFactory(portfolio=demo, quantity=Decimal(1000))
    OptionPositionFactory(
        portfolio=demo, quantity=Decimal(10), strike=Decimal(190), expiry=EXPIRIES[1]
    )
    client.force_login(UserFactory())
    r = client.get("/api/rolls", {"portfolio": demo.pk})
    assert r.status_code == 200 and r.json()["hedges"][0]["count"] > 0
    page = client.get("/strategies/roll/", {"portfolio": demo.pk})
    assert page.status_code == 200 and b"roll-review" not in page.content
    assert (
        client.get("/strategies/roll/", {"portfolio": demo.pk, "candidate": CID}).status_code == 403
    )
    r = client.post(
        "/api/rolls/quote",
        json.dumps({"portfolio": demo.pk, "candidate": CID}),
        content_type="application/json",
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    token = roll_service.sign_roll(strategy_services.load_market("GLD"), demo.pk,
                                   roll_service.find_roll(strategy_services.load_market("GLD"),
                                                          demo, CID, "ask_bid"))  # fmt: skip
    r = client.post(
        "/api/rolls/confirm", json.dumps({"token": token}), content_type="application/json"
    )
    assert r.status_code == 403
    assert not Trade.objects.filter(source=Trade.Source.ROLL).exists()
