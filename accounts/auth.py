"""Who is calling the API: a bearer token, a logged-in session, or (outside production) anyone.

``api_auth`` is the django-ninja auth list of the whole API. Each callback returns the user
(truthy) or ``None``; the first that answers wins. In production (``settings.LOGIN_REQUIRED``)
an unauthenticated call gets the API's 401 JSON error.

A session rides on a cookie the browser sends by itself, so an unsafe method (POST, PUT, PATCH,
DELETE) authenticated by the session must pass Django's CSRF check (token and Origin), exactly
as a form would. A bearer token is sent on purpose by its holder and needs none.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja.security import HttpBearer
from ninja.security import SessionAuth as NinjaSessionAuth
from ninja.utils import check_csrf

from accounts.models import ApiToken


class TokenAuth(HttpBearer):
    openapi_scheme = "bearer"

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        api_token = ApiToken.objects.authenticate(token)
        if api_token is None:
            return None
        request.user = api_token.user
        return api_token.user


class CsrfFailed(Exception):
    """A session-authenticated unsafe request failed the CSRF check (rendered as a JSON 403)."""


class SessionAuth(NinjaSessionAuth):
    """Django's session, with Django's CSRF check on unsafe methods (as django-ninja's own).

    The check runs only when the session holds a logged-in user: an anonymous caller carries
    no authority a forged request could borrow. A failed check raises rather than falling
    through to the anonymous callback, which would run the view as the session's user.
    """

    def __call__(self, request: HttpRequest) -> Any:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        return super().__call__(request)

    def _get_key(self, request: HttpRequest) -> str | None:
        # check_csrf answers None for safe methods and for a valid token with a same-site Origin.
        if not getattr(request, "_ninja_csrf_exempt", False) and check_csrf(request):
            raise CsrfFailed
        return request.COOKIES.get(self.param_name)


def anonymous_outside_production(request: HttpRequest) -> Any:
    if settings.LOGIN_REQUIRED:
        return None
    # AnonymousUser is truthy: it marks "allowed" for django-ninja, and views see it as anonymous.
    return getattr(request, "user", None) or AnonymousUser()


api_auth = [TokenAuth(), SessionAuth(csrf=True), anonymous_outside_production]


def docs_access(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """``/api/docs`` and ``/api/openapi.json`` follow the API's own rule: in production only
    for a logged-in user or a bearer token, unless ``API_DOCS_PUBLIC`` opens them."""

    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if (
            settings.API_DOCS_PUBLIC
            or not settings.LOGIN_REQUIRED
            or is_authenticated_caller(request)
        ):
            return view(request, *args, **kwargs)
        if request.path.endswith(".json"):
            error = {"code": "unauthorized", "message": "authentication required", "field": None}
            return JsonResponse({"error": error}, status=401)
        return redirect_to_login(request.get_full_path())

    return guarded


def is_authenticated_caller(request: HttpRequest) -> bool:
    """A logged-in session or a valid API bearer token (outside django-ninja's auth chain)."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return True
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and ApiToken.objects.authenticate(token.strip()) is not None
