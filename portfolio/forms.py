from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms

from market.calendar import market_date
from market.data import normalize_symbol
from market.errors import InvalidSymbol
from portfolio import csvio, ledger
from portfolio.csvio import MAX_BYTES
from portfolio.models import SYMBOL_VALIDATOR, Portfolio, Position, Trade


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


# Form field → the CSV column the shared row check names it by.
_ROW_COLUMN = {"price": "cost_basis", "traded_on": "opened_on"}
_FORM_FIELD = {v: k for k, v in _ROW_COLUMN.items()}
_DATE = forms.DateInput(attrs={"type": "date"})
_NUMBER = forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"})


class TradeForm(forms.Form):
    """A trade entered in the app: checked by the CSV import's row check
    (:func:`portfolio.csvio.validate_row`) and then by the ledger (:func:`ledger.check`)."""

    side = forms.ChoiceField(
        choices=[("buy", "Buy"), ("sell", "Sell")], widget=forms.RadioSelect, initial="buy"
    )
    symbol = forms.CharField(max_length=12, initial="GLD")
    kind = forms.ChoiceField(choices=Position.Kind.choices, initial=Position.Kind.UNDERLYING)
    quantity = forms.CharField(
        max_length=30, widget=_NUMBER, help_text="Shares, contracts or units (a positive number)."
    )
    price = forms.CharField(
        max_length=30, widget=_NUMBER, help_text="Per share; for an option the premium per share."
    )
    fees = forms.DecimalField(
        min_value=Decimal(0), max_digits=12, decimal_places=4, required=False, initial=0
    )
    traded_on = forms.DateField(widget=_DATE, label="Trade date")
    expiry = forms.CharField(max_length=10, required=False, widget=_DATE, label="Option expiry")
    strike = forms.CharField(max_length=20, required=False, widget=_NUMBER)
    right = forms.ChoiceField(
        choices=[("", "—"), ("C", "Call"), ("P", "Put")], required=False, label="Call or put"
    )
    style = forms.ChoiceField(choices=Position.Style.choices, initial=Position.Style.AMERICAN)
    units_per_share = forms.CharField(
        max_length=30, required=False, widget=_NUMBER, help_text="Physical units only."
    )
    note = forms.CharField(max_length=200, required=False)

    def __init__(
        self,
        *args: Any,
        portfolio: Portfolio,
        instance: Trade | None = None,
        action: str | None = None,
        **kwargs: Any,
    ) -> None:
        if instance is not None and "initial" not in kwargs:
            kwargs["initial"] = self.initial_from(instance)
        super().__init__(*args, **kwargs)
        self.portfolio = portfolio
        self.instance = instance
        self.action = action
        self.trade: Trade | None = None
        if "traded_on" not in self.initial:
            self.initial["traded_on"] = market_date()

    @staticmethod
    def initial_from(t: Trade) -> dict[str, Any]:
        def text(x: Any) -> str:
            return "" if x is None else f"{x.normalize():f}" if isinstance(x, Decimal) else str(x)

        return {
            "side": "buy" if t.quantity > 0 else "sell",
            "symbol": t.symbol,
            "kind": t.kind,
            "quantity": text(abs(t.quantity)),
            "price": text(t.price),
            "fees": t.fees,
            "traded_on": t.traded_on,
            "expiry": text(t.expiry),
            "strike": text(t.strike),
            "right": t.right,
            "style": t.style,
            "units_per_share": text(t.units_per_share),
            "note": t.note,
        }

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        if self.errors:
            return data
        quantity = data["quantity"].strip()
        if quantity.startswith(("-", "+")):
            self.add_error("quantity", "Enter the amount without a sign; choose buy or sell.")
            return data
        signed = quantity if data["side"] == "buy" else f"-{quantity}"
        row = {
            "symbol": data["symbol"],
            "kind": data["kind"],
            "quantity": signed,
            "cost_basis": data["price"],
            "expiry": data["expiry"],
            "strike": data["strike"],
            "right": data["right"],
            "style": data["style"],
            "units_per_share": data["units_per_share"],
            "opened_on": data["traded_on"].isoformat(),
            "note": data["note"],
        }
        pos, errors = csvio.validate_row(row, 0, self.portfolio)
        for err in errors:
            field = _FORM_FIELD.get(err.field or "", err.field)
            self.add_error(field if field in self.fields else None, err.message)
        if pos is None:
            return data
        trade = self.instance or Trade(portfolio=self.portfolio, source=Trade.Source.MANUAL)
        for name in ("symbol", "kind", "expiry", "strike", "right", "units_per_share", "note"):
            setattr(trade, name, getattr(pos, name))
        trade.style = pos.style if pos.is_option else Position.Style.AMERICAN
        trade.quantity = pos.quantity
        trade.price = pos.cost_basis
        trade.fees = data["fees"] or Decimal(0)
        trade.traded_on = data["traded_on"]
        trade.action = self._action(trade)
        try:
            ledger.check(trade)
        except ledger.LedgerError as exc:
            field = exc.field if exc.field in self.fields else None
            self.add_error(field, exc.message)
            return data
        self.trade = trade
        return data

    def _action(self, trade: Trade) -> str:
        side = Trade.Action.BUY if trade.quantity > 0 else Trade.Action.SELL
        kept = self.action or (self.instance.action if self.instance else None)
        if kept in (None, Trade.Action.BUY, Trade.Action.SELL):
            return side
        return kept

    def valid_trade(self) -> Trade:
        """The trade a valid form describes."""
        if self.trade is None:
            raise ValueError("the form holds no trade")
        return self.trade

    def changed_fields(self) -> dict[str, Any]:
        """The trade's fields as this form set them (for :func:`ledger.change`)."""
        trade = self.valid_trade()
        return {name: getattr(trade, name) for name in ledger.EDITABLE_FIELDS}


class ClosePositionForm(forms.Form):
    quantity = forms.DecimalField(
        min_value=Decimal("0.000001"),
        max_digits=18,
        decimal_places=6,
        required=False,
        help_text="Leave empty to close all of it.",
    )
    price = forms.DecimalField(
        min_value=Decimal(0),
        max_digits=18,
        decimal_places=6,
        help_text="Per share; for an option the premium per share.",
    )
    fees = forms.DecimalField(
        min_value=Decimal(0), max_digits=12, decimal_places=4, required=False, initial=0
    )
    traded_on = forms.DateField(widget=_DATE, label="Trade date")

    def __init__(self, *args: Any, position: Position, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.position = position
        self.initial.setdefault("traded_on", market_date())

    def clean_quantity(self) -> Decimal | None:
        q: Decimal | None = self.cleaned_data.get("quantity")
        if q is not None and q > abs(self.position.quantity):
            raise forms.ValidationError(
                f"At most {abs(self.position.quantity).normalize():f} is open."
            )
        return q


class NewPortfolioForm(forms.Form):
    name = forms.CharField(max_length=100, initial="My book")
    default_symbol = forms.CharField(
        max_length=12, initial="GLD", label="Base symbol", help_text="e.g. GLD, IAU, SLV."
    )

    def __init__(self, *args: Any, owner: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.owner = owner

    def clean_default_symbol(self) -> str:
        raw = self.cleaned_data["default_symbol"]
        try:
            symbol = normalize_symbol(raw)
            SYMBOL_VALIDATOR(symbol)
        except InvalidSymbol as exc:
            raise forms.ValidationError(str(exc)) from None
        return symbol

    def clean_name(self) -> str:
        name: str = self.cleaned_data["name"].strip()
        if Portfolio.objects.filter(owner=self.owner, name=name).exists():
            raise forms.ValidationError("You have a portfolio of that name already.")
        return name

    def save(self) -> Portfolio:
        return Portfolio.objects.create(
            owner=self.owner,
            name=self.cleaned_data["name"],
            default_symbol=self.cleaned_data["default_symbol"],
        )


class BrokerImportForm(forms.Form):
    file = forms.FileField(label="Broker file")
    format = forms.ChoiceField(
        choices=[
            ("ibkr", "Interactive Brokers Flex XML (Trades section)"),
            ("csv", "Generic broker CSV (see the column list)"),
        ],
        widget=forms.RadioSelect,
        initial="ibkr",
    )
