"""Settings for benchmark servers: the app's settings plus bare reference views (bench/urls.py)."""

from __future__ import annotations

from vault_dash.settings.base import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
