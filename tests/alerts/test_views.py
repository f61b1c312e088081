"""The alerts page: owners add and delete rules; errors re-render; secrets never echoed."""

from __future__ import annotations

import pytest
from django.test import Client

from alerts import runner
from alerts.models import AlertRule
from tests.alerts.helpers import Book, make_rule
from tests.factories import PortfolioFactory

pytestmark = pytest.mark.django_db

SECRET = "tk_view_5ecret"


def form(**kw):
    data = {"kind": "spot", "op": "below", "level": "180", "reset_band": "2", "symbol": ""}
    data.update(kw)
    return data


def test_add_a_rule_and_see_its_state(owner_client, fake_market):
    client, p = owner_client
    url = f"/portfolios/{p.pk}/alerts/"
    assert "No alert rules yet" in client.get(url).content.decode()
    r = client.post(url, form(apprise_urls=f"ntfy://u:{SECRET}@ntfy.example.com/t"))
    assert r.status_code == 302
    rule = AlertRule.objects.get()
    assert rule.symbol == "GLD" and SECRET in rule.apprise_urls
    make_rule(portfolio=p, kind="iv_rank", op="above", level=50, reset_band=0)
    runner.evaluate_symbol("GLD", value=Book())
    page = client.get(url).content.decode()
    assert "GLD Spot price crosses a level: ≤ 180" in page and "No alert rules yet" not in page
    assert "ntfy://ntfy.example.com/…" in page and SECRET not in page
    assert "cannot be evaluated: no IV history yet" in page


def test_invalid_rule_re_renders_without_echoing_the_secret(owner_client):
    client, p = owner_client
    r = client.post(
        f"/portfolios/{p.pk}/alerts/",
        form(op="outside", apprise_urls=f"ntfy://u:{SECRET}@ntfy.example.com/t"),
    )
    assert r.status_code == 400
    page = r.content.decode()
    assert "allows: above, below" in page and SECRET not in page
    assert AlertRule.objects.count() == 0


def test_delete_and_ownership(owner_client):
    client, p = owner_client
    mine = make_rule(portfolio=p)
    theirs = make_rule(portfolio=PortfolioFactory())
    assert client.post(f"/portfolios/{p.pk}/alerts/{mine.pk}/delete/").status_code == 302
    assert not AlertRule.objects.filter(pk=mine.pk).exists()
    other = theirs.portfolio_id
    assert client.get(f"/portfolios/{other}/alerts/").status_code == 404
    r = client.post(f"/portfolios/{other}/alerts/{theirs.pk}/delete/")
    assert r.status_code == 404 and AlertRule.objects.filter(pk=theirs.pk).exists()
    # A rule id of another portfolio through my portfolio's URL: not found either.
    assert client.post(f"/portfolios/{p.pk}/alerts/{theirs.pk}/delete/").status_code == 404


def test_anonymous_is_sent_to_login():
    p = PortfolioFactory()
    r = Client().get(f"/portfolios/{p.pk}/alerts/")
    assert r.status_code == 302 and "/login/" in r["Location"]
