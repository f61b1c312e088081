"""Error responses: a database outage as a clear 503; every ``/api/`` error as JSON."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.db import connections
from django.db.utils import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.template.response import SimpleTemplateResponse

logger = logging.getLogger(__name__)

MESSAGE = "The database is unavailable; please try again shortly."


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        logger.error("database unavailable on %s %s: %s", request.method, request.path, exception)
        for connection in connections.all(initialized_only=True):
            connection.close_if_unusable_or_obsolete()
        if request.path.startswith("/api/") or "application/json" in request.headers.get(
            "Accept", ""
        ):
            response: HttpResponse = JsonResponse(
                {"error": {"code": "database_unavailable", "message": MESSAGE, "field": None}},
                status=503,
            )
        else:
            response = SimpleTemplateResponse("503.html", {"message": MESSAGE}, status=503)
            response.render()
        response["Retry-After"] = "5"
        return response


API_PREFIX = "/api/"
# Machine-readable codes of the errors that do not come from an API view (Django's own 404,
# 405 from the router, 400 for an oversize or malformed request, CSRF 403, a 500).
STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    500: "server_error",
    503: "unavailable",
}
# Headers of the original error that a client still needs.
KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate", "Vary")


def error_code(status: int) -> str:
    return STATUS_CODES.get(status, "client_error" if status < 500 else "server_error")


def too_large_message() -> str:
    return f"request body larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes"


def _is_envelope(response: HttpResponseBase) -> bool:
    if "json" not in response.get("Content-Type", "") or not hasattr(response, "content"):
        return False
    try:
        body = json.loads(response.content)
    except ValueError:
        return False
    return isinstance(body, dict) and isinstance(body.get("error"), dict)


def _message(request: HttpRequest, response: HttpResponseBase) -> str:
    status = response.status_code
    if status == 404:
        return f"no API endpoint at {request.path}"
    if status == 405:
        return (
            f"{request.method} is not allowed here; use {response.get('Allow', 'another method')}"
        )
    if status == 413:
        return too_large_message()
    if status == 403:
        return "forbidden"
    if status >= 500:
        return "internal error; it has been logged"
    try:
        return HTTPStatus(status).phrase.lower()
    except ValueError:
        return "error"


def api_error_json(request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
    """``response`` itself, or, for an error under ``/api/`` that is not JSON, its JSON twin."""
    if response.status_code < 400 or not request.path.startswith(API_PREFIX):
        return response
    if _is_envelope(response):
        return response
    body = {
        "error": {
            "code": error_code(response.status_code),
            "message": _message(request, response),
            "field": None,
        }
    }
    replacement = JsonResponse(body, status=response.status_code)
    for header in KEPT_HEADERS:
        if header in response:
            replacement[header] = response[header]
    return replacement


class ApiErrorMiddleware:
    """Outermost: whatever answered an ``/api/`` request with an error, the client gets JSON.

    Django's own 404 and 400 pages, the router's bare 405 and a CSRF 403 are HTML; the API
    promises ``{"error": {"code", "message", "field"}}`` for every error (DESIGN.md §6).
    Sync and async capable, so it adds no thread hop under daphne.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self._acall(request)
        return api_error_json(request, self.get_response(request))

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        response = await self.get_response(request)
        return api_error_json(request, response)
