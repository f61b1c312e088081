"""The app's URLs plus ``/bench/bare``: the same JSON body from a plain Django view."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.urls import path

from vault_dash.urls import urlpatterns as app_urlpatterns

_payload: dict[str, Any] | None = None


def bare(request: HttpRequest) -> JsonResponse:
    """Serialises the payload on every request, as a hand-written JSON view would."""
    global _payload
    if _payload is None:
        _payload = json.loads(Path(os.environ["BENCH_BARE_FILE"]).read_text())
    return JsonResponse(_payload, json_dumps_params={"separators": (",", ":")})


urlpatterns = [path("bench/bare", bare), *app_urlpatterns]
