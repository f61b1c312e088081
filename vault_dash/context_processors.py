from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest


def app(request: HttpRequest) -> dict[str, Any]:
    return {
        "APP_NAME": settings.APP_NAME,
        "APP_ENV": settings.APP_ENV,
        "DEFAULT_SYMBOL": settings.DEFAULT_SYMBOL,
        "WEBSOCKET_INTERVAL_SECONDS": settings.WEBSOCKET_INTERVAL_SECONDS,
    }
