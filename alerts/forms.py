from __future__ import annotations

from django import forms

from alerts.models import AlertRule


class SecretTextarea(forms.Textarea):
    """Never sends a stored or submitted value back to the browser (like a password field)."""

    def format_value(self, value: object) -> None:
        return None


class AlertRuleForm(forms.ModelForm[AlertRule]):
    """A new rule; the portfolio comes from the URL, the symbol defaults to the portfolio's."""

    class Meta:
        model = AlertRule
        fields = (
            "name",
            "symbol",
            "kind",
            "op",
            "level",
            "upper",
            "reset_band",
            "notify_in_app",
            "email",
            "apprise_urls",
        )
        widgets = {"apprise_urls": SecretTextarea(attrs={"rows": 2, "autocomplete": "off"})}

    def __init__(self, *args: object, portfolio: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.instance.portfolio = portfolio  # type: ignore[assignment]
        self.fields["symbol"].required = False
        self.fields["symbol"].help_text = "Default: the portfolio's symbol."
        self.fields["level"].required = False
        self.fields["level"].help_text = (
            "Threshold; the lower bound for 'outside'. Not used by the option-event kind, "
            "which fires once per expiry, assignment or exercise."
        )

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if data.get("kind") in AlertRule.EVENT_KINDS:
            data["level"] = 0.0
        elif data.get("level") is None and "level" not in self.errors:
            self.add_error("level", "This kind needs a level.")
        return data

    def clean_symbol(self) -> str:
        symbol = str(self.cleaned_data.get("symbol") or "").strip().upper()
        return symbol or self.instance.portfolio.default_symbol
