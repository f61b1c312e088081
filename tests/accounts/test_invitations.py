"""Accounts come from single-use, expiring invitation links, commands, or (when on) sign-up."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from accounts.models import Invitation
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "a long passphrase 4 gold"


def _signup(client, url, username="newcomer"):
    return client.post(
        url,
        {"username": username, "email": "", "password1": PASSWORD, "password2": PASSWORD},
    )


def test_an_invitation_creates_one_account_once_and_logs_it_in(client):
    invitation, token = Invitation.issue(email="new@example.com")
    url = reverse("accounts:accept", args=[token])
    page = client.get(url)
    assert page.status_code == 200 and "new@example.com" in page.content.decode()
    resp = _signup(client, url)
    assert resp.status_code == 302 and resp["Location"] == reverse("portfolio:welcome")
    user = get_user_model().objects.get(username="newcomer")
    invitation.refresh_from_db()
    assert invitation.used_by == user and invitation.status == "used"
    assert client.get(reverse("portfolio:welcome")).status_code == 200  # logged in

    client.logout()
    assert client.get(url).status_code == 404
    assert _signup(client, url, "second").status_code == 404
    assert not get_user_model().objects.filter(username="second").exists()


def test_expired_unknown_and_malformed_links_are_refused(client):
    invitation, token = Invitation.issue()
    Invitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert client.get(reverse("accounts:accept", args=[token])).status_code == 404
    for bad in ("inv_00000000_nope", "garbage", token[:-1] + "x", "x" * 300):
        assert client.get(reverse("accounts:accept", args=[bad])).status_code == 404


def test_only_a_digest_is_stored():
    invitation, token = Invitation.issue()
    assert token not in (invitation.digest, invitation.prefix)
    assert Invitation.objects.find(token) == invitation


def test_a_weak_password_is_refused_and_the_link_stays_usable(client):
    _invitation, token = Invitation.issue()
    url = reverse("accounts:accept", args=[token])
    resp = client.post(url, {"username": "x", "password1": "123", "password2": "123"})
    assert resp.status_code == 400
    assert Invitation.objects.find(token) is not None


def test_staff_create_invitations_in_the_admin_and_see_the_link_once(client):
    staff = UserFactory(username="boss", is_staff=True, is_superuser=True)
    client.force_login(staff)
    resp = client.post(
        reverse("admin:accounts_invitation_add"),
        {"email": "friend@example.com", "note": "", "days": "3"},
        follow=True,
    )
    assert resp.status_code == 200
    [message] = [str(m) for m in resp.context["messages"] if "Invitation link" in str(m)]
    link = message.split(": ", 1)[1]
    invitation = Invitation.objects.get()
    assert invitation.created_by == staff and invitation.email == "friend@example.com"
    assert timedelta(days=2, hours=23) < invitation.expires_at - timezone.now() <= timedelta(days=3)
    token = link.rstrip("/").rsplit("/", 1)[1]
    assert Invitation.objects.find(token) == invitation
    listing = client.get(reverse("admin:accounts_invitation_changelist"), {"used_at__isempty": "1"})
    assert listing.status_code == 200 and listing.context["cl"].result_count == 1
    change = client.get(reverse("admin:accounts_invitation_change", args=[invitation.pk]))
    assert change.status_code == 200


def test_invite_command_prints_a_working_link(client):
    out = io.StringIO()
    call_command(
        "invite",
        "--days",
        "2",
        "--base-url",
        "https://vault.example",
        stdout=out,
        stderr=io.StringIO(),
    )
    link = out.getvalue().strip()
    assert link.startswith("https://vault.example/accounts/invite/inv_")
    path = link.removeprefix("https://vault.example")
    assert _signup(client, path).status_code == 302


def test_create_user_command_reads_the_password_from_stdin():
    call_command(
        "create_user",
        "cli",
        "--password-stdin",
        stdin=io.StringIO(PASSWORD + "\n"),
        stdout=io.StringIO(),
    )
    user = get_user_model().objects.get(username="cli")
    assert user.check_password(PASSWORD) and not user.is_staff
    with pytest.raises(CommandError, match="already exists"):
        call_command("create_user", "cli", "--password-stdin", stdin=io.StringIO(PASSWORD))
    with pytest.raises(CommandError):
        call_command("create_user", "weak", "--password-stdin", stdin=io.StringIO("123\n"))


def test_open_signup_is_off_by_default(client, settings):
    assert settings.OPEN_SIGNUP is False
    assert client.get(reverse("accounts:signup")).status_code == 404
    assert _signup(client, reverse("accounts:signup")).status_code == 404
    with override_settings(OPEN_SIGNUP=True):
        assert client.get(reverse("accounts:signup")).status_code == 200
        assert _signup(client, reverse("accounts:signup")).status_code == 302
    assert get_user_model().objects.filter(username="newcomer").exists()
