"""Typing and small helpers for views that answer both full pages and htmx partials."""

from __future__ import annotations

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def wants_partial(request: HtmxHttpRequest) -> bool:
    """An htmx request for one fragment (a history restore needs the whole page)."""
    return bool(request.htmx and not request.htmx.history_restore_request)
