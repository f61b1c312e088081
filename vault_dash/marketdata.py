"""Django glue for the market package (interim: replaced by the market service wiring)."""

from __future__ import annotations

from typing import Any

from django.conf import settings


class _Interim:
    def health(self) -> dict[str, Any]:
        return {"ok": True, "provider": settings.MARKET_DATA_PROVIDER}


def get_market_service() -> _Interim:
    return _Interim()
