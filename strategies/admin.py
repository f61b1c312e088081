from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from strategies.models import AdoptedHedge, HedgeRoll


@admin.register(AdoptedHedge)
class AdoptedHedgeAdmin(admin.ModelAdmin[AdoptedHedge]):
    list_display = (
        "adopted_at",
        "portfolio",
        "symbol",
        "name",
        "net_premium",
        "spot",
        "adopted_by",
    )
    list_filter = ("symbol", "portfolio")
    search_fields = ("name", "candidate_id", "symbol")
    readonly_fields = (
        "adopted_at",
        "portfolio",
        "adopted_by",
        "symbol",
        "name",
        "candidate_id",
        "spot",
        "quote_as_of",
        "legs",
        "net_premium",
        "positions",
    )
    date_hierarchy = "adopted_at"


@admin.register(HedgeRoll)
class HedgeRollAdmin(admin.ModelAdmin[HedgeRoll]):
    """Rolls are written once, with their ledger trades: read only here."""

    list_display = ("rolled_at", "portfolio", "symbol", "from_expiry", "to_expiry", "debit")
    list_filter = ("symbol", "portfolio")
    search_fields = ("candidate_id", "symbol")
    date_hierarchy = "rolled_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: HedgeRoll | None = None) -> bool:
        return False
