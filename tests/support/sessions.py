"""A logged-in session in a served app's database, for load tests that need real auth reads."""

from __future__ import annotations

from collections.abc import Mapping

from tests.support.server import manage

PASSWORD = "load-test-password-0123456789"
_CREATE = """
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore
user, _ = get_user_model().objects.get_or_create(username={username!r})
user.set_password({password!r})
user.save()
session = SessionStore()
session["_auth_user_id"] = str(user.pk)
session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
session["_auth_user_hash"] = user.get_session_auth_hash()
session.create()
print(session.session_key)
"""


def session_cookie(env: Mapping[str, str], username: str = "load") -> str:
    """``sessionid=…`` of a new session of ``username`` (created) in ``env``'s database.

    Each request with it reads the session and the user from the database, as every request
    of a logged-in browser does.
    """
    out = manage(env, "shell", "-c", _CREATE.format(username=username, password=PASSWORD))
    return f"sessionid={out.stdout.strip().splitlines()[-1]}"
