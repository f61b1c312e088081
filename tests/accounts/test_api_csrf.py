"""CSRF on the JSON API: a session (a cookie the browser sends by itself) must prove the request
came from a page of this site on unsafe methods; a bearer token needs no such proof."""

from __future__ import annotations

import html
import json
import re
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, override_settings

from accounts.models import ApiToken
from tests.strategies.conftest import EXPIRIES, fake_market  # noqa: F401 (fixture)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fake_market")]

URL = "/api/strategies/evaluate"
EVIL = "http://evil.example"
BODY = json.dumps(
    {
        "symbol": "GLD",
        "legs": [
            {"side": "buy", "right": "P", "strike": 250, "expiry": EXPIRIES[2].isoformat()},
        ],
    }
)


@pytest.fixture
def alice():
    return get_user_model().objects.create_user("alice", password="correct horse battery")


@pytest.fixture
def browser(alice) -> Client:
    """A client that enforces CSRF like a real browser session (the default test client skips it)."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    return client


def post(client: Client, **headers: Any):
    return client.post(URL, BODY, content_type="application/json", **headers)


def page_csrf_token(client: Client) -> str:
    """The token the site's pages hand to htmx (``hx-headers`` on ``<body>``)."""
    page = client.get("/")
    assert page.status_code == 200
    match = re.search(r"<body hx-headers='([^']*)'", page.content.decode())
    assert match, "base.html sets hx-headers on <body>"
    return json.loads(html.unescape(match.group(1)))["x-csrftoken"]


@pytest.mark.parametrize("login_required", [True, False])
def test_cross_site_post_with_a_session_is_refused(browser, login_required) -> None:
    with override_settings(LOGIN_REQUIRED=login_required):
        forged = post(browser, HTTP_ORIGIN=EVIL)
    # Outside production the API is open to anonymous callers, but a request carrying a
    # session still runs as its user, so it must not fall through to "anonymous".
    assert forged.status_code == 403, forged.content
    assert forged.json()["error"]["code"] == "csrf_failed"


def test_a_stolen_token_does_not_help_from_another_origin(browser) -> None:
    token = page_csrf_token(browser)
    forged = post(browser, HTTP_ORIGIN=EVIL, HTTP_X_CSRFTOKEN=token)
    assert forged.status_code == 403
    assert forged.json()["error"]["code"] == "csrf_failed"


def test_the_sites_own_pages_can_post_with_their_token(browser) -> None:
    token = page_csrf_token(browser)
    response = post(browser, HTTP_ORIGIN="http://testserver", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200, response.content
    assert response.json()["strategy"]["legs"][0]["strike"] == 250
    without_origin = post(browser, HTTP_X_CSRFTOKEN=token)  # same-site fetch over plain HTTP
    assert without_origin.status_code == 200


def test_safe_methods_need_no_token(browser) -> None:
    response = browser.get("/api/portfolio?symbol=GLD", HTTP_ORIGIN=EVIL)
    assert response.status_code == 200


def test_bearer_token_is_exempt(alice) -> None:
    _, plain = ApiToken.issue(alice, "script")
    client = Client(enforce_csrf_checks=True)
    with override_settings(LOGIN_REQUIRED=True):
        response = post(client, HTTP_ORIGIN=EVIL, HTTP_AUTHORIZATION=f"Bearer {plain}")
    assert response.status_code == 200, response.content


def test_bearer_token_wins_over_a_session_cookie(browser, alice) -> None:
    _, plain = ApiToken.issue(alice, "script")
    response = post(browser, HTTP_ORIGIN=EVIL, HTTP_AUTHORIZATION=f"Bearer {plain}")
    assert response.status_code == 200


def test_anonymous_post_stays_open_outside_production() -> None:
    client = Client(enforce_csrf_checks=True)
    with override_settings(LOGIN_REQUIRED=False):
        response = post(client, HTTP_ORIGIN=EVIL)
    assert response.status_code == 200
    with override_settings(LOGIN_REQUIRED=True):
        refused = post(client, HTTP_ORIGIN=EVIL)
    assert refused.status_code == 401
