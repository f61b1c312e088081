"""Delivery to real receivers on loopback: what arrives, how many times, retries, no leaks."""

from __future__ import annotations

import logging
from datetime import timedelta
from email.header import decode_header, make_header

import pytest
from django.utils import timezone

from alerts import delivery, runner
from alerts.models import AlertDelivery, AlertRule
from tests.alerts.helpers import Book, make_rule
from tests.alerts.receivers import http_server, smtp_server

pytestmark = pytest.mark.django_db

SECRET = "tk_9f8e7d6c5b4a"


@pytest.fixture
def smtp(settings):
    with smtp_server() as (port, inbox):
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        yield inbox


@pytest.fixture
def push():
    with http_server() as (port, inbox):
        yield port, inbox


def test_one_crossing_arrives_exactly_once_by_email_and_push(fake_market, smtp, push, caplog):
    caplog.set_level(logging.DEBUG)
    port, inbox = push
    url = f"ntfy://alerts:{SECRET}@127.0.0.1:{port}/gold-{SECRET}"
    rule = make_rule(level=210.0, reset_band=5.0, email="me@example.com", apprise_urls=url)
    book = Book()
    for spot in (200, 211, 215, 213, 212):  # one crossing, then it stays above
        book.spot = spot
        runner.evaluate_symbol("GLD", value=book)
        delivery.deliver_due()
    assert len(smtp.messages) == 1
    rcpt, msg = smtp.messages[0]
    assert rcpt == ["me@example.com"]
    subject = str(make_header(decode_header(msg["Subject"])))
    assert subject == "[Vault] GLD Spot price crosses a level: ≥ 210 — now 211"
    assert "spot: 211.0" in msg.get_payload(decode=True).decode()
    assert len(inbox.requests) == 1
    assert "211" in inbox.requests[0]["body"]
    assert AlertDelivery.objects.filter(status="sent").count() == 2
    # The URL's secret is stored, shown masked, and never logged.
    rule.refresh_from_db()
    assert rule.masked_apprise_urls == [f"ntfy://127.0.0.1:{port}/…"]
    assert AlertDelivery.objects.get(channel="apprise").target == f"ntfy://127.0.0.1:{port}/…"
    assert SECRET not in caplog.text


def test_failures_retry_with_backoff_and_show_on_the_rule(fake_market, push, caplog):
    caplog.set_level(logging.DEBUG)
    port, inbox = push
    inbox.fail_next = 2
    rule = make_rule(level=210.0, apprise_urls=f"json://u:{SECRET}@127.0.0.1:{port}/{SECRET}")
    book = Book()
    book.spot = 215.0
    runner.evaluate_symbol("GLD", value=book)
    now = timezone.now()
    assert delivery.deliver_due(now) == 0
    d = AlertDelivery.objects.get()
    assert (d.status, d.attempts) == ("pending", 1)
    assert d.next_attempt_at == now + timedelta(seconds=30)
    rule.refresh_from_db()
    assert rule.delivery_error.startswith(f"push to json://127.0.0.1:{port}/… failed (attempt 1/")
    # Not due yet: nothing is sent.
    assert delivery.deliver_due(now + timedelta(seconds=29)) == 0 and len(inbox.requests) == 1
    assert delivery.deliver_due(now + timedelta(seconds=31)) == 0  # second failure
    d.refresh_from_db()
    assert d.attempts == 2 and d.next_attempt_at == now + timedelta(seconds=31 + 60)
    assert delivery.deliver_due(now + timedelta(seconds=100)) == 1
    assert len(inbox.requests) == 3  # two failed, one delivered; nothing more after
    assert delivery.deliver_due(now + timedelta(hours=2)) == 0 and len(inbox.requests) == 3
    rule.refresh_from_db()
    assert rule.delivery_error == ""
    assert SECRET not in caplog.text


def test_gives_up_after_max_attempts(fake_market, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = ""
    rule = make_rule(level=0.0, email="me@example.com")
    runner.evaluate_symbol("GLD", value=Book())
    now = timezone.now()
    for n in range(delivery.MAX_ATTEMPTS):
        delivery.deliver_due(now + timedelta(hours=2 * n))
    d = AlertDelivery.objects.get()
    assert (d.status, d.attempts) == ("failed", delivery.MAX_ATTEMPTS)
    rule.refresh_from_db()
    assert "not configured" in rule.delivery_error and "gave up" in rule.delivery_error


def test_a_claimed_delivery_is_not_sent_twice(fake_market, push):
    port, inbox = push
    make_rule(level=0.0, apprise_urls=f"json://127.0.0.1:{port}/")
    runner.evaluate_symbol("GLD", value=Book())
    first, second = AlertDelivery.objects.get(), AlertDelivery.objects.get()
    assert delivery.deliver_one(first) is True
    assert delivery.deliver_one(second) is False  # another worker's stale copy
    assert len(inbox.requests) == 1


def test_apprise_urls_are_validated_without_echoing_them():
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as exc:
        make_rule(apprise_urls=f"nosuchservice://{SECRET}/x")
    assert SECRET not in str(exc.value) and "not a service Apprise knows" in str(exc.value)
    assert AlertRule.objects.count() == 0
