"""Turn a database outage into a clear 503 instead of a 500 with a traceback in the log."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import connections
from django.db.utils import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
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
