"""Sending queued notifications: e-mail through Django's backend, push through Apprise.

Deliveries are rows (:class:`~alerts.models.AlertDelivery`) written with their event, so a
restart resumes them. Each attempt first claims the row (a conditional update with a lease), so
two workers never send the same row; a failure is retried with exponential backoff up to
:data:`MAX_ATTEMPTS`, and the latest failure is shown on the rule. Apprise URLs hold secrets:
errors name the channel and the masked target, never the URL, and Apprise's own logging (which
prints URLs and request paths) is kept quiet.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db.models import Q
from django.utils import timezone

from alerts.models import AlertDelivery, AlertEvent, AlertRule

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
BACKOFF_BASE_S = 30.0
BACKOFF_MAX_S = 3600.0
CLAIM_S = 120.0  # a worker that dies mid-send frees its row after this long
BATCH = 50

_sending_lock = threading.Lock()
_sending = 0  # Apprise sends in flight in this process (Apprise may use its own threads)


class _DropWhileSending(logging.Filter):
    """Drops HTTP client records while an Apprise send is in flight: they name URL paths."""

    def filter(self, record: logging.LogRecord) -> bool:
        return _sending == 0


def quiet_apprise_logging() -> None:
    """Apprise logs URLs and payloads; it never gets to (called once, from the app config)."""
    apprise_logger = logging.getLogger("apprise")
    apprise_logger.setLevel(logging.CRITICAL + 1)
    apprise_logger.propagate = False
    for name in ("urllib3.connectionpool", "requests"):
        lg = logging.getLogger(name)
        if not any(isinstance(f, _DropWhileSending) for f in lg.filters):
            lg.addFilter(_DropWhileSending())


def backoff(attempts: int) -> timedelta:
    """Wait before attempt ``attempts + 1``: 30 s, 60 s, 2 min, … capped at an hour."""
    return timedelta(seconds=min(BACKOFF_BASE_S * 2 ** max(attempts - 1, 0), BACKOFF_MAX_S))


class DeliveryError(Exception):
    """A failed send, with a message safe to store and show (no secrets)."""


def subject_and_body(event: AlertEvent) -> tuple[str, str]:
    subject = f"[Vault] {event.message}"[:200]
    lines = [
        event.message,
        "",
        f"Rule: {event.rule_text}",
        f"Fired at: {event.fired_at.isoformat()}",
        "Numbers at the time:",
        *(f"  {k}: {v}" for k, v in event.numbers.items() if v is not None),
    ]
    return subject, "\n".join(lines)


def send_email(delivery: AlertDelivery) -> None:
    backend = settings.EMAIL_BACKEND
    if backend.endswith("smtp.EmailBackend") and not settings.EMAIL_HOST:
        raise DeliveryError("e-mail is not configured (set EMAIL_HOST)")
    subject, body = subject_and_body(delivery.event)
    try:
        send_mail(subject, body, None, [delivery.destination], fail_silently=False)
    except Exception as exc:  # SMTP and socket errors carry no secrets, but keep it short
        raise DeliveryError(f"e-mail to {delivery.target} failed: {type(exc).__name__}") from None


def send_apprise(delivery: AlertDelivery) -> None:
    import apprise

    subject, body = subject_and_body(delivery.event)
    global _sending
    with _sending_lock:
        _sending += 1
    try:
        notifier = apprise.Apprise()
        if not notifier.add(delivery.destination):
            raise DeliveryError(f"{delivery.target}: not a valid Apprise URL")
        ok = notifier.notify(title=subject, body=body)
    finally:
        with _sending_lock:
            _sending -= 1
    if not ok:
        raise DeliveryError(f"push to {delivery.target} failed")


SENDERS: dict[str, Callable[[AlertDelivery], None]] = {
    AlertDelivery.Channel.EMAIL: send_email,
    AlertDelivery.Channel.APPRISE: send_apprise,
}


def _claim(delivery: AlertDelivery, now: datetime) -> bool:
    claimable = Q(status=AlertDelivery.Status.PENDING) | Q(
        status=AlertDelivery.Status.SENDING, claimed_until__lt=now
    )
    return bool(
        AlertDelivery.objects.filter(claimable, pk=delivery.pk).update(
            status=AlertDelivery.Status.SENDING, claimed_until=now + timedelta(seconds=CLAIM_S)
        )
    )


def deliver_one(delivery: AlertDelivery, now: datetime | None = None) -> bool:
    """Claim and send one delivery; True when it went out."""
    now = now or timezone.now()
    if not _claim(delivery, now):
        return False
    attempts = delivery.attempts + 1
    try:
        SENDERS[delivery.channel](delivery)
    except Exception as exc:
        message = str(exc) if isinstance(exc, DeliveryError) else f"{delivery.channel} failed"
        gave_up = attempts >= MAX_ATTEMPTS
        AlertDelivery.objects.filter(pk=delivery.pk).update(
            status=AlertDelivery.Status.FAILED if gave_up else AlertDelivery.Status.PENDING,
            attempts=attempts,
            next_attempt_at=now + backoff(attempts),
            claimed_until=None,
            last_error=message[:300],
        )
        note = f"{message} (attempt {attempts}/{MAX_ATTEMPTS}{', gave up' if gave_up else ''})"
        if delivery.event.rule_id is not None:
            AlertRule.objects.filter(pk=delivery.event.rule_id).update(delivery_error=note[:300])
        logger.warning("alert delivery %s: %s", delivery.pk, note)  # masked target only
        return False
    AlertDelivery.objects.filter(pk=delivery.pk).update(
        status=AlertDelivery.Status.SENT,
        attempts=attempts,
        sent_at=timezone.now(),
        claimed_until=None,
        last_error="",
    )
    if delivery.event.rule_id is not None:
        AlertRule.objects.filter(pk=delivery.event.rule_id).exclude(delivery_error="").update(
            delivery_error=""
        )
    return True


def due(now: datetime) -> list[AlertDelivery]:
    return list(
        AlertDelivery.objects.filter(
            Q(status=AlertDelivery.Status.PENDING, next_attempt_at__lte=now)
            | Q(status=AlertDelivery.Status.SENDING, claimed_until__lt=now)
        )
        .select_related("event")
        .order_by("next_attempt_at", "pk")[:BATCH]
    )


def deliver_due(now: datetime | None = None) -> int:
    """Send what is due; returns how many went out."""
    now = now or timezone.now()
    return sum(deliver_one(d, now) for d in due(now))
