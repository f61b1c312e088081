"""Settings for benchmark servers: the app's settings plus bare reference views (bench/urls.py)."""

from __future__ import annotations

import os

from vault_dash.settings.base import *  # noqa: F403
from vault_dash.settings.base import DATABASES

ROOT_URLCONF = "bench.urls"

if os.environ.get("BENCH_DB_PERSISTENT") and DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # The settings before issue 13, for bench_db_pool's baseline: persistent, no pool.
    DATABASES["default"]["CONN_MAX_AGE"] = 60
    DATABASES["default"]["OPTIONS"].pop("pool", None)
