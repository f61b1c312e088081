from __future__ import annotations

from typing import Any

from django import forms

from portfolio.csvio import MAX_BYTES


class ImportPositionsForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text="Columns: symbol, kind, quantity, cost_basis, expiry, strike, right, style, "
        "units_per_share, opened_on, note (header row required).",
    )
    replace = forms.BooleanField(
        required=False, label="Replace: close the current open positions first"
    )

    def clean_file(self) -> Any:
        f = self.cleaned_data["file"]
        if f.size > MAX_BYTES:
            raise forms.ValidationError(f"The file is larger than {MAX_BYTES // 1000} kB.")
        return f
