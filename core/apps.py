from __future__ import annotations

from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Shared UI and numeric helpers: SVG charts, memos, number formatting, htmx typing."""

    name = "core"
    verbose_name = "Shared helpers"
