"""The JSON API (django-ninja): one ``NinjaAPI`` with the apps' routers and uniform errors.

Every error leaves as ``{"error": {"code", "message", "field"}}`` with a 4xx status, so a
client can always tell which parameter to fix.
"""

from __future__ import annotations

from typing import Any, cast

from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

import vault_dash
from accounts.auth import CsrfFailed, api_auth, docs_access
from alerts.api import router as alerts_router
from core.api_errors import ApiError, error_body
from portfolio.api import router as portfolio_router
from strategies.api import options_router, strategies_router
from strategies.roll_api import rolls_router
from vault_dash.middleware import error_code, too_large_message

api = NinjaAPI(
    title="Vault Dashboard API",
    version=vault_dash.__version__,
    description="Portfolio valuation, option chains and hedge strategies. Errors are JSON: "
    '`{"error": {"code", "message", "field"}}`.',
    urls_namespace="api",
    docs_url="/docs",
    # In production the docs and schema need a login too, unless API_DOCS_PUBLIC opens them.
    docs_decorator=docs_access,
    # Bearer token, session (CSRF-checked), or anyone outside production (accounts/auth.py).
    auth=cast(list[Any], api_auth),
)


@api.exception_handler(ApiError)
def _api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
    return api.create_response(
        request, error_body(exc.code, exc.message, exc.field), status=exc.status
    )


@api.exception_handler(ValidationError)
def _validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    first = exc.errors[0] if exc.errors else {}
    loc = [str(part) for part in first.get("loc", ()) if part not in ("query", "body", "path")]
    field = ".".join(loc) or None
    message = first.get("msg", "invalid input")
    if field:
        message = f"{field}: {message}"
    return api.create_response(request, error_body("invalid", message, field), status=400)


@api.exception_handler(AuthenticationError)
def _auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return api.create_response(
        request, error_body("unauthorized", "authentication required"), status=401
    )


@api.exception_handler(CsrfFailed)
def _csrf_failed(request: HttpRequest, exc: CsrfFailed) -> HttpResponse:
    message = (
        "CSRF check failed: a session-authenticated request must send the X-CSRFToken header "
        "from a page of this site (or use a bearer token)"
    )
    return api.create_response(request, error_body("csrf_failed", message), status=403)


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if exc.status_code == 400 and isinstance(exc.__cause__, ValueError):
        # django-ninja's "Cannot parse request body", raised from the JSON decoder's error.
        body = error_body("invalid_json", f"request body is not valid JSON: {exc.__cause__}")
    else:
        body = error_body(error_code(exc.status_code), str(exc.message))
    return api.create_response(request, body, status=exc.status_code)


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return api.create_response(request, error_body("not_found", "not found"), status=404)


@api.exception_handler(RequestDataTooBig)
def _too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return api.create_response(
        request, error_body("payload_too_large", too_large_message()), status=413
    )


api.add_router("/portfolio", portfolio_router)
api.add_router("/options", options_router)
api.add_router("/strategies", strategies_router)
api.add_router("/rolls", rolls_router)
api.add_router("/alerts", alerts_router)
