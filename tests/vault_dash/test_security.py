"""API tokens, login throttling and security headers."""

from __future__ import annotations

import subprocess
import sys

import pytest
from django.contrib.auth import get_user_model
from django.test import override_settings

from accounts.models import ApiToken
from tests.support.server import ROOT, app_env

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice():
    return get_user_model().objects.create_user("alice", password="correct horse battery")


def test_token_is_stored_as_a_digest_and_authenticates(alice) -> None:
    token, plain = ApiToken.issue(alice, "cron")
    assert plain.startswith(f"vd_{token.prefix}_")
    assert plain not in (token.digest, token.prefix)
    assert ApiToken.objects.authenticate(plain) == token
    assert ApiToken.objects.authenticate(plain + "x") is None
    assert ApiToken.objects.authenticate("vd_nothing_here") is None
    assert ApiToken.objects.authenticate("garbage") is None


def test_revoked_token_and_inactive_user_are_refused(alice) -> None:
    token, plain = ApiToken.issue(alice, "cron")
    token.revoke()
    assert ApiToken.objects.authenticate(plain) is None
    _, other = ApiToken.issue(alice, "second")
    alice.is_active = False
    alice.save()
    assert ApiToken.objects.authenticate(other) is None


def test_token_records_last_use(alice) -> None:
    token, plain = ApiToken.issue(alice, "cron")
    assert token.last_used_at is None
    ApiToken.objects.authenticate(plain)
    token.refresh_from_db()
    assert token.last_used_at is not None


def four_ways(client, path: str, user, plain: str) -> tuple:
    """``path`` fetched anonymously, with a wrong token, with ``plain`` (a token of ``user``)
    and in a session of ``user``, in that order."""
    anonymous = client.get(path)
    bad_token = client.get(path, HTTP_AUTHORIZATION="Bearer vd_0000_nottherealtoken")
    with_token = client.get(path, HTTP_AUTHORIZATION=f"Bearer {plain}")
    client.force_login(user)
    return anonymous, bad_token, with_token, client.get(path)


def test_api_needs_auth_in_production_and_accepts_token_or_session(client, alice) -> None:
    _, plain = ApiToken.issue(alice, "cron")
    url = "/api/portfolio?symbol=GLD"
    with override_settings(LOGIN_REQUIRED=True):
        no_auth, bad_token, with_token, with_session = four_ways(client, url, alice, plain)
    for refused in (no_auth, bad_token):
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "unauthorized"
    for accepted in (with_token, with_session):
        assert accepted.status_code == 200, accepted.content[:200]
        body = accepted.json()
        assert body["symbol"] == "GLD" and body["market"]["spot"] > 0


@pytest.mark.parametrize("path", ["/api/openapi.json", "/api/docs"])
def test_api_docs_need_login_in_production(client, alice, path) -> None:
    _, plain = ApiToken.issue(alice, "cron")
    with override_settings(LOGIN_REQUIRED=True, API_DOCS_PUBLIC=False):
        anonymous, bad_token, with_token, with_session = four_ways(client, path, alice, plain)
    for refused in (anonymous, bad_token):
        if path.endswith(".json"):
            assert refused.status_code == 401
            assert refused.json()["error"]["code"] == "unauthorized"
        else:
            assert refused.status_code == 302
            assert refused["Location"].startswith("/login/?next=/api/docs")
    assert with_token.status_code == 200 and with_session.status_code == 200
    if path.endswith(".json"):
        assert "/api/portfolio" in with_session.json()["paths"]


@pytest.mark.parametrize(
    ("login_required", "docs_public"), [(True, True), (False, False)], ids=["opened", "dev"]
)
def test_api_docs_open_by_setting_or_outside_production(client, login_required, docs_public):
    with override_settings(LOGIN_REQUIRED=login_required, API_DOCS_PUBLIC=docs_public):
        assert client.get("/api/openapi.json").status_code == 200
        assert client.get("/api/docs").status_code == 200


def test_api_is_open_to_anonymous_outside_production(client) -> None:
    with override_settings(LOGIN_REQUIRED=False):
        answer = client.get("/api/portfolio?symbol=GLD")
    assert answer.status_code == 200, answer.content[:200]
    assert answer.json()["market"]["symbol"] == "GLD"


def test_api_token_command_creates_lists_and_revokes(alice, tmp_path) -> None:
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("api_token", "create", "alice", "--name", "backup", stdout=out)
    plain = out.getvalue().strip()
    token = ApiToken.objects.authenticate(plain)
    assert token is not None and token.name == "backup"
    listing = StringIO()
    call_command("api_token", "list", "alice", stdout=listing)
    assert token.prefix in listing.getvalue() and plain not in listing.getvalue()
    call_command("api_token", "revoke", token.prefix, stdout=StringIO())
    assert ApiToken.objects.authenticate(plain) is None


@override_settings(AXES_ENABLED=True)
def test_login_is_throttled_after_repeated_failures(client, alice) -> None:
    for _ in range(4):
        response = client.post("/login/", {"username": "alice", "password": "wrong"})
        assert response.status_code == 200  # the form again, with an error
    fifth = client.post("/login/", {"username": "alice", "password": "wrong"})
    assert fifth.status_code == 429
    # Locked out now: even the right password is refused until the cool-off passes.
    locked = client.post("/login/", {"username": "alice", "password": "correct horse battery"})
    assert locked.status_code == 429
    assert b"Too many failed log-ins" in locked.content


@override_settings(AXES_ENABLED=True)
def test_successful_login_works_with_throttling_on(client, alice) -> None:
    response = client.post("/login/", {"username": "alice", "password": "correct horse battery"})
    assert response.status_code == 302


def test_security_headers_on_pages(client) -> None:
    response = client.get("/login/")
    csp = response["Content-Security-Policy"]
    assert (
        "script-src 'self'" in csp
        and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    )
    assert "frame-ancestors 'none'" in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_login_form_has_csrf_protection(client) -> None:
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    assert strict.post("/login/", {"username": "a", "password": "b"}).status_code == 403
    assert b"csrfmiddlewaretoken" in client.get("/login/").content


def test_production_sets_hsts_and_secure_cookies(tmp_path) -> None:
    from tests.vault_dash.test_config import STRONG_SECRET

    env = app_env(
        {
            "DATA_DIR": str(tmp_path),
            "APP_ENV": "production",
            "NICEGUI_STORAGE_SECRET": STRONG_SECRET,
            "ALLOWED_HOSTS": "vault.example.com",
        }
    )
    code = (
        "import django; django.setup(); from django.test import Client; "
        "r = Client().get('/health/live', HTTP_HOST='vault.example.com', "
        "HTTP_X_FORWARDED_PROTO='https', secure=True); "
        "print(r.status_code, r.headers.get('Strict-Transport-Security'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert "max-age=31536000" in result.stdout, result.stderr
