"""OpenID Connect sign-in end to end: the app (daphne) against a real provider
(django-oidc-provider, tests/support/oidc_provider) in a second process, driven like a browser."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit, urlunsplit

import pytest
import requests

from tests.support.oidc_provider import OidcProvider, run_oidc_provider
from tests.support.server import ROOT, AppServer, app_env, run_app_server
from tests.support.services import free_port

pytestmark = pytest.mark.slow

CLIENT_ID = "vault-dash"
CLIENT_SECRET = "op-client-secret-9f3c1d7e2b"
IDP_PASSWORD = "idp password 1"
LOCAL_PASSWORD = "local password 1"

PROVIDER_USERS = [
    {"username": "alice.idp", "email": "Alice@Example.com", "password": IDP_PASSWORD},
    {
        "username": "bob.idp",
        "email": "bob@example.com",
        "password": IDP_PASSWORD,
        "verified": False,
    },
    {"username": "carol", "email": "carol@example.com", "password": IDP_PASSWORD},
]
# Local accounts: alice and bob share their provider account's email; carol has none here.
LOCAL_USERS = """
from django.contrib.auth import get_user_model
User = get_user_model()
User.objects.create_user("alice", "alice@example.com", "local password 1")
User.objects.create_user("bob", "bob@example.com", "local password 1")
"""


@dataclass
class World:
    provider: OidcProvider
    app: AppServer
    creating_app: AppServer  # the same provider, OIDC_CREATE_USERS=true
    spare_port: int  # a third registered redirect URI, for an app started by one test


def _app_env(tmp, port: int, issuer: str, create: bool) -> dict[str, str]:
    return {
        "DATA_DIR": str(tmp),
        "APP_PORT": str(port),
        "OIDC_ISSUER": issuer,
        "OIDC_CLIENT_ID": CLIENT_ID,
        "OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "OIDC_PROVIDER_NAME": "Test IdP",
        "OIDC_CREATE_USERS": "true" if create else "false",
        "LOG_LEVEL": "DEBUG",  # the secret must stay out of the log even at DEBUG
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("oidc")
    port, creating_port, spare_port = free_port(), free_port(), free_port()
    spec = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "redirect_uri": f"http://127.0.0.1:{port}/oidc/callback/",
        "post_logout_redirect_uri": f"http://127.0.0.1:{port}/login/",
        "users": PROVIDER_USERS,
    }
    with run_oidc_provider(tmp, spec) as provider:
        # The second app is a second registered redirect URI of the same client.
        _add_redirect_uris(
            provider, [f"http://127.0.0.1:{p}/oidc/callback/" for p in (creating_port, spare_port)]
        )
        # One database for both apps (one migration run); only their settings differ.
        env = _app_env(tmp, port, provider.issuer, create=False)
        creating_env = _app_env(tmp, creating_port, provider.issuer, create=True)
        with (
            run_app_server(env) as app,
            run_app_server(creating_env, migrate=False) as creating_app,
        ):
            subprocess.run(
                [sys.executable, "manage.py", "shell"],
                input=LOCAL_USERS.encode(),
                cwd=ROOT,
                env=app.env,
                check=True,
                capture_output=True,
            )
            yield World(provider, app, creating_app, spare_port)


def _add_redirect_uris(provider: OidcProvider, uris: list[str]) -> None:
    code = (
        "from oidc_provider.models import Client; c = Client.objects.get(client_id="
        f"{CLIENT_ID!r}); c.redirect_uris = c.redirect_uris + {uris!r}; c.save()"
    )
    env = app_env({"PROVIDER_DATA_DIR": str(provider.data_dir), "PROVIDER_SITE_URL": provider.url})
    env["DJANGO_SETTINGS_MODULE"] = "tests.support.oidc_provider.settings"
    subprocess.run(
        [sys.executable, "-m", "django", "shell", "-c", code],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )


@pytest.fixture(autouse=True)
def honest_provider(world) -> Iterator[None]:
    world.provider.tweak()
    yield
    world.provider.tweak()


# --- a browser -----------------------------------------------------------------------------
def form_token(html: str) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert match, html[:500]
    return match.group(1)


def follow(browser: requests.Session, response: requests.Response, stop: str = "") -> str:
    """Follow redirects by hand; return the URL that starts with ``stop`` (unvisited), or the
    last URL visited."""
    while response.is_redirect:
        url = urljoin(response.url, response.headers["Location"])
        if stop and url.startswith(stop):
            return url
        response = browser.get(url, allow_redirects=False, timeout=30)
    browser.last = response  # type: ignore[attr-defined]
    return response.url


def to_callback(browser: requests.Session, app: AppServer, username: str) -> str:
    """Click "Sign in with Test IdP" and log in at the provider; the callback URL, unvisited."""
    login_page = browser.get(f"{app.url}/login/", timeout=30)
    match = re.search(r'id="oidc-sign-in" href="([^"]+)"', login_page.text)
    assert match and "Sign in with Test IdP" in login_page.text
    start = browser.get(urljoin(app.url, match.group(1)), allow_redirects=False, timeout=30)
    callback = f"{app.url}/oidc/callback/"
    url = follow(browser, start, stop=callback)
    if url.startswith(callback):
        return url  # still signed in at the provider
    page = browser.last  # type: ignore[attr-defined]
    assert "Test identity provider" in page.text, page.text[:300]
    form = {
        "csrfmiddlewaretoken": form_token(page.text),
        "username": username,
        "password": IDP_PASSWORD,
        "next": parse_qs(urlsplit(page.url).query)["next"][0],
    }
    posted = browser.post(page.url, data=form, allow_redirects=False, timeout=30)
    url = follow(browser, posted, stop=callback)
    assert url.startswith(callback), url
    return url


def finish(browser: requests.Session, callback_url: str) -> requests.Response:
    return browser.get(callback_url, timeout=30)


def signed_in_as(browser: requests.Session, app: AppServer) -> str | None:
    page = browser.get(f"{app.url}/", timeout=30).text
    match = re.search(r"Log out ([^<]+)</button>", page)
    return match.group(1).strip() if match else None


def sign_in(app: AppServer, username: str) -> tuple[requests.Session, requests.Response]:
    browser = requests.Session()
    return browser, finish(browser, to_callback(browser, app, username))


def refusal(response: requests.Response) -> str:
    assert urlsplit(response.url).path == "/login/", response.url
    match = re.search(r"Sign-in with Test IdP failed: ([^<]+)", response.text)
    assert match, response.text[:500]
    return match.group(1)


# --- the tests -----------------------------------------------------------------------------
def test_sign_in_matches_the_local_account_by_verified_email_and_logs_out_everywhere(world):
    browser, landed = sign_in(world.app, "alice.idp")
    assert landed.status_code == 200 and urlsplit(landed.url).path == "/"
    assert signed_in_as(browser, world.app) == "alice"  # the local account, email matched

    page = browser.get(f"{world.app.url}/", timeout=30).text
    out = browser.post(
        f"{world.app.url}/logout/",
        data={"csrfmiddlewaretoken": form_token(page)},
        headers={"Referer": f"{world.app.url}/"},
        allow_redirects=False,
        timeout=30,
    )
    # The browser goes to the provider's end-session endpoint and comes back to our login page.
    assert out.headers["Location"].startswith(f"{world.provider.issuer}/end-session")
    assert follow(browser, out) == f"{world.app.url}/login/"
    assert signed_in_as(browser, world.app) is None
    # Signed out at the provider too: signing in again asks for the password there.
    start = browser.get(f"{world.app.url}/oidc/authenticate/", allow_redirects=False, timeout=30)
    assert "/accounts/login/" in follow(browser, start, stop=f"{world.app.url}/oidc/callback/")


def test_local_accounts_keep_working(world):
    browser = requests.Session()
    page = browser.get(f"{world.app.url}/login/", timeout=30)
    response = browser.post(
        page.url,
        data={
            "csrfmiddlewaretoken": form_token(page.text),
            "username": "bob",
            "password": LOCAL_PASSWORD,
        },
        timeout=30,
    )
    assert response.status_code == 200
    assert signed_in_as(browser, world.app) == "bob"


def test_a_bad_or_replayed_state_is_refused(world):
    browser = requests.Session()
    callback = to_callback(browser, world.app, "alice.idp")
    parts = urlsplit(callback)
    query = parse_qs(parts.query)
    forged = urlunsplit(parts._replace(query=urlencode({**query, "state": "forged"}, doseq=True)))
    assert "not started here" in refusal(finish(browser, forged))
    assert signed_in_as(browser, world.app) is None
    # The genuine answer still works once; the same callback a second time is refused.
    assert urlsplit(finish(browser, callback).url).path == "/"
    assert signed_in_as(browser, world.app) == "alice"
    assert "already used" in refusal(finish(browser, callback))
    # A callback opened in another browser (no session holding its state) is refused too.
    stranger = requests.Session()
    assert "did not sign you in" in refusal(finish(stranger, callback))
    assert signed_in_as(stranger, world.app) is None


def test_an_id_token_from_another_issuer_is_refused(world):
    world.provider.tweak(iss="http://evil.example/openid")
    browser, response = sign_in(world.app, "alice.idp")
    assert refusal(response) == "the ID token was issued by another issuer."
    assert signed_in_as(browser, world.app) is None


def test_an_expired_id_token_is_refused(world):
    world.provider.tweak(exp_offset=-120)
    browser, response = sign_in(world.app, "alice.idp")
    assert refusal(response) == "the ID token has expired."
    assert signed_in_as(browser, world.app) is None


def test_an_unverified_email_matches_nobody(world):
    browser, response = sign_in(world.app, "bob.idp")
    assert refusal(response) == "your provider has not verified your email address."
    assert signed_in_as(browser, world.app) is None


def test_users_are_created_only_when_the_settings_say_so(world):
    browser, response = sign_in(world.app, "carol")
    assert "no account here matches your email" in refusal(response)
    assert signed_in_as(browser, world.app) is None

    browser, response = sign_in(world.creating_app, "carol")
    assert response.status_code == 200
    assert signed_in_as(browser, world.creating_app) == "carol"
    # The created account has no usable password: only the provider signs it in.
    page = browser.get(f"{world.creating_app.url}/login/", timeout=30)
    fresh = requests.Session()
    page = fresh.get(f"{world.creating_app.url}/login/", timeout=30)
    fresh.post(
        page.url,
        data={"csrfmiddlewaretoken": form_token(page.text), "username": "carol", "password": ""},
        timeout=30,
    )
    assert signed_in_as(fresh, world.creating_app) is None


def test_an_unreachable_provider_is_a_message_not_a_500(world):
    dead = f"http://127.0.0.1:{free_port()}/openid"
    env = _app_env(world.app.env["DATA_DIR"], free_port(), dead, create=False)
    with run_app_server(env, migrate=False) as app:
        browser = requests.Session()
        response = browser.get(f"{app.url}/oidc/authenticate/", timeout=30)
        assert refusal(response) == "the provider cannot be reached."


def test_a_wrong_client_secret_is_a_message_and_stays_out_of_the_log(world):
    env = _app_env(world.app.env["DATA_DIR"], world.spare_port, world.provider.issuer, False)
    wrong_secret = "not-the-registered-secret-4711"
    env["OIDC_CLIENT_SECRET"] = wrong_secret
    with run_app_server(env, migrate=False) as app:
        browser, response = sign_in(app, "alice.idp")
        assert refusal(response) == "the provider refused the sign-in."
        assert signed_in_as(browser, app) is None
        assert "provider request error (HTTP 400)" in app.log()
        assert wrong_secret not in app.log()


def test_the_client_secret_never_reaches_the_log(world):
    # After successful, refused and failed sign-ins (the other tests, or these).
    world.provider.tweak(exp_offset=-120)
    sign_in(world.app, "alice.idp")
    world.provider.tweak()
    sign_in(world.creating_app, "alice.idp")
    for server in (world.app, world.creating_app):
        log = server.log()
        assert "OIDC" in log or "oidc" in log
        assert CLIENT_SECRET not in log
