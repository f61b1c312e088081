"""Whole-book hedging: candidates evaluated with the options already held, the adopt page's
before/after, the warnings, and builder strategies adopted through the same confirmation.

Option values come from QuantLib (tests/market/oracle.py, tests/portfolio/fakes.py); hedge
ratios, floors, caps, costs and delta sums are worked out by hand in the tests.
"""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal

import numpy as np
import pytest

from market.payoff import KIND_PUT
from portfolio.hedge import book_warnings
from portfolio.models import Position, Trade
from strategies import adoption, metrics, ranked, services, wholebook
from strategies.legs import Candidate, Leg
from strategies.models import AdoptedHedge
from tests.factories import DemoPortfolioFactory, OptionPositionFactory, PositionFactory
from tests.market.oracle import american_qdfp_at, american_qdfp_greeks
from tests.portfolio import fakes
from tests.strategies.legs import EXP, T, ctx, put, stock
from tests.support.market import use_market_service

RATE = 0.04


def held_put(k: float, qty: float, t: float, iv: float = 0.22) -> wholebook.HeldBook:
    """Held puts priced by :func:`wholebook.held_legs` (its expiry ``t`` years away)."""
    e = date(2025, 12, 1) if t > T else date(2025, 2, 1)
    return wholebook.held_legs(
        ctx(), [wholebook.HeldOption(False, k, e, qty)], {e: t}, {(e, False, k): iv}, {}
    )


def evaluate(legs: tuple[Leg, ...], held: wholebook.HeldBook) -> dict:
    cand = Candidate("c", "custom", EXP, legs, t=T)
    return metrics.evaluate(ctx(), [cand], {EXP: 0.2}, held=held)[0]


# --- the maths, on hand-made legs -------------------------------------------------------------


def test_held_marks_are_quantlib_american_values() -> None:
    held = held_put(90.0, 5, 0.5)
    (leg,) = held.legs
    ref = american_qdfp_at(100.0, 90.0, 0.5, RATE, 0.0, 0.22, False)
    assert leg.price == pytest.approx(ref, rel=2e-4)
    assert (leg.kind, leg.quantity, leg.t, leg.iv) == ("put", 5, 0.5, 0.22)
    # Expired or zero positions are not part of the book.
    e = date(2025, 1, 1)
    gone = wholebook.held_legs(ctx(), [wholebook.HeldOption(False, 90, e, 5)], {e: 0.0}, {}, {})
    assert not gone


def test_candidate_is_evaluated_on_the_whole_book() -> None:
    """1,000 shares + 5 held 90 puts (alive at the candidate's expiry) + 5 new 95 puts."""
    held = held_put(90.0, 5, 0.5)
    m = held.legs[0].price
    row = evaluate((stock(1000), put(95.0, 2.0, qty=5)), held)
    # Below 90 both put lots pay: value 1000 S + 500 (95 − S) + 500 (90 − S) = 92,500, flat.
    floor_value = 500 * 95 + 500 * 90 - 500 * 2.0 - 500 * m
    assert row["floor_value"] == pytest.approx(floor_value, abs=0.01)
    assert row["floor_price"] == 90.0
    assert row["floor_pct"] == pytest.approx(floor_value / 100_000 * 100, abs=1e-4)
    # The cost is the candidate's own: the held puts are already paid for.
    assert row["net_debit"] == pytest.approx(1000.0)
    assert row["legs"][-1]["strike"] == 95.0 and len(row["legs"]) == 2
    g95 = american_qdfp_greeks(100.0, 95.0, T, RATE, 0.0, 0.2, False)
    g90 = american_qdfp_greeks(100.0, 90.0, 0.5, RATE, 0.0, 0.22, False)
    for name, scale in (("delta", 0.05), ("gamma", 0.01), ("vega", 0.05), ("theta", 0.05)):
        want = 500 * g95[name] + 500 * g90[name] + (1000 if name == "delta" else 0)
        assert row["greeks"][name] == pytest.approx(want, abs=scale), name
    assert row["book"] == {
        "held_options": 1,
        "hedge_ratio": 1.0,
        "net_delta": pytest.approx(row["greeks"]["delta"]),
        "warnings": [],
    }
    # Left out, the same candidate floors at its own strike and counts only its own puts.
    alone = evaluate((stock(1000), put(95.0, 2.0, qty=5)), wholebook.NO_HELD)
    assert alone["floor_price"] is None  # 5 contracts on 1,000 shares: a partial hedge
    assert alone["book"]["hedge_ratio"] == 0.5
    assert alone["greeks"]["delta"] == pytest.approx(1000 + 500 * g95["delta"], abs=0.05)


def test_held_legs_as_columns_equal_the_same_legs_written_into_the_candidate() -> None:
    """Stacking held legs as columns gives what evaluating them as ordinary legs gives (the
    book's floor, P&L, probabilities and Greeks), for several candidates at once."""
    held = held_put(92.0, 4, T)  # alive exactly at the candidate's expiry
    lg = held.legs[0]
    same = Leg("put", 4, 92.0, EXP, lg.price, iv=lg.iv, t=T)
    cands = [(stock(1000), put(k, p, qty=6)) for k, p in ((95.0, 2.0), (90.0, 1.1), (100, 4))]
    stacked = [evaluate(c, held) for c in cands]
    for c, row in zip(cands, stacked, strict=True):
        plain = evaluate((*c, same), wholebook.NO_HELD)
        for key in ("floor_value", "floor_price", "max_loss", "breakevens", "expected_pnl"):
            assert row[key] == pytest.approx(plain[key], abs=1e-6), key
        assert row["prob_profit"] == pytest.approx(plain["prob_profit"], abs=1e-9)
        for name in ("delta", "gamma", "theta", "vega", "rho"):
            assert row["greeks"][name] == pytest.approx(plain["greeks"][name], abs=1e-6)
        assert row["net_debit"] == pytest.approx(plain["net_debit"] - 400 * lg.price, abs=0.01)


def test_held_legs_expiring_first_leave_the_floor_but_not_the_greeks() -> None:
    held = held_put(90.0, 5, 0.1)  # expires before the candidate
    row = evaluate((stock(1000), put(95.0, 2.0, qty=10)), held)
    # At the candidate's expiry only its own 10 puts are left: floor 95,000 − 2,000.
    assert row["floor_value"] == pytest.approx(95_000 - 2_000, abs=0.01)
    assert row["floor_price"] == 95.0
    g95 = american_qdfp_greeks(100.0, 95.0, T, RATE, 0.0, 0.2, False)
    g90 = american_qdfp_greeks(100.0, 90.0, 0.1, RATE, 0.0, 0.22, False)
    want = 1000 + 1000 * g95["delta"] + 500 * g90["delta"]
    assert row["greeks"]["delta"] == pytest.approx(want, abs=0.05)
    # 15 long put contracts on 1,000 shares; through the held expiry all 15 are alive.
    assert row["book"]["hedge_ratio"] == 1.5
    assert row["book"]["warnings"] == ["over_hedged", "stacked_expiry"]


def test_net_short_book_is_flagged() -> None:
    held = held_put(100.0, 20, 0.5)
    row = evaluate((stock(1000), put(95.0, 2.0, qty=10)), held)
    g100 = american_qdfp_greeks(100.0, 100.0, 0.5, RATE, 0.0, 0.22, False)
    g95 = american_qdfp_greeks(100.0, 95.0, T, RATE, 0.0, 0.2, False)
    delta = 1000 + 2000 * g100["delta"] + 1000 * g95["delta"]
    assert delta < 0  # the hand sum says short
    assert row["book"]["net_delta"] == pytest.approx(delta, abs=0.1)
    assert row["book"]["hedge_ratio"] == 3.0
    assert row["book"]["warnings"] == ["over_hedged", "net_short", "stacked_expiry"]


def test_book_flags_say_what_the_dashboard_says() -> None:
    """The vectorised flags and the dashboard's warnings agree on the same books."""
    shares = 1000.0
    rng = np.random.default_rng(3)
    for _ in range(40):
        n = int(rng.integers(1, 5))
        qty = rng.integers(-5, 12, n).astype(float) * 100
        t = np.asarray(rng.choice([0.1, 0.25, 0.5], n), dtype=np.float64)
        net_delta = float(rng.normal(200, 400))
        kind = np.full((1, n), KIND_PUT, dtype=np.int8)
        ratio, codes = wholebook.book_flags(
            kind, qty[None, :], t[None, :], np.array([shares]), np.array([net_delta])
        )
        long = qty > 0
        expiries = [
            {"expiry": f"t{te}", "hedge_ratio": qty[long & (t >= te)].sum() / shares}
            for te in sorted(set(t[long]))
        ]
        dash = book_warnings(shares, qty[long].sum() / shares, expiries, net_delta)
        assert ratio[0] == pytest.approx(qty[long].sum() / shares)
        assert codes[0] == list(dict.fromkeys(w["code"] for w in dash))


# --- the adopt page's before/after, against the dashboard and QuantLib -------------------------


@pytest.fixture
def book_market(monkeypatch):
    from market import calendar

    monkeypatch.setattr(calendar, "_utcnow", lambda: fakes.AS_OF)
    with use_market_service(fakes.FakeMarket()) as m:
        yield m


E_MAY, E_JUN = fakes.EXPIRIES[1], fakes.EXPIRIES[2]


@pytest.fixture
def hedged(book_market):
    """1,000 GLD and 10 long 180 puts to May (the dashboard's demo portfolio)."""
    demo = DemoPortfolioFactory(name="Demo")
    PositionFactory(portfolio=demo, quantity=1000, cost_basis=Decimal("180"))
    OptionPositionFactory(
        portfolio=demo,
        strike=Decimal(180),
        expiry=E_MAY,
        quantity=Decimal(10),
        cost_basis=Decimal("3.50"),
        opened_on=date(2026, 3, 6),
    )
    return demo


def _token(html: str) -> str:
    return html.split('name="token" value="', 1)[1].split('"', 1)[0]


@pytest.mark.django_db
def test_strategies_rank_on_the_held_puts_and_the_toggle_leaves_them_out(client, hedged) -> None:
    on = client.get("/api/strategies", {"symbol": "GLD", "expiry": E_JUN}).json()
    off = client.get("/api/strategies", {"symbol": "GLD", "expiry": E_JUN, "include_held": 0})
    off = off.json()
    assert on["held_options"]["included"] and len(on["held_options"]["options"]) == 1
    assert off["held_options"]["included"] is False
    base_on = next(c for c in on["candidates"] if c["family"] == "baseline")
    base_off = next(c for c in off["candidates"] if c["family"] == "baseline")
    # The book as it stands has a floor through June only from puts alive then: the May puts
    # expire first, so the June baseline keeps no floor; its Greeks still hold the May puts.
    assert base_on["book"]["hedge_ratio"] == 1.0 and base_off["book"]["hedge_ratio"] == 0.0
    vol = fakes.surface_vol(fakes.SPOT, 180.0, E_MAY)
    d180 = fakes.ql_option(fakes.SPOT, 180.0, E_MAY, vol, False, fd=True).delta()
    assert base_off["greeks"]["delta"] == 1000.0
    assert base_on["greeks"]["delta"] == pytest.approx(1000 + 1000 * d180, abs=0.3)
    assert base_on["floor_price"] is None and base_on["book"]["warnings"] == []
    atm = next(c for c in on["candidates"] if c["name"].startswith("Protective put ATM"))
    assert atm["book"]["hedge_ratio"] == 2.0
    assert atm["book"]["warnings"] == ["over_hedged", "stacked_expiry"]
    assert client.get("/api/strategies", {"include_held": "maybe"}).status_code == 400
    r = client.get("/strategies/", {"symbol": "GLD", "include_held": "nope"})
    assert r.status_code == 400 and "include_held" in r.content.decode()
    # The payoff follows the toggle: with the May puts the June book's value today is higher
    # far below spot (they pay off) than without them.
    q = {"symbol": "GLD", "candidate": atm["id"]}
    with_held = client.get("/api/strategies/payoff", q).json()
    without = client.get("/api/strategies/payoff", {**q, "include_held": "false"}).json()
    assert with_held["grid"] == without["grid"]
    assert with_held["curves"][0]["pnl"][0] > without["curves"][0]["pnl"][0]
    assert with_held["days_to_expiry"] == without["days_to_expiry"]


@pytest.mark.django_db
def test_adopt_before_after_against_hand_arithmetic_quantlib_and_the_dashboard(
    client, hedged
) -> None:
    api = client.get("/api/strategies", {"symbol": "GLD", "expiry": E_JUN}).json()
    cand = next(c for c in api["candidates"] if c["name"] == "Protective put 5% OTM 190")
    r = client.get("/strategies/adopt/", {"symbol": "GLD", "candidate": cand["id"]})
    assert r.status_code == 200, r.content
    html = r.content.decode()
    assert 'id="book-before-after"' in html and 'data-code="over_hedged"' in html
    mk = services.load_market("GLD")
    c, _ = ranked.find_candidate(mk, 1000.0, cand["id"], "ask_bid", ranked.held_book(hedged, mk))
    new = [lg for lg in c.legs if lg.is_option]
    price = round(new[0].price, 4)  # the confirmed price, as signed and recorded
    pv = adoption.preview(hedged, "GLD", new)
    b, a = pv["before"], pv["after"]
    # Hedge ratio: 10 → 20 contracts on 1,000 shares.
    assert (b["hedge_ratio"], a["hedge_ratio"]) == (1.0, 2.0)
    # Floor at the nearest put expiry (May), over the puts alive then (both lots): below 180
    # 1000 S + 1000 (190 − S) + 1000 (180 − S) falls with S; between 180 and 190 it is flat
    # at 190,000; the least value on [0, spot] is 190,000. Before: the May puts alone, 180,000.
    assert b["floor_value"] == pytest.approx(180_000.0)
    assert a["floor_value"] == pytest.approx(190_000.0)
    assert b["cap_value"] is None and a["cap_value"] is None
    # Cost per year: each lot's premium over its own tenor, % of the shares' value.
    spot = fakes.SPOT
    held_year = 10 * 100 * 3.50 / ((E_MAY - date(2026, 3, 6)).days / 365)
    new_year = 10 * 100 * price / ((E_JUN - fakes.TODAY).days / 365)
    assert b["cost_pct_per_year"] == pytest.approx(held_year / (1000 * spot) * 100, rel=1e-9)
    assert a["cost_pct_per_year"] == pytest.approx(
        (held_year + new_year) / (1000 * spot) * 100, rel=1e-9
    )
    assert a["cost_per_year"] == pytest.approx(held_year + new_year, rel=1e-9)
    # Greeks: the change is 1,000 puts' worth of QuantLib Greeks at the chain's smile vol.
    vol = fakes.surface_vol(spot, 190.0, E_JUN)
    opt = fakes.ql_option(spot, 190.0, E_JUN, vol, False, fd=True)
    assert a["net_delta"] - b["net_delta"] == pytest.approx(1000 * opt.delta(), rel=3e-3)
    assert a["gamma_shares"] - b["gamma_shares"] == pytest.approx(1000 * opt.gamma(), rel=5e-3)
    up = fakes.ql_price(spot, 190.0, E_JUN, vol + 0.0005, False)
    dn = fakes.ql_price(spot, 190.0, E_JUN, vol - 0.0005, False)
    assert a["vega_dollars"] - b["vega_dollars"] == pytest.approx(
        (up - dn) / 0.001 * 0.01 * 1000, rel=3e-3
    )
    assert [w["code"] for w in pv["new_warnings"]] == ["over_hedged", "stacked_expiry"]
    assert b["warnings"] == []
    # Confirm; the dashboard's figures are the "after" column.
    client.post("/strategies/adopt/", {"token": _token(html)})
    book = client.get("/api/portfolio", {"symbol": "GLD"}).json()
    h, g = book["hedge"], book["totals"]["greeks"]
    assert h["hedge_ratio"] == pytest.approx(a["hedge_ratio"])
    assert h["floor"]["floor_value"] == pytest.approx(a["floor_value"])
    assert h["cost"]["paid_pct_per_year"] == pytest.approx(a["cost_pct_per_year"], rel=1e-9)
    assert g["delta_shares"] == pytest.approx(a["net_delta"], rel=1e-9)
    assert g["vega_dollars"] == pytest.approx(a["vega_dollars"], rel=1e-9)
    assert g["theta_dollars"] == pytest.approx(a["theta_dollars"], rel=1e-9)
    codes = [w["code"] for w in h["warnings"]]
    assert "over_hedged" in codes and "stacked_expiry" in codes
    dash = client.get("/", {"symbol": "GLD"}).content.decode()
    assert 'data-code="over_hedged"' in dash


@pytest.mark.django_db
def test_a_builder_collar_is_adopted_through_the_same_confirmation(client, hedged) -> None:
    legs = [
        ("side", "buy"),
        ("right", "P"),
        ("strike", "185"),
        ("expiry", E_JUN.isoformat()),
        ("qty", "10"),
        ("side", "sell"),
        ("right", "C"),
        ("strike", "220"),
        ("expiry", E_JUN.isoformat()),
        ("qty", "10"),
    ]
    page = client.get(
        "/strategies/builder/", [("symbol", "GLD"), ("include_holding", "1"), *legs]
    ).content.decode()
    assert 'id="builder-adopt"' in page and 'id="builder-held"' in page
    href = page.split('id="builder-adopt" href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    r = client.get(href)
    assert r.status_code == 200, r.content
    html = r.content.decode()
    assert "Custom:" in html and 'id="book-before-after"' in html
    # The cap appears after: 1,000 shares capped at 220 by 10 short calls (with the puts alive
    # through June at intrinsic: 1000·220 at S ≥ 220).
    mk = services.load_market("GLD")
    built = ranked.held_book(hedged, mk)
    assert built  # the May puts
    r = client.post("/strategies/adopt/", {"token": _token(html)})
    assert r.status_code == 302
    rec = AdoptedHedge.objects.get()
    assert rec.name.startswith("Custom:") and rec.candidate_id.startswith(f"{E_JUN}:custom:")
    trades = Trade.objects.filter(source=Trade.Source.ADOPTION).order_by("pk")
    assert [(t.right, float(t.quantity), float(t.strike or 0)) for t in trades] == [
        ("P", 10.0, 185.0),
        ("C", -10.0, 220.0),
    ]
    assert [float(x["price"]) for x in rec.legs] == [float(t.price) for t in trades]
    # Used once: the same confirmation again writes nothing.
    client.post("/strategies/adopt/", {"token": _token(html)})
    assert AdoptedHedge.objects.count() == 1 and trades.count() == 2
    book = client.get("/api/portfolio", {"symbol": "GLD"}).json()
    assert book["hedge"]["cap_value"] == pytest.approx(1000 * 220.0)
    opts = Position.objects.filter(portfolio=hedged, kind=Position.Kind.OPTION).open()
    assert opts.count() == 3


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"source": "builder"}, 400),  # no legs
        ({"source": "builder", "side": "buy", "right": "P", "strike": "x"}, 400),
        ({"source": "elsewhere", "candidate": "x"}, 400),
        ({}, 400),  # neither a candidate nor builder legs
        ({"candidate": "2026-06-18:collar:p1x1"}, 404),
    ],
)
def test_bad_adopt_requests_are_4xx(client, hedged, params, status) -> None:
    legs_ok = {"expiry": E_JUN.isoformat(), "qty": "1"} if "side" in params else {}
    r = client.get("/strategies/adopt/", {"symbol": "GLD", **params, **legs_ok})
    assert r.status_code == status, r.content
    assert AdoptedHedge.objects.count() == 0


@pytest.mark.django_db
def test_dashboard_warns_about_the_book_as_it_stands(client, book_market) -> None:
    demo = DemoPortfolioFactory(name="Demo")
    PositionFactory(portfolio=demo, quantity=1000)
    for k, e in ((200, E_MAY), (200, E_JUN), (190, E_JUN)):
        OptionPositionFactory(portfolio=demo, strike=Decimal(k), expiry=e, quantity=Decimal(10))
    h = client.get("/api/portfolio", {"symbol": "GLD"}).json()["hedge"]
    codes = [w["code"] for w in h["warnings"]]
    assert h["hedge_ratio"] == 3.0
    # ~3 × 1,000 × (−0.4) of put delta against 1,000 shares: short.
    assert codes.count("over_hedged") == 1 and "net_short" in codes
    # Through May all 30 contracts are alive, through June 20: both expiries stacked.
    stacked = [w["message"] for w in h["warnings"] if w["code"] == "stacked_expiry"]
    assert len(stacked) == 2 and "300 %" in stacked[0] and "200 %" in stacked[1]
    assert math.isclose(h["expiries"][0]["hedge_ratio"], 3.0)


def test_openapi_documents_the_whole_book(client) -> None:
    doc = client.get("/api/openapi.json").json()
    for path in ("/api/strategies", "/api/strategies/payoff"):
        params = {p["name"]: p for p in doc["paths"][path]["get"]["parameters"]}
        assert params["include_held"]["schema"]["type"] == "boolean"
        assert params["include_held"]["schema"]["default"] is True
    schemas = doc["components"]["schemas"]
    assert "book" in schemas["CandidateOut"]["required"]
    warn = schemas["BookOut"]["properties"]["warnings"]["items"]
    assert set(warn["enum"]) == set(wholebook.WARNING_CODES)
    assert "held_options" in schemas["StrategiesOut"]["required"]
    assert "include_held" in schemas["EvaluateIn"]["properties"]


@pytest.mark.django_db
@pytest.mark.parametrize(("value", "included"), [(None, True), ("no", False), ("1", True)])
def test_strategies_page_toggle(client, hedged, value, included) -> None:
    q = {"symbol": "GLD", "expiry": E_JUN.isoformat()}
    if value is not None:
        q["include_held"] = value
    html = client.get("/strategies/", q).content.decode()
    box = html.split('id="include-held"', 1)[1].split(">", 1)[0]
    assert ("checked" in box) is included
    facts = html.split('id="held-options">', 1)[1].split("</p>", 1)[0]
    assert ("Ranked on the whole book" in facts) is included
    assert "10 × 180.00 put 2026-05-15" in facts or not included
    # The hedge-ratio column follows: 2.00 for an ATM put on top of the held puts, else 1.00.
    atm = html.split("Protective put ATM", 1)[1].split('class="hedge-ratio">', 1)[1][:4]
    assert atm == ("2.00" if included else "1.00")
