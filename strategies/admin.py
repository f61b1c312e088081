from __future__ import annotations

from django.contrib import admin

from strategies.models import AdoptedHedge


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
