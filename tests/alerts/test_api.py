"""``/api/alerts``: rules of a portfolio you can edit; JSON errors; secrets never returned."""

from __future__ import annotations

import pytest
from django.test import Client

from alerts import runner
from alerts.models import AlertEvent, AlertRule
from tests.alerts.helpers import Book, make_rule
from tests.factories import PortfolioFactory, UserFactory

pytestmark = pytest.mark.django_db

SECRET = "tk_api_5ecret"


def body(portfolio, **kw):
    data = {"portfolio": portfolio.pk, "kind": "spot", "op": "above", "level": 210, "reset_band": 2}
    data.update(kw)
    return data


def test_create_list_delete(owner_client):
    client, p = owner_client
    url = f"ntfy://u:{SECRET}@ntfy.example.com/gold"
    r = client.post(
        "/api/alerts",
        body(p, apprise_urls=[url], email="me@example.com"),
        content_type="application/json",
    )
    assert r.status_code == 201, r.content
    created = r.json()
    assert created["symbol"] == "GLD" and created["state"] == "armed"
    assert created["apprise_urls"] == ["ntfy://ntfy.example.com/…"]
    assert SECRET in AlertRule.objects.get().apprise_urls
    listed = client.get(f"/api/alerts?portfolio={p.pk}")
    assert [x["id"] for x in listed.json()] == [created["id"]]
    assert SECRET not in listed.content.decode()
    assert client.delete(f"/api/alerts/{created['id']}").status_code == 204
    assert AlertRule.objects.count() == 0


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"kind": "nope"}, "kind"),
        ({"kind": "roll_days", "op": "above"}, "op"),
        ({"kind": "hedge_ratio", "op": "outside", "level": 1, "upper": 0.5}, "upper"),
        ({"reset_band": -1}, "reset_band"),
        ({"level": "nan"}, "level"),
        ({"email": "not-an-address"}, "email"),
        ({"apprise_urls": [f"bogus://{SECRET}"]}, "apprise_urls"),
        ({"symbol": "$$$"}, "symbol"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(owner_client, extra, field):
    client, p = owner_client
    r = client.post("/api/alerts", body(p, **extra), content_type="application/json")
    assert r.status_code == 400, r.content
    err = r.json()["error"]
    assert err["field"] == field and err["message"]
    assert SECRET not in r.content.decode()
    assert AlertRule.objects.count() == 0


def test_others_portfolios_are_out_of_reach(owner_client):
    client, _ = owner_client
    other = PortfolioFactory()
    rule = make_rule(portfolio=other)
    assert client.get(f"/api/alerts?portfolio={other.pk}").status_code == 404
    r = client.post("/api/alerts", body(other), content_type="application/json")
    assert r.status_code == 404 and r.json()["error"]["field"] == "portfolio"
    assert client.delete(f"/api/alerts/{rule.pk}").status_code == 404
    assert client.delete(f"/api/alerts/{10**30}").status_code == 404
    assert AlertRule.objects.filter(pk=rule.pk).exists()


def test_anonymous_gets_401():
    p = PortfolioFactory()
    r = Client().get(f"/api/alerts?portfolio={p.pk}")
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"


def test_session_changes_need_the_csrf_token():
    user = UserFactory()
    p = PortfolioFactory(owner=user)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    r = client.post("/api/alerts", body(p), content_type="application/json")
    # The API's session authentication checks CSRF on every unsafe call (accounts/auth.py).
    assert r.status_code == 403 and r.json()["error"]["code"] == "csrf_failed"
    assert AlertRule.objects.count() == 0


def test_events_log(owner_client, fake_market):
    client, p = owner_client
    make_rule(portfolio=p, level=100.0, email="me@example.com")
    runner.evaluate_symbol("GLD", value=Book())
    events = client.get(f"/api/alerts/events?portfolio={p.pk}").json()
    assert len(events) == 1 == AlertEvent.objects.count()
    assert events[0]["value"] == 200.0 and events[0]["numbers"]["spot"] == 200.0
    assert events[0]["deliveries"][0]["status"] == "pending"


def test_documented_in_the_openapi_schema(client):
    paths = client.get("/api/openapi.json").json()["paths"]
    assert {"get", "post"} <= set(paths["/api/alerts"]) and "delete" in paths[
        "/api/alerts/{rule_id}"
    ]
