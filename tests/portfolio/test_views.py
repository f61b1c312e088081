from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import reverse

from portfolio.models import PortfolioSnapshot
from tests.factories import (
    PortfolioFactory,
    PositionFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def url():
    return reverse("portfolio:dashboard")


def kpi(html: str, name: str) -> float:
    m = re.search(rf'id="kpi-{name}" data-value="([^"]*)"', html)
    assert m, name
    return float(m.group(1))


def test_full_page_has_every_panel_and_matches_the_api(client, fake_market, demo, url):
    resp = client.get(url)
    assert resp.status_code == 200
    html = resp.content.decode()
    assert html.startswith("<!doctype html>")
    for ident in (
        "kpis",
        "panel-hedge",
        "panel-positions",
        "panel-history",
        "panel-scenarios",
        "symbol-switcher",
        "heatmap-spot-vol",
        "heatmap-spot-date",
        "positions-table",
    ):
        assert f'id="{ident}"' in html, ident
    api = client.get("/api/portfolio").json()
    assert kpi(html, "value") == pytest.approx(api["totals"]["value"])
    assert kpi(html, "pnl") == pytest.approx(api["totals"]["pnl"])
    assert kpi(html, "day-pnl") == pytest.approx(api["totals"]["day_change"])
    assert kpi(html, "floor") == pytest.approx(180_000)
    assert kpi(html, "delta") == pytest.approx(api["totals"]["greeks"]["delta_shares"])
    assert kpi(html, "hedge-cost") == pytest.approx(api["hedge"]["cost"]["paid_pct_per_year"])
    assert "Vary" in resp and "HX-Request" in resp["Vary"]


def test_htmx_panel_and_body_partials(client, fake_market, demo, url):
    resp = client.get(url, {"symbol": "GLD", "panel": "hedge"}, **HX)
    html = resp.content.decode()
    assert resp.status_code == 200
    assert html.lstrip().startswith('<section class="card" id="panel-hedge"')
    assert "<html" not in html and "panel-positions" not in html
    resp = client.get(url, {"symbol": "SLV"}, **HX)
    html = resp.content.decode()
    assert html.lstrip().startswith('<div id="dashboard-body" ')
    assert 'id="symbol-SLV"' not in html  # slugify lower-cases ids
    assert 'class="active" aria-current="page">SLV<' in html
    # a history-restore request gets the whole page again
    resp = client.get(url, {"symbol": "SLV"}, HTTP_HX_HISTORY_RESTORE_REQUEST="true", **HX)
    assert resp.content.decode().startswith("<!doctype html>")


def test_bad_and_unknown_symbols_render_an_error(client, fake_market, demo, url):
    resp = client.get(url, {"symbol": "no way!"})
    assert resp.status_code == 400
    assert 'id="dashboard-error"' in resp.content.decode()
    resp = client.get(url, {"symbol": "ZZZZ"})
    assert resp.status_code == 404
    fake_market.down = True
    assert client.get(url).status_code == 503


def test_foreign_portfolio_is_404(client, fake_market, demo, url):
    private = PortfolioFactory()
    assert client.get(url, {"portfolio": private.pk}).status_code == 404
    assert client.get(url, {"portfolio": "x"}).status_code == 404
    client.force_login(private.owner)
    assert client.get(url, {"portfolio": private.pk}).status_code == 200


@override_settings(LOGIN_REQUIRED=True)
def test_production_requires_login(client, fake_market, demo, url):
    resp = client.get(url)
    assert resp.status_code == 302 and "/login/" in resp["Location"]
    resp = client.get(url, {"panel": "kpis"}, **HX)
    assert resp["HX-Redirect"].startswith("/login/")
    client.force_login(UserFactory())
    assert client.get(url).status_code == 200


def test_dashboard_views_record_no_history(client, fake_market, demo, url):
    client.get(url)
    client.get(url)
    assert not PortfolioSnapshot.objects.filter(portfolio=demo).exists()
    html = client.get(url, {"panel": "history"}, **HX).content.decode()
    assert 'id="history-range"' in html and 'id="history-empty"' in html


def test_stale_data_is_flagged(client, fake_market, demo, url):
    fake_market.stale = True
    html = client.get(url).content.decode()
    assert 'id="stale-badge"' in html
    assert 'data-code="stale_data"' in html


def test_import_form(client, fake_market):
    user = UserFactory()
    pf = PortfolioFactory(owner=user)
    target = reverse("portfolio:import", args=[pf.pk])
    assert client.get(target).status_code == 302  # login first
    client.force_login(UserFactory())
    assert client.get(target).status_code == 404  # not yours
    client.force_login(user)
    assert client.get(target).status_code == 200
    bad = SimpleUploadedFile("p.csv", b"symbol,quantity,cost_basis\nGLD,1,1\nGLD,zero,1\n")
    resp = client.post(target, {"file": bad})
    assert resp.status_code == 400
    assert re.search(r"<td>3</td><td>quantity</td>", resp.content.decode())
    assert pf.positions.count() == 0
    good = SimpleUploadedFile("p.csv", b"symbol,quantity,cost_basis\nGLD,1,1\n")
    resp = client.post(target, {"file": good})
    assert resp.status_code == 302
    assert pf.positions.count() == 1


def test_demo_is_read_only_for_non_staff(client, demo):
    client.force_login(UserFactory())
    assert client.get(reverse("portfolio:import", args=[demo.pk])).status_code == 404
    client.force_login(UserFactory(is_staff=True))
    assert client.get(reverse("portfolio:import", args=[demo.pk])).status_code == 200


def test_export_respects_ownership(client, demo):
    private = PortfolioFactory()
    PositionFactory(portfolio=private)
    assert client.get(reverse("portfolio:export", args=[private.pk])).status_code == 404
    resp = client.get(reverse("portfolio:export", args=[demo.pk]))
    assert resp.status_code == 200
    assert resp["Content-Type"].startswith("text/csv")
    assert resp.content.decode().count("\n") == 3


def test_live_panel_brings_every_number_panel_from_one_valuation(client, fake_market, demo, url):
    """What live.js asks for after a WebSocket update: one response, every panel, one as_of."""
    html = client.get(url, {"panel": "live"}, **HX).content.decode()
    panels = re.findall(
        r'<section[^>]*id="(panel-[a-z]+)"[^>]*data-ts="([^"]+)"[^>]*hx-swap-oob', html
    )
    assert {p for p, _ in panels} == {
        "panel-kpis",
        "panel-hedge",
        "panel-backing",  # GLD has a commodity backing (the default row of the migrations)
        "panel-positions",
        "panel-scenarios",
    }
    assert len({ts for _, ts in panels}) == 1
    assert 'id="data-stamp" hx-swap-oob="true"' in html
    total = re.search(
        r'id="positions-total-value" data-live="total-value" data-value="([^"]+)"', html
    )
    assert total and float(total.group(1)) == kpi(html, "value")
    assert "panel-history" not in html  # not market-dependent: left alone


def test_hedge_expiry_table_counts_the_puts_that_expire_on_each_date():
    from portfolio.views import _expiry_rows

    hedge = {
        "expiries": [
            {"expiry": "2026-03-20", "put_contracts": 33.0},
            {"expiry": "2026-06-19", "put_contracts": 20.0},
        ]
    }
    rows = _expiry_rows(hedge)
    assert [r["expiring_puts"] for r in rows] == [13.0, 20.0]
    assert [r["put_contracts"] for r in rows] == [33.0, 20.0]  # in force, as the API says
    assert hedge["expiries"][0] == {"expiry": "2026-03-20", "put_contracts": 33.0}  # untouched


def test_error_pages_are_styled_and_navigable(client, fake_market):
    from django.template.loader import render_to_string

    resp = client.get("/no-such-page/")
    html = resp.content.decode()
    assert resp.status_code == 404
    assert "<h1>Page not found</h1>" in html and 'class="mainnav"' in html
    # 500 and 503 are rendered without a request (Django's handler; the database middleware).
    for name, heading in (
        ("500.html", "Something went wrong"),
        ("503.html", "Temporarily unavailable"),
    ):
        page = render_to_string(name, {"message": "The database is unavailable."})
        assert f"<h1>{heading}</h1>" in page and 'class="mainnav"' in page
    assert "The database is unavailable." in render_to_string(
        "503.html", {"message": "The database is unavailable."}
    )


def test_navigation_marks_the_current_page(client, fake_market, demo, url):
    html = client.get(url).content.decode()
    assert re.findall(r'<a href="[^"]*" aria-current="page">([^<]+)</a>', html) == ["Portfolio"]


def test_rendered_body_is_reused_per_snapshot_and_dropped_on_a_write(
    client, fake_market, demo, url, monkeypatch
):
    from portfolio import views

    renders: list[str] = []
    real = views.render_to_string

    def counting(name, *args, **kwargs):
        renders.append(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(views, "render_to_string", counting)
    first = client.get(url).content.decode()
    again = client.get(url).content.decode()
    assert renders == ["portfolio/dashboard.html#dashboard-body"]  # rendered once
    body = re.search(r'<div id="dashboard-body".*', first, re.S)
    assert body and body.group(0)[:2000] in again
    shares = demo.positions.get(kind="underlying")
    shares.quantity = 1234
    shares.save()  # bumps the data version: the memo must not serve the old table
    html = client.get(url).content.decode()
    assert len(renders) == 2 and "+1,234" in html
    # Another user with another portfolio never gets this body.
    other = PortfolioFactory(owner=UserFactory())
    client.force_login(other.owner)
    mine = client.get(url).content.decode()
    assert other.name in mine and "+1,234" not in mine
