"""The JSON API (django-ninja): one ``NinjaAPI`` with the apps' routers and uniform errors.

Every error leaves as ``{"error": {"code", "message", "field"}}`` with a 4xx status, so a
client can always tell which parameter to fix.
"""

from __future__ import annotations

from typing import Any, cast

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

import vault_dash
from accounts.auth import api_auth
from alerts.api import router as alerts_router
from core.api_errors import ApiError, error_body
from portfolio.api import router as portfolio_router
from strategies.api import options_router, strategies_router

api = NinjaAPI(
    title="Vault Dashboard API",
    version=vault_dash.__version__,
    description="Portfolio valuation, option chains and hedge strategies. Errors are JSON: "
    '`{"error": {"code", "message", "field"}}`.',
    urls_namespace="api",
    docs_url="/docs",
    # Bearer token, session, or anyone outside production (see vault_dash/auth.py).
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


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return api.create_response(
        request, error_body("http_error", str(exc.message)), status=exc.status_code
    )


api.add_router("/portfolio", portfolio_router)
api.add_router("/options", options_router)
api.add_router("/strategies", strategies_router)
api.add_router("/alerts", alerts_router)
