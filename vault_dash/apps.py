from __future__ import annotations

import logging

from django.apps import AppConfig
from django.conf import settings

logger = logging.getLogger("vault_dash")


class VaultDashConfig(AppConfig):
    name = "vault_dash"
    verbose_name = "Vault Dashboard"

    def ready(self) -> None:
        if not settings.REDIS_URL:
            logger.warning(
                "REDIS_URL is empty: using the local-memory cache and the in-memory channel "
                "layer (single process only)"
            )
