from __future__ import annotations

from django.contrib import admin

from marketdata.models import IVObservation


@admin.register(IVObservation)
class IVObservationAdmin(admin.ModelAdmin[IVObservation]):
    list_display = ("symbol", "date", "iv30", "source", "expiries", "provider", "recorded_at")
    list_filter = ("symbol", "source")
    date_hierarchy = "date"
    search_fields = ("symbol",)
    ordering = ("-date", "symbol")
    readonly_fields = ("recorded_at",)
