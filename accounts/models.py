"""Per-user API tokens for scripts calling ``/api/*``, and the invitation links that create
accounts.

A token is shown once when created (``vd_<prefix>_<secret>``); only the prefix and a SHA-256
digest of the whole token are stored, so a database leak does not leak usable tokens. Tokens
are revoked, not deleted, so the admin keeps their history.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from core.fields import actor_field

# a public marker, not a secret
TOKEN_PREFIX = "vd"  # nosec B105
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def active(self) -> ApiTokenQuerySet:
        return self.filter(revoked_at__isnull=True, user__is_active=True)

    def authenticate(self, token: str) -> ApiToken | None:
        """The active token matching ``token`` (constant-time digest comparison), else None."""
        parts = token.split("_", 2)
        if len(parts) != 3 or parts[0] != TOKEN_PREFIX or len(token) > 200:
            return None
        digest = _digest(token)
        for candidate in self.active().filter(prefix=parts[1]).select_related("user"):
            if hmac.compare_digest(candidate.digest, digest):
                candidate.touch()
                return candidate
        return None


class ApiToken(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, help_text="What the token is for, e.g. 'cron export'.")
    prefix = models.CharField(max_length=12, db_index=True, editable=False)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"
        db_table = "vault_dash_apitoken"  # created by the vault_dash app before the move

    def __str__(self) -> str:
        return f"{self.name} ({TOKEN_PREFIX}_{self.prefix}_…)"

    @classmethod
    def issue(cls, user: Any, name: str) -> tuple[ApiToken, str]:
        """Create a token; returns it and the plain value, which is never stored."""
        prefix = secrets.token_hex(4)
        plain = f"{TOKEN_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
        token = cls.objects.create(user=user, name=name, prefix=prefix, digest=_digest(plain))
        return token, plain

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])

    def touch(self) -> None:
        now = timezone.now()
        if self.last_used_at is None or now - self.last_used_at > LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=self.pk).update(last_used_at=now)
            self.last_used_at = now


INVITATION_PREFIX = "inv"
INVITATION_DAYS = 7


class InvitationError(Exception):
    """An invitation link that cannot be used (unknown, used or expired: one answer for all)."""


class InvitationQuerySet(models.QuerySet["Invitation"]):
    def usable(self) -> InvitationQuerySet:
        return self.filter(used_at__isnull=True, expires_at__gt=timezone.now())

    def find(self, token: str) -> Invitation | None:
        """The usable invitation whose link carries ``token`` (constant-time digest match)."""
        parts = token.split("_", 2)
        if len(parts) != 3 or parts[0] != INVITATION_PREFIX or len(token) > 200:
            return None
        digest = _digest(token)
        for candidate in self.usable().filter(prefix=parts[1]):
            if hmac.compare_digest(candidate.digest, digest):
                return candidate
        return None


class Invitation(models.Model):
    """A single-use, expiring link that lets one person create an account.

    Like API tokens, only a prefix and a SHA-256 digest of the link's token are stored: the link
    is shown once, to the staff member who created it.
    """

    email = models.EmailField(blank=True, help_text="Who it is for; filled in on the sign-up form.")
    note = models.CharField(max_length=200, blank=True)
    prefix = models.CharField(max_length=12, db_index=True, editable=False)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_by = actor_field()
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True, editable=False)
    used_by = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="invitation",
    )

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"invitation {self.prefix} for {self.email or 'anyone'}"

    @classmethod
    def issue(
        cls, created_by: Any = None, *, email: str = "", note: str = "", days: int = INVITATION_DAYS
    ) -> tuple[Invitation, str]:
        """Create an invitation; returns it and the token for its link (never stored)."""
        prefix = secrets.token_hex(4)
        plain = f"{INVITATION_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
        invitation = cls.objects.create(
            email=email,
            note=note,
            prefix=prefix,
            digest=_digest(plain),
            created_by=created_by if getattr(created_by, "is_authenticated", False) else None,
            expires_at=timezone.now() + timedelta(days=days),
        )
        return invitation, plain

    @property
    def status(self) -> str:
        if self.used_at is not None:
            return "used"
        return "expired" if self.expires_at <= timezone.now() else "open"


def accept_invitation(token: str, create_user: Any) -> Any:
    """Use the invitation once: ``create_user()`` makes the account in the same transaction,
    with the invitation row locked, so two submissions of one link create one account."""
    with transaction.atomic():
        found = Invitation.objects.find(token)
        locked = (
            Invitation.objects.usable().select_for_update().filter(pk=found.pk).first()
            if found is not None
            else None
        )
        if locked is None:
            raise InvitationError("this invitation link is not valid (used, expired or unknown)")
        user = create_user()
        locked.used_at = timezone.now()
        locked.used_by = user
        locked.save(update_fields=["used_at", "used_by"])
    return user
