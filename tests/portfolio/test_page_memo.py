"""The dashboard page served from its memo (core.shell): per-request CSRF tokens, per-user
pages, the bell's count, and flash messages that are shown once and never memoised."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from alerts.models import AlertEvent
from core.shell import CSRF_PLACEHOLDER
from portfolio import views
from tests import factories

pytestmark = pytest.mark.django_db
DASHBOARD = "/"


@pytest.fixture(autouse=True)
def demo(fake_market):
    views._pages.clear()
    views._fragments.clear()
    pf = factories.DemoPortfolioFactory()
    factories.PositionFactory(portfolio=pf)
    factories.OptionPositionFactory(portfolio=pf, expiry="2026-08-21", strike=180)
    return pf


def page_token(html: str) -> str:
    match = re.search(r"hx-headers='\{\"x-csrftoken\": \"([A-Za-z0-9]+)\"\}'", html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def test_a_memoised_page_carries_each_requests_own_working_token() -> None:
    first, second = Client(enforce_csrf_checks=True), Client(enforce_csrf_checks=True)
    pages = [c.get(DASHBOARD).content.decode() for c in (first, second, first)]
    assert len(views._pages) == 1  # one render served all three
    tokens = [page_token(p) for p in pages]
    assert len(set(tokens)) == 3 and not any(CSRF_PLACEHOLDER in p for p in pages)
    for client, token in ((first, tokens[2]), (second, tokens[1])):
        # A bad login with the page's token is a form error (200), not a CSRF failure (403).
        resp = client.post(
            reverse("login"), {"username": "x", "password": "y", "csrfmiddlewaretoken": token}
        )
        assert resp.status_code == 200
    swapped = Client(enforce_csrf_checks=True)
    swapped.get(DASHBOARD)  # its own cookie, then another client's token
    resp = swapped.post(reverse("login"), {"username": "x", "csrfmiddlewaretoken": "a" * 64})
    assert resp.status_code == 403


def test_each_user_gets_their_own_page_and_their_bell_count(demo) -> None:
    alice, bob = factories.UserFactory(username="alice"), factories.UserFactory(username="bob")
    own = factories.PortfolioFactory(owner=alice)
    factories.PositionFactory(portfolio=own)
    clients = {}
    for user in (alice, bob):
        clients[user.username] = Client()
        clients[user.username].force_login(user)
    bob_page = clients["bob"].get(DASHBOARD).content.decode()
    alice_page = clients["alice"].get(DASHBOARD).content.decode()
    assert "Log out bob" in bob_page and "alice" not in bob_page
    assert "Log out alice" in alice_page and "Log out bob" not in alice_page
    assert "Alerts: none unread" in alice_page

    AlertEvent.objects.create(
        portfolio=own,
        crossing=1,
        rule_text="GLD ≥ 210",
        symbol="GLD",
        kind="price",
        value=211.0,
        message="GLD crossed 210",
    )
    assert "Alerts: 1 unread" in clients["alice"].get(DASHBOARD).content.decode()
    assert "Alerts: none unread" in clients["bob"].get(DASHBOARD).content.decode()


def test_a_flash_message_is_shown_once_and_never_memoised() -> None:
    user = factories.UserFactory()
    pf = factories.PortfolioFactory(owner=user)
    client = Client()
    client.force_login(user)
    page = f"{DASHBOARD}?portfolio={pf.pk}"
    client.get(page)
    csv = SimpleUploadedFile("p.csv", b"symbol,quantity,cost_basis\nGLD,1,1\n")
    resp = client.post(reverse("portfolio:import", args=[pf.pk]), {"file": csv}, follow=True)
    assert "Imported 1 trade(s)." in resp.content.decode()
    for _ in range(2):
        again = client.get(page).content.decode()
        assert "Imported 1 trade(s)." not in again
        assert 'id="positions-table"' in again
