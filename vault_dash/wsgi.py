"""WSGI entry point (gunicorn may serve plain HTTP beside daphne in the scaled-out layout)."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

from core.allocator import tune_allocator

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vault_dash.settings.base")
tune_allocator()  # keeps RSS from creeping across chain refreshes

application = get_wsgi_application()
