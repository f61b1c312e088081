"""WSGI entry point (gunicorn may serve plain HTTP beside daphne in the scaled-out layout)."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vault_dash.settings.base")

application = get_wsgi_application()
