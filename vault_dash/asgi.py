"""ASGI entry point: HTTP through Django, ``/ws/`` through Channels."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

from core.allocator import tune_allocator

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vault_dash.settings.base")
tune_allocator()  # keeps RSS from creeping across chain refreshes

# Load the apps before importing anything that touches models (consumers, routing).
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from vault_dash.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
