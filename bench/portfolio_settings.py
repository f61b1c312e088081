"""Settings for ``bench_portfolio``: the app plus one bare ``JsonResponse`` view to compare."""

from __future__ import annotations

from vault_dash.settings.base import *  # noqa: F403

ROOT_URLCONF = "bench.portfolio_urls"
