from __future__ import annotations

from django import forms
from django.contrib import admin

from alerts.models import AlertDelivery, AlertEvent, AlertRule


class AlertRuleForm(forms.ModelForm[AlertRule]):
    # Write-only: the stored URLs are never sent back to the browser.
    apprise_urls = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One Apprise URL per line. Leave empty to keep the stored URLs; "
        "enter 'clear' to remove them.",
    )

    class Meta:
        model = AlertRule
        fields = (
            "portfolio",
            "symbol",
            "name",
            "kind",
            "op",
            "level",
            "upper",
            "reset_band",
            "enabled",
            "notify_in_app",
            "email",
            "apprise_urls",
        )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.initial["apprise_urls"] = ""

    def clean_apprise_urls(self) -> str:
        raw = self.cleaned_data.get("apprise_urls", "").strip()
        if raw == "clear":
            return ""
        if not raw and self.instance.pk:
            return self.instance.apprise_urls
        return str(raw)


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin[AlertRule]):
    form = AlertRuleForm
    list_display = (
        "__str__",
        "portfolio",
        "kind",
        "op",
        "level",
        "state",
        "crossing",
        "last_value",
        "last_error",
        "delivery_error",
        "enabled",
    )
    list_filter = ("kind", "state", "enabled", "symbol")
    search_fields = ("name", "portfolio__name", "symbol")
    readonly_fields = (
        "masked_urls",
        "state",
        "crossing",
        "version",
        "last_value",
        "last_evaluated_at",
        "last_error",
        "last_fired_at",
        "delivery_error",
    )

    @admin.display(description="Apprise URLs (masked)")
    def masked_urls(self, obj: AlertRule) -> str:
        return ", ".join(obj.masked_apprise_urls) or "—"


class DeliveryInline(admin.TabularInline[AlertDelivery, AlertEvent]):
    model = AlertDelivery
    fields = ("channel", "target", "status", "attempts", "next_attempt_at", "last_error")
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(AlertEvent)
class AlertEventAdmin(admin.ModelAdmin[AlertEvent]):
    list_display = ("fired_at", "portfolio", "symbol", "kind", "value", "message", "read_at")
    list_filter = ("kind", "symbol", "fired_at")
    search_fields = ("message", "portfolio__name")
    readonly_fields = [f.name for f in AlertEvent._meta.fields]
    inlines = [DeliveryInline]


@admin.register(AlertDelivery)
class AlertDeliveryAdmin(admin.ModelAdmin[AlertDelivery]):
    list_display = ("event", "channel", "target", "status", "attempts", "next_attempt_at")
    list_filter = ("channel", "status")
    exclude = ("destination",)  # holds an Apprise URL's secrets
    readonly_fields = (
        "event",
        "channel",
        "target",
        "status",
        "attempts",
        "next_attempt_at",
        "claimed_until",
        "last_error",
        "sent_at",
    )
