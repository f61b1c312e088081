from __future__ import annotations

from decimal import Decimal

from django.contrib import admin
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest

from portfolio.models import Portfolio, PortfolioSnapshot, Position


class PositionInline(admin.TabularInline[Position, Portfolio]):
    model = Position
    extra = 0
    fields = (
        "symbol",
        "kind",
        "quantity",
        "cost_basis",
        "expiry",
        "strike",
        "right",
        "style",
        "units_per_share",
        "opened_on",
        "closed_on",
        "note",
    )
    show_change_link = True


@admin.register(Portfolio)
class PortfolioAdmin(admin.ModelAdmin[Portfolio]):
    list_display = (
        "name",
        "owner",
        "is_demo",
        "default_symbol",
        "base_currency",
        "open_positions_count",
        "updated_at",
    )
    list_filter = ("is_demo", "default_symbol", "base_currency")
    search_fields = ("name", "owner__username", "owner__email")
    list_select_related = ("owner",)
    readonly_fields = ("created_at", "updated_at")
    raw_id_fields = ("owner",)
    inlines = [PositionInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Portfolio]:
        return (
            super()
            .get_queryset(request)
            .annotate(_open=Count("positions", filter=Q(positions__closed_on__isnull=True)))
        )

    @admin.display(description="Open positions", ordering="_open")
    def open_positions_count(self, obj: Portfolio) -> int:
        return int(getattr(obj, "_open", 0))


@admin.register(Position)
class PositionAdmin(admin.ModelAdmin[Position]):
    list_display = (
        "instrument_label",
        "portfolio",
        "kind",
        "quantity",
        "cost_basis",
        "total_cost_display",
        "expiry",
        "opened_on",
        "closed_on",
    )
    list_filter = (
        "kind",
        "right",
        "style",
        "symbol",
        "expiry",
        ("closed_on", admin.EmptyFieldListFilter),
    )
    search_fields = ("symbol", "note", "portfolio__name")
    list_select_related = ("portfolio",)
    date_hierarchy = "opened_on"
    readonly_fields = ("updated_at", "total_cost_display")
    autocomplete_fields = ("portfolio",)

    @admin.display(description="Instrument", ordering="symbol")
    def instrument_label(self, obj: Position) -> str:
        return obj.instrument

    @admin.display(description="Total cost")
    def total_cost_display(self, obj: Position) -> str:
        if obj.quantity is None or obj.cost_basis is None:
            return "—"
        return f"{obj.total_cost.quantize(Decimal('0.01')):,}"


@admin.register(PortfolioSnapshot)
class PortfolioSnapshotAdmin(admin.ModelAdmin[PortfolioSnapshot]):
    list_display = (
        "taken_at",
        "portfolio",
        "symbol",
        "spot",
        "value",
        "pnl",
        "day_change",
        "delta",
        "stale",
    )
    list_filter = ("symbol", "stale", "portfolio")
    search_fields = ("portfolio__name", "symbol")
    date_hierarchy = "taken_at"
    list_select_related = ("portfolio",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: PortfolioSnapshot | None = None
    ) -> bool:
        return False
