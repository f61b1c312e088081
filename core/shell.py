"""Whole pages rendered once and served many times, with each request's CSRF token put in.

A memoised body still leaves the page around it (``base.html``: navigation, bell, scripts) to
render on every request, and that shell costs more than the body's lookup. What makes a shell
differ between two requests is who asks (the caller puts that in the key) and the CSRF token,
which is per request: the shell is rendered with a placeholder where the token goes, and each
response gets its own masked token (``get_token``, which also has the middleware set the cookie
when the client has none). A request with flash messages to show is rendered afresh: showing
them consumes them, so they must never come from, or go into, a memo.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Hashable
from typing import Any

from django.contrib.messages import get_messages
from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.template.loader import render_to_string

from core.memo import SnapshotMemo

# Letters and digits only, so autoescaping leaves it as it is wherever a token is written.
CSRF_PLACEHOLDER = "csrfplaceholder" + secrets.token_hex(16)


def render_page(
    request: HttpRequest,
    template: str,
    context: Callable[[], dict[str, Any]],
    *,
    memo: SnapshotMemo,
    scope: Hashable,
    snapshot: Hashable,
    key: Hashable,
) -> str:
    """The page, from ``memo`` when this key was rendered for the current snapshot;
    ``context()`` is called only when the page renders."""
    if len(get_messages(request)):
        return render_to_string(template, context(), request)
    shell = memo.get_or_compute(
        scope,
        snapshot,
        key,
        lambda: render_to_string(template, {**context(), "csrf_token": CSRF_PLACEHOLDER}, request),
    )
    return shell.replace(CSRF_PLACEHOLDER, get_token(request))
