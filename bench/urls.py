"""The app's URLs plus ``/bench/bare``, a plain JsonResponse view to compare load against.

``/bench/bare`` serialises, on every request, either the JSON document in the file named by
``BENCH_BARE_FILE`` (the same body an API endpoint returned) or, without it, a padding
document of ``?size=`` bytes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.urls import path

from vault_dash.urls import urlpatterns as app_urlpatterns

_documents: dict[str, Any] = {}


def _document(request: HttpRequest) -> Any:
    bare_file = os.environ.get("BENCH_BARE_FILE")
    if bare_file:
        if bare_file not in _documents:
            _documents[bare_file] = json.loads(Path(bare_file).read_text())
        return _documents[bare_file]
    try:
        size = max(0, min(int(request.GET.get("size", "64")), 5_000_000))
    except ValueError:
        size = 64
    key = f"size:{size}"
    if key not in _documents:
        _documents[key] = {"padding": "x" * max(0, size - 16)}
    return _documents[key]


def bare_json(request: HttpRequest) -> JsonResponse:
    return JsonResponse(_document(request), json_dumps_params={"separators": (",", ":")})


urlpatterns = [path("bench/bare", bare_json, name="bench-bare"), *app_urlpatterns]
