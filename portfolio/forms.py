from __future__ import annotations

from typing import Any

from django import forms

from portfolio import csvio
from portfolio.csvio import MAX_BYTES


class ImportPositionsForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text="Columns: symbol, kind, quantity, cost_basis, expiry, strike, right, style, "
        "units_per_share, opened_on, note, fees (header row required).",
    )
    mode = forms.ChoiceField(
        choices=[
            (csvio.NEW, "New: every row opens an instrument not held yet"),
            (csvio.ADD, "Add: each row is a trade on top of what is held (+ buy, − sell)"),
            (csvio.REPLACE, "Replace: close the open positions at cost first"),
        ],
        initial=csvio.NEW,
        required=False,
        widget=forms.RadioSelect,
    )

    def clean_mode(self) -> str:
        return self.cleaned_data.get("mode") or csvio.NEW

    def clean_file(self) -> Any:
        f = self.cleaned_data["file"]
        if f.size > MAX_BYTES:
            raise forms.ValidationError(f"The file is larger than {MAX_BYTES // 1000} kB.")
        return f
