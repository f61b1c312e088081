from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest

from portfolio import csvio, ledger
from portfolio.models import (
    INSTRUMENT_AND_UNITS,
    CommodityBacking,
    Lot,
    LotClosure,
    Portfolio,
    PortfolioSnapshot,
    Position,
    Trade,
    TradeAudit,
)


class PositionInline(admin.TabularInline[Position, Portfolio]):
    model = Position
    extra = 0
    # The columns a position has in a CSV export, and when it closed.
    fields = (*csvio.COLUMNS[:-1], "closed_on", "note")
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

    def get_readonly_fields(self, request: HttpRequest, obj: Position | None = None) -> Any:
        # A position kept by the ledger follows its trades: change those (Trades), not this.
        if obj is not None and obj.trades().exists():
            return (*self.readonly_fields, "quantity", "cost_basis", "opened_on", "closed_on")
        return self.readonly_fields

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


class TradeAdminForm(forms.ModelForm[Trade]):
    class Meta:
        model = Trade
        fields = (
            "portfolio",
            "traded_on",
            "action",
            *INSTRUMENT_AND_UNITS,
            "quantity",
            "price",
            "fees",
            "external_id",
            "note",
        )

    def _post_clean(self) -> None:
        # The instance holds the form's values only once the model form's own clean has run.
        super()._post_clean()  # type: ignore[misc]
        if not self.errors:
            try:
                ledger.check(self.instance)
            except ledger.LedgerError as exc:
                self.add_error(exc.field, exc.message)


@admin.register(Trade)
class TradeAdmin(admin.ModelAdmin[Trade]):
    """Trades written here go through the ledger like any other: positions, lots and the audit
    follow."""

    form = TradeAdminForm
    list_display = (
        "traded_on",
        "portfolio",
        "action",
        "instrument_label",
        "quantity",
        "price",
        "fees",
        "source",
        "created_by",
    )
    list_filter = ("action", "kind", "source", "symbol", "traded_on")
    search_fields = ("symbol", "note", "external_id", "portfolio__name")
    list_select_related = ("portfolio", "created_by")
    date_hierarchy = "traded_on"
    autocomplete_fields = ("portfolio",)
    actions = ["delete_through_ledger"]

    @admin.display(description="Instrument", ordering="symbol")
    def instrument_label(self, obj: Trade) -> str:
        return obj.instrument

    def get_actions(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        # *args/**kwargs: Django 6's stubs add an action_location parameter (mypy on 3.12).
        actions = super().get_actions(request, *args, **kwargs)
        actions.pop("delete_selected", None)  # a bulk delete would skip the ledger
        return actions

    def save_model(self, request: HttpRequest, obj: Trade, form: Any, change: bool) -> None:
        if change:
            fields = {name: getattr(obj, name) for name in form.changed_data}
            fields.pop("portfolio", None)
            ledger.change(obj, request.user, reason="admin", **fields)
        else:
            obj.source = Trade.Source.ADMIN
            ledger.record(obj.portfolio, request.user, [obj], reason="admin")

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        # Its lots and closures are rebuilt by the ledger, not deleted by hand: no permission
        # on them is needed.
        deleted, counts, _perms_needed, protected = super().get_deleted_objects(objs, request)
        return deleted, counts, set(), protected

    def delete_model(self, request: HttpRequest, obj: Trade) -> None:
        ledger.delete(obj, request.user, reason="admin")

    @admin.action(description="Delete the selected trades (rebuilding lots)")
    def delete_through_ledger(self, request: HttpRequest, queryset: QuerySet[Trade]) -> None:
        for trade in queryset.order_by("-traded_on", "-pk"):
            try:
                ledger.delete(trade, request.user, reason="admin")
            except ledger.LedgerError as exc:
                self.message_user(request, f"{trade}: {exc.message}", level="error")


class _ReadOnlyAdmin(admin.ModelAdmin[Any]):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Lot)
class LotAdmin(_ReadOnlyAdmin):
    """Rebuilt from the trades on every ledger write: read only."""

    list_display = ("opened_on", "portfolio", "trade", "quantity", "remaining", "remaining_cost")
    list_filter = ("trade__symbol", "trade__kind", "opened_on")
    search_fields = ("portfolio__name", "trade__symbol")
    list_select_related = ("portfolio", "trade")


@admin.register(LotClosure)
class LotClosureAdmin(_ReadOnlyAdmin):
    list_display = ("closed_on", "portfolio", "symbol", "quantity", "realised", "trade")
    list_filter = ("symbol", "closed_on")
    search_fields = ("portfolio__name", "symbol")
    list_select_related = ("portfolio", "trade")
    date_hierarchy = "closed_on"


@admin.register(TradeAudit)
class TradeAuditAdmin(_ReadOnlyAdmin):
    list_display = ("at", "portfolio", "change", "trade_id", "actor", "reason")
    list_filter = ("change", "at")
    search_fields = ("portfolio__name", "actor__username", "reason", "trade_id")
    list_select_related = ("portfolio", "actor")
    date_hierarchy = "at"


@admin.register(CommodityBacking)
class CommodityBackingAdmin(admin.ModelAdmin[CommodityBacking]):
    """Ounces per share and the sponsor fee of commodity trusts (docs/backing.md)."""

    list_display = (
        "symbol",
        "commodity",
        "ounces_per_share",
        "as_of",
        "annual_fee_pct",
        "enabled",
        "updated_at",
    )
    list_filter = ("enabled", "commodity", "as_of")
    search_fields = ("symbol", "source")
    readonly_fields = ("updated_at",)
    fields = (
        "symbol",
        "commodity",
        "ounces_per_share",
        "as_of",
        "annual_fee_pct",
        "source",
        "enabled",
        "updated_at",
    )
