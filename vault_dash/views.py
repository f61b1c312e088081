from __future__ import annotations

import time

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from vault_dash.health import STARTED_AT, health_report, may_see_details, public_body


@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    body, status = health_report()
    if not may_see_details(request):
        body = public_body(body)
    return JsonResponse(body, status=status)


@never_cache
@require_GET
def health_live(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers; no dependency is called."""
    return JsonResponse({"status": "ok", "uptime_s": round(time.monotonic() - STARTED_AT, 1)})
