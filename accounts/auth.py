"""Who is calling the API: a bearer token, a logged-in session, or (outside production) anyone.

``api_auth`` is the django-ninja auth list of the whole API. Each callback returns the user
(truthy) or ``None``; the first that answers wins. In production (``settings.LOGIN_REQUIRED``)
an unauthenticated call gets the API's 401 JSON error.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest
from ninja.security import HttpBearer

from accounts.models import ApiToken


class TokenAuth(HttpBearer):
    openapi_scheme = "bearer"

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        api_token = ApiToken.objects.authenticate(token)
        if api_token is None:
            return None
        request.user = api_token.user
        return api_token.user


def session_auth(request: HttpRequest) -> Any:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return user
    return None


def anonymous_outside_production(request: HttpRequest) -> Any:
    if settings.LOGIN_REQUIRED:
        return None
    # AnonymousUser is truthy: it marks "allowed" for django-ninja, and views see it as anonymous.
    return getattr(request, "user", None) or AnonymousUser()


api_auth = [TokenAuth(), session_auth, anonymous_outside_production]
