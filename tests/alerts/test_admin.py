"""Admin pages list rules, events and deliveries and never show an Apprise URL's secret."""

from __future__ import annotations

import pytest

from alerts import runner
from tests.alerts.helpers import Book, make_rule

pytestmark = pytest.mark.django_db

SECRET = "tk_admin_5ecret"


def test_admin_masks_the_apprise_secret(admin_client, fake_market):
    rule = make_rule(level=0.0, apprise_urls=f"ntfy://u:{SECRET}@ntfy.example.com/{SECRET}")
    runner.evaluate_symbol("GLD", value=Book())
    for url in (
        "/admin/alerts/alertrule/",
        f"/admin/alerts/alertrule/{rule.pk}/change/",
        "/admin/alerts/alertevent/",
        "/admin/alerts/alertdelivery/",
        "/admin/alerts/alertdelivery/?status__exact=pending",
    ):
        page = admin_client.get(url)
        assert page.status_code == 200, url
        assert SECRET not in page.content.decode(), url
    change = admin_client.get(f"/admin/alerts/alertrule/{rule.pk}/change/").content.decode()
    assert "ntfy://ntfy.example.com/…" in change


def test_admin_keeps_stored_urls_when_left_empty(admin_client):
    rule = make_rule(apprise_urls=f"ntfy://u:{SECRET}@ntfy.example.com/t")
    data = {
        "portfolio": rule.portfolio_id,
        "symbol": "GLD",
        "name": "renamed",
        "kind": "spot",
        "op": "above",
        "level": "220",
        "reset_band": "1",
        "enabled": "on",
        "notify_in_app": "on",
        "email": "",
        "apprise_urls": "",
    }
    page = admin_client.post(f"/admin/alerts/alertrule/{rule.pk}/change/", data)
    assert page.status_code == 302
    rule.refresh_from_db()
    assert rule.name == "renamed" and SECRET in rule.apprise_urls
