"""``serve``: apply migrations under the lock, warm up, then run daphne in the same process.

One interpreter instead of two (``python -m deploy.migrate`` then ``python -m daphne``): Django
and the app are imported once, which is most of the container's start-to-healthy time. The
warm-up (``vault_dash/warmup.py``: templates, the default symbol's market snapshot, bounded by
``WARMUP_TIMEOUT_S``, default 10 s, 0 turns it off) runs before daphne listens, so the health
check passes when the first page can be fast.

    python -m deploy.serve          # what deploy/entrypoint.sh runs for `serve`
"""

from __future__ import annotations

import os
import sys

from deploy import migrate


def daphne_args() -> list[str]:
    # No --proxy-headers: daphne would take X-Forwarded-For from any client; the app reads it
    # from TRUSTED_PROXIES only (accounts/clientip.py).
    return [
        "-b",
        os.environ.get("APP_BIND_ADDRESS", "0.0.0.0"),  # nosec B104 - inside the container
        "-p",
        os.environ.get("APP_PORT", "8000"),
        "vault_dash.asgi:application",
    ]


def main() -> int:
    if os.environ.get("SKIP_MIGRATIONS", "0") != "1":
        status = migrate.main()
        if status != 0:
            return status
        from django.db import connections

        # The migration connection belongs to this thread; the server opens its own.
        connections.close_all()
    raw = os.environ.get("WARMUP_TIMEOUT_S", "10")
    try:
        timeout_s = float(raw or 0)
        if not (0 <= timeout_s <= 600):
            raise ValueError(raw)
    except ValueError:
        print(
            f"WARMUP_TIMEOUT_S must be a number of seconds from 0 to 600, not {raw!r}",
            file=sys.stderr,
        )
        return 2
    if timeout_s > 0:
        import django

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vault_dash.settings.base")
        django.setup()
        from vault_dash.warmup import warm_up

        warm_up(timeout_s=timeout_s)
    from daphne.cli import CommandLineInterface

    CommandLineInterface().run(daphne_args())
    return 0


if __name__ == "__main__":
    sys.exit(main())
