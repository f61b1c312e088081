"""Settings for the test suite: the base settings with fast hashing and isolated caches."""

from __future__ import annotations

from vault_dash.settings.base import *  # noqa: F403
from vault_dash.settings.base import CACHES

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Tests that need Redis configure it explicitly against a real server.
if CACHES["default"]["BACKEND"] != "django.core.cache.backends.locmem.LocMemCache":
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "vault-dash-test",
        }
    }
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# django-axes needs the request in authenticate(); the test client's login() does not pass it.
# Tests of the lockout itself turn it back on with override_settings(AXES_ENABLED=True).
AXES_ENABLED = False
