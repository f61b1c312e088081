"""``{% alert_bell %}``: the header's bell with the signed-in user's unread alert count.

A tag rather than a context processor, so the count query runs only when a full page (base.html)
renders, never for the HTMX partials of a live refresh.
"""

from __future__ import annotations

from typing import Any

from django import template

from alerts import notify

register = template.Library()


def bell_label(unread: int) -> str:
    """The bell's accessible name: the count in words, so it never rests on colour."""
    if unread <= 0:
        return "Alerts: none unread"
    return f"Alerts: {unread} unread"


def unread_for(request: Any) -> int | None:
    """The signed-in user's unread count; None (no bell) for anyone else. Pages memoised whole
    (core.shell) key on it, so a new alert changes the page."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    return notify.unread_count(user.pk)


@register.inclusion_tag("alerts/_bell.html", takes_context=True)
def alert_bell(context: template.Context) -> dict[str, Any]:
    unread = unread_for(context.get("request"))
    if unread is None:
        return {"show": False}
    return {"show": True, "unread": unread, "label": bell_label(unread)}
