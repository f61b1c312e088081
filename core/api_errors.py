"""The JSON API's one error shape: ``{"error": {"code", "message", "field"}}`` with a 4xx status,
so a client can always tell which parameter to fix. Raised by the apps' API views; rendered by
the exception handlers of the API the project assembles (``vault_dash/api.py``)."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """Raised by API views for a client error; rendered as the uniform JSON error."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "field": field}}
