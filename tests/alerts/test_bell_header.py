"""The bell in the page header: the count rendered by the server, only the user's own alerts,
and the alert log it links to, which reads them."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from alerts.models import AlertEvent
from alerts.templatetags.alert_bell import bell_label
from tests.factories import PortfolioFactory, UserFactory

pytestmark = pytest.mark.django_db

BELL = re.compile(r'<a id="alert-bell"[^>]*data-unread="(\d+)"[^>]*aria-label="([^"]*)"')


def fire(portfolio: Any, n: int, *, read: bool = False, in_app: bool = True) -> None:
    for i in range(n):
        AlertEvent.objects.create(
            portfolio=portfolio,
            crossing=i + 1,
            rule_text="GLD spot ≥ 210",
            symbol="GLD",
            kind="spot",
            value=211.0 + i,
            message=f"GLD spot {211 + i} ≥ 210 ({portfolio.name})",
            in_app=in_app,
            read_at=timezone.now() if read else None,
        )


def bell(client: Client, path: str = "/") -> tuple[int, str]:
    html = client.get(path).content.decode()
    m = BELL.search(html)
    assert m, "no bell in the page header"
    return int(m.group(1)), m.group(2)


@pytest.fixture
def owner_client() -> tuple[Any, Client]:
    user = UserFactory()
    client = Client()
    client.force_login(user)
    return user, client


def test_the_header_shows_the_users_unread_count_in_words(owner_client, fake_market):
    user, client = owner_client
    mine, also_mine = PortfolioFactory(owner=user), PortfolioFactory(owner=user)
    fire(mine, 2)
    fire(also_mine, 1)
    AlertEvent.objects.filter(portfolio=also_mine).update(crossing=7)
    fire(also_mine, 1, read=True)  # read already: not counted
    count, label = bell(client)
    assert (count, label) == (3, "Alerts: 3 unread")
    html = client.get("/").content.decode()
    assert '<span class="bell-count" aria-hidden="true">3</span>' in html


def test_other_users_alerts_and_log_only_events_are_never_counted(owner_client, fake_market):
    user, client = owner_client
    fire(PortfolioFactory(), 4)  # someone else's portfolio
    fire(PortfolioFactory(owner=user), 1, in_app=False)  # e-mail only: not an in-app alert
    count, label = bell(client)
    assert (count, label) == (0, "Alerts: none unread")
    html = client.get("/").content.decode()
    assert '<span class="bell-count" aria-hidden="true" hidden>0</span>' in html
    # Their log is not shown either.
    inbox = client.get("/alerts/").content.decode()
    assert "GLD spot 211" not in inbox and "Nothing has fired yet." in inbox


def test_no_bell_for_anonymous_visitors(client, fake_market):
    assert 'id="alert-bell"' not in client.get("/login/").content.decode()


def test_the_log_the_bell_links_to_reads_the_alerts(owner_client, fake_market):
    user, client = owner_client
    portfolio = PortfolioFactory(owner=user)
    fire(portfolio, 2)
    stranger = PortfolioFactory()
    fire(stranger, 1)
    html = client.get("/").content.decode()
    assert 'href="/alerts/"' in html
    page = client.get("/alerts/")
    assert page.status_code == 200
    body = page.content.decode()
    assert body.count('<span class="badge warn">new</span>') == 2  # they were unread when shown
    assert f"({portfolio.name})" in body and f"({stranger.name})" not in body
    # Seeing the log read them: the bell of the very page that read them, and after, says 0.
    assert BELL.search(body).group(1) == "0"  # type: ignore[union-attr]
    assert bell(client)[0] == 0
    assert AlertEvent.objects.filter(portfolio=stranger, read_at__isnull=True).count() == 1
    assert client.get("/alerts/").content.decode().count('class="badge warn">new<') == 0


def test_the_log_needs_a_login_and_only_get(client, owner_client):
    assert client.get("/alerts/").status_code == 302
    _, logged_in = owner_client
    assert logged_in.post("/alerts/").status_code == 405


@pytest.mark.parametrize(("n", "text"), [(0, "Alerts: none unread"), (1, "Alerts: 1 unread")])
def test_bell_label(n, text):
    assert bell_label(n) == text


def test_a_portfolios_log_shows_the_same_rows_as_the_inbox(owner_client, fake_market):
    user, client = owner_client
    portfolio = PortfolioFactory(owner=user)
    fire(portfolio, 2)
    body = client.get(f"/portfolios/{portfolio.pk}/alerts/").content.decode()
    log = body[body.index('id="alert-log"') :]
    # Times in the reader's zone (time.js rewrites the <time>), the unread ones marked new.
    assert log.count('<time class="when" datetime="') == 2
    assert log.count('<span class="badge warn">new</span>') == 2
    assert f"GLD spot 212 ≥ 210 ({portfolio.name})" in log
    # Seeing it read them: the inbox has nothing new after.
    assert client.get("/alerts/").content.decode().count('class="badge warn">new<') == 0
