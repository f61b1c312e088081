"""Model fields with a rule of their own, declared once for every app."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models


def actor_field(**options: Any) -> models.ForeignKey[Any, Any]:
    """Who did it: the user behind a record (a trade, an audit entry, an adoption, a roll, an
    invitation). Empty for the system; a deleted user leaves the record, with the field emptied.
    No reverse accessor: a user's records are found from the record's side."""
    return models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        **options,
    )
