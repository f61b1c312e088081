"""The app's URLs plus two bench-only views.

``/bench/bare`` is a plain JsonResponse view to compare load against; ``/bench/heap`` reports
what the process holds (see :func:`heap`).

``/bench/bare`` serialises, on every request, either the JSON document in the file named by
``BENCH_BARE_FILE`` (the same body an API endpoint returned) or, without it, a padding
document of ``?size=`` bytes.
"""

from __future__ import annotations

import gc
import json
import os
import tracemalloc
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


_baseline: list[tracemalloc.Snapshot] = []


def heap(request: HttpRequest) -> JsonResponse:
    """RSS, gc object count and, when tracing (``PYTHONTRACEMALLOC``), the heap's growth.

    ``?mark=1`` records the baseline; later calls list the source lines whose live allocations
    grew most since then, so a soak can tell growing objects from allocator fragmentation.
    """
    gc.collect()
    rss = 0
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    report: dict[str, Any] = {"rss_kib": rss, "gc_objects": len(gc.get_objects())}
    if tracemalloc.is_tracing():
        snapshot = tracemalloc.take_snapshot()
        report["traced_kib"] = tracemalloc.get_traced_memory()[0] // 1024
        if request.GET.get("mark") or not _baseline:
            _baseline[:] = [snapshot]
        else:
            stats = snapshot.compare_to(_baseline[0], "lineno")[:25]
            report["growth"] = [
                {"where": str(s.traceback), "kib": s.size_diff // 1024, "count": s.count_diff}
                for s in stats
            ]
    return JsonResponse(report)


urlpatterns = [
    path("bench/bare", bare_json, name="bench-bare"),
    path("bench/heap", heap, name="bench-heap"),
    *app_urlpatterns,
]
