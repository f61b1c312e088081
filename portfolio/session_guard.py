"""Close live WebSockets whose login has ended (issue 13: they kept streaming after logout).

A socket is authenticated once, when it connects. Its login can end afterwards in ways no
WebSocket hears of: a logout over HTTP (the session row is deleted), the session deleted by an
admin or ``clearsessions``, the session expiring, a password change (the session's auth hash
no longer matches, as :func:`django.contrib.auth.get_user` checks), the user deactivated.

Each server process keeps the sockets of logged-in users it serves (channel name → session key)
and re-validates all of them together twice per ``WEBSOCKET_INTERVAL_SECONDS``: one query for
the sessions, one for their users, whatever the number of sockets. A socket whose session no
longer authenticates an active user is sent ``session.ended`` over the channel layer, and the
consumer closes it with 4401. Every process checks the shared database itself, so this works
the same with one daphne or several behind Redis, and needs no signal to reach other processes.
A database outage keeps the sockets open (it must not log everyone out); the next check runs
when the database answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Collection, Iterator
from importlib import import_module
from typing import Any

from channels.db import database_sync_to_async
from channels.layers import BaseChannelLayer
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from core.loops import PerLoop

logger = logging.getLogger(__name__)

EVENT_TYPE = "session.ended"
# Checks per update interval: a socket closes within half an interval (plus the query).
CHECKS_PER_INTERVAL = 2
_CHUNK = 500


def _chunks(keys: Collection[str]) -> Iterator[list[str]]:
    ordered = sorted(keys)
    for start in range(0, len(ordered), _CHUNK):
        yield ordered[start : start + _CHUNK]


def _session_data(keys: Collection[str]) -> dict[str, dict[str, Any]]:
    """The decoded data of the sessions among ``keys`` that exist and have not expired."""
    store_class = import_module(settings.SESSION_ENGINE).SessionStore
    found: dict[str, dict[str, Any]] = {}
    if hasattr(store_class, "get_model_class"):  # database-backed stores: one query per chunk
        model = store_class.get_model_class()
        decoder = store_class()
        for chunk in _chunks(keys):
            rows = model.objects.filter(
                session_key__in=chunk, expire_date__gt=timezone.now()
            ).values_list("session_key", "session_data")
            for key, data in rows:
                found[key] = decoder.decode(data)
    else:  # other stores have no batch read
        for key in keys:
            data = store_class(key).load()
            if data:
                found[key] = data
    return found


def valid_session_keys(keys: Collection[str]) -> set[str]:
    """The keys among ``keys`` whose session still authenticates an active user.

    The rules of :func:`django.contrib.auth.get_user`, for many sessions at once: the session
    exists and has not expired, names a configured backend and an existing, active user, and
    carries that user's current session auth hash (current or fallback secret).
    """
    sessions = _session_data(keys)
    user_ids = {str(data[SESSION_KEY]) for data in sessions.values() if SESSION_KEY in data}
    users = {
        str(user.pk): user
        for chunk in _chunks(user_ids)
        for user in get_user_model()._default_manager.filter(pk__in=chunk)
    }
    valid = set()
    for key, data in sessions.items():
        user = users.get(str(data.get(SESSION_KEY)))
        if user is None or not user.is_active:
            continue
        if data.get(BACKEND_SESSION_KEY) not in settings.AUTHENTICATION_BACKENDS:
            continue
        stored = data.get(HASH_SESSION_KEY)
        hashes = [user.get_session_auth_hash(), *user.get_session_auth_fallback_hash()]
        if stored and any(constant_time_compare(stored, h) for h in hashes):
            valid.add(key)
    return valid


class SessionGuard:
    """The logged-in sockets of one event loop (one server process) and their checking task."""

    def __init__(self) -> None:
        self.watched: dict[str, str] = {}  # channel name -> session key
        self.layer: BaseChannelLayer | None = None
        self._task: asyncio.Task[None] | None = None

    def watch(self, channel: str, session_key: str, layer: BaseChannelLayer) -> None:
        self.watched[channel] = session_key
        self.layer = layer
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="ws-sessions")

    def forget(self, channel: str) -> None:
        self.watched.pop(channel, None)

    async def check(self) -> list[str]:
        """Validate every watched session now; returns the channels told to close."""
        if not self.watched or self.layer is None:
            return []
        valid = await database_sync_to_async(valid_session_keys)(set(self.watched.values()))
        ended = [channel for channel, key in self.watched.items() if key not in valid]
        for channel in ended:
            self.watched.pop(channel, None)
            with contextlib.suppress(Exception):  # the socket went away meanwhile
                await self.layer.send(channel, {"type": EVENT_TYPE})
        return ended

    async def _run(self) -> None:
        while self.watched:
            await asyncio.sleep(settings.WEBSOCKET_INTERVAL_SECONDS / CHECKS_PER_INTERVAL)
            try:
                await self.check()
            except Exception as exc:  # database down: keep the sockets, check again next round
                logger.warning("could not re-validate WebSocket sessions: %s", exc)


_guards = PerLoop(SessionGuard)


def watch_scope(scope: dict[str, Any], channel: str, layer: BaseChannelLayer) -> None:
    """Watch a just-connected socket if it belongs to a logged-in user."""
    user = scope.get("user")
    session = scope.get("session")
    key = getattr(session, "session_key", None)
    if key and user is not None and user.is_authenticated:
        session_guard().watch(channel, key, layer)


def session_guard() -> SessionGuard:
    """The guard of the running event loop (one per server process)."""
    return _guards.get()
