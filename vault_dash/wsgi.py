"""WSGI entry point (gunicorn may serve plain HTTP beside daphne in the scaled-out layout)."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

from vault_dash.allocator import pin_mmap_threshold

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vault_dash.settings.base")
pin_mmap_threshold()  # keeps RSS flat across chain refreshes

application = get_wsgi_application()
