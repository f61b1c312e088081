"""The app's URLs plus reference views that do the least Django can do, for load ratios."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import path

from vault_dash.urls import urlpatterns as app_urlpatterns

_PADDING_CACHE: dict[int, dict[str, str]] = {}


def bare_json(request: HttpRequest) -> JsonResponse:
    """A JsonResponse of ``?size=`` bytes (approximately), with no work behind it."""
    try:
        size = max(0, min(int(request.GET.get("size", "64")), 5_000_000))
    except ValueError:
        size = 64
    body = _PADDING_CACHE.get(size)
    if body is None:
        body = _PADDING_CACHE[size] = {"padding": "x" * max(0, size - 16)}
    return JsonResponse(body)


urlpatterns = [path("bench/bare", bare_json, name="bench-bare"), *app_urlpatterns]
