"""Without OIDC_ISSUER the login page is the local form alone and no /oidc/ route exists."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_no_sign_in_button_or_routes_without_oidc(client, settings) -> None:
    assert not getattr(settings, "OIDC_ISSUER", "")
    page = client.get("/login/")
    assert page.status_code == 200
    assert b'name="password"' in page.content
    assert b"Sign in with" not in page.content
    assert client.get("/oidc/authenticate/").status_code == 404
    assert "accounts.oidc.OidcBackend" not in settings.AUTHENTICATION_BACKENDS
