"""What the user owns: a portfolio of shares (or physical units) of an underlying and the listed
options that hedge it, plus the valuation history the dashboard charts.

Quantities are signed (+ long, − short): shares for the underlying, contracts (×100) for
options, physical units (e.g. troy ounces) for ``physical`` positions, which convert to
share-equivalents through ``units_per_share``. ``cost_basis`` is the price paid per unit *as
quoted*: per share for the underlying, per ounce for physical, the per-share option premium for
options (so a contract cost ``cost_basis × 100``).

Every model of the app in one module (~690 lines), as Django lays an app out: the fields and
their small invariants only; the ledger's rules are in :mod:`portfolio.ledger`.
"""

from __future__ import annotations

import re
import uuid
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models, transaction
from django.db.models import Q
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone

from core.fields import actor_field
from market.calendar import market_date
from market.data import CONTRACT_MULTIPLIER
from portfolio.valuation import PositionIn

DATA_VERSION_KEY = "portfolio:data-version"
SYMBOL_PATTERN = r"^[A-Z][A-Z0-9.\-]{0,9}$"
SYMBOL_RE = re.compile(SYMBOL_PATTERN)
# The pattern as a string: migrations record the validator, and a compiled one reads as a change.
SYMBOL_VALIDATOR = RegexValidator(SYMBOL_PATTERN, "Use an upper-case ticker symbol such as GLD.")


class PortfolioQuerySet(models.QuerySet["Portfolio"]):
    def visible_to(self, user: Any) -> PortfolioQuerySet:
        """Portfolios ``user`` may see: their own, plus the ownerless demo portfolios.

        Anonymous visitors see only the demo (and only where the deployment allows anonymous
        access at all; the views check ``settings.LOGIN_REQUIRED`` first). Nobody sees another
        user's portfolio here, staff included: the admin is the place for that.
        """
        demo = Q(owner__isnull=True, is_demo=True)
        if user is not None and getattr(user, "is_authenticated", False):
            return self.filter(Q(owner=user) | demo)
        return self.filter(demo)


class Portfolio(models.Model):
    name = models.CharField(max_length=100)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="portfolios",
        help_text="Empty only for the shared demo portfolio.",
    )
    is_demo = models.BooleanField(
        default=False, help_text="Ownerless demo data that anonymous visitors may see."
    )
    base_currency = models.CharField(max_length=3, default="USD")
    default_symbol = models.CharField(max_length=10, default="GLD", validators=[SYMBOL_VALIDATOR])

    class LotMethod(models.TextChoices):
        FIFO = "fifo", "First in, first out"
        AVERAGE = "average", "Average cost"

    lot_method = models.CharField(
        max_length=10,
        choices=LotMethod.choices,
        default=LotMethod.FIFO,
        help_text="How closing trades are matched against open lots for realised P&L.",
    )

    class ItmExpiry(models.TextChoices):
        SETTLE = "settle", "Close at intrinsic value"
        DELIVER = "deliver", "Assign and exercise into shares"

    itm_expiry = models.CharField(
        "in-the-money options at expiry",
        max_length=10,
        choices=ItmExpiry.choices,
        default=ItmExpiry.SETTLE,
        help_text="Settle them at intrinsic value, or deliver shares at the strike (short calls "
        "assigned, long puts exercised, and the like).",
    )
    hedge_warning_days = models.PositiveSmallIntegerField(
        default=21,
        validators=[MinValueValidator(1)],
        help_text="Warn when a hedge expires within this many days.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PortfolioQuerySet.as_manager()

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="portfolio_unique_owner_name"),
            models.UniqueConstraint(
                fields=["name"],
                condition=Q(owner__isnull=True),
                name="portfolio_unique_ownerless_name",
            ),
            models.CheckConstraint(
                condition=Q(is_demo=False) | Q(owner__isnull=True),
                name="portfolio_demo_is_ownerless",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def open_positions(self) -> models.QuerySet[Position]:
        return self.positions.filter(closed_on__isnull=True)

    def can_edit(self, user: Any) -> bool:
        """Owners change their portfolios; the ownerless demo only staff may change."""
        if not getattr(user, "is_authenticated", False):
            return False
        if self.owner_id is None:
            return bool(user.is_staff)
        return bool(self.owner_id == user.pk)

    def shares_held(self, symbol: str) -> float:
        """Shares of ``symbol`` held outright (physical units converted; options left out)."""
        return (
            Position.objects.open()
            .filter(portfolio=self, symbol=symbol)
            .exclude(kind=Position.Kind.OPTION)
            .share_equivalents()
        )


# The instrument fields an option, a share holding and a physical holding each need (positions and
# trades alike).
_INSTRUMENT_FIELDS_OK = (
    Q(
        kind="option",
        expiry__isnull=False,
        strike__isnull=False,
        strike__gt=0,
        right__in=["C", "P"],
        units_per_share__isnull=True,
    )
    | Q(
        kind="underlying",
        expiry__isnull=True,
        strike__isnull=True,
        right="",
        units_per_share__isnull=True,
    )
    | Q(
        kind="physical",
        expiry__isnull=True,
        strike__isnull=True,
        right="",
        units_per_share__isnull=False,
        units_per_share__gt=0,
    )
)


class PositionQuerySet(models.QuerySet["Position"]):
    def open(self) -> PositionQuerySet:
        return self.filter(closed_on__isnull=True)

    def for_symbol(self, symbol: str) -> PositionQuerySet:
        return self.filter(symbol=symbol)

    def share_equivalents(self) -> float:
        """Shares of the underlying these positions stand for, summed
        (:attr:`portfolio.valuation.PositionIn.share_equivalents`: options × 100, physical
        units ÷ units per share)."""
        return float(sum(p.as_input().share_equivalents for p in self))

    def for_dashboard(self, portfolio: Portfolio, symbol: str) -> PositionQuerySet:
        holdings_first = models.Case(
            models.When(kind="option", then=models.Value(1)), default=models.Value(0)
        )
        return (
            self.open()
            .filter(portfolio=portfolio, symbol=symbol)
            .order_by(holdings_first, "expiry", "strike", "right", "pk")
        )


# What names one instrument on a position or a trade (an option's contract takes all six), and
# how many of its units one "share" is.
INSTRUMENT_FIELDS = ("symbol", "kind", "expiry", "strike", "right", "style")
INSTRUMENT_AND_UNITS = (*INSTRUMENT_FIELDS, "units_per_share")


def instrument_lookup(obj: Any) -> dict[str, Any]:
    """The fields that name one instrument (of a position, a trade or a ledger ``Instrument``),
    as lookups: symbol and kind, and for an option its expiry, strike, right and style."""
    fields = INSTRUMENT_FIELDS if obj.kind == Position.Kind.OPTION else INSTRUMENT_FIELDS[:2]
    return {name: getattr(obj, name) for name in fields}


class InstrumentMixin:
    """What a position and a trade share about the instrument they name (their fields are
    :data:`INSTRUMENT_AND_UNITS`); no fields of its own, so no migration."""

    kind: Any
    symbol: Any
    expiry: Any
    strike: Any
    right: Any
    units_per_share: Any

    @property
    def is_option(self) -> bool:
        return bool(self.kind == Position.Kind.OPTION)

    @property
    def multiplier(self) -> int:
        return CONTRACT_MULTIPLIER if self.is_option else 1

    @property
    def instrument(self) -> str:
        """The instrument in words: "GLD", "GLD physical" or "GLD 2026-12-18 400P"."""
        if self.kind == Position.Kind.OPTION:
            strike = self.strike.normalize() if self.strike is not None else "?"
            return f"{self.symbol} {self.expiry} {strike:f}{self.right}"
        if self.kind == Position.Kind.PHYSICAL:
            return f"{self.symbol} physical"
        return str(self.symbol)

    def instrument_filter(self) -> dict[str, Any]:
        return instrument_lookup(self)

    def instrument_errors(self) -> dict[str, str]:
        """What is wrong with the instrument fields (one rule for positions and trades)."""
        errors: dict[str, str] = {}
        Kind, Right = Position.Kind, Position.Right
        if self.kind == Kind.OPTION:
            if self.expiry is None:
                errors["expiry"] = "An option needs an expiry date."
            if self.strike is None or self.strike <= 0:
                errors["strike"] = "An option needs a strike above zero."
            if self.right not in (Right.CALL, Right.PUT):
                errors["right"] = "An option is a call (C) or a put (P)."
            if self.units_per_share is not None:
                errors["units_per_share"] = "Only physical positions have units per share."
        else:
            for name in ("expiry", "strike"):
                if getattr(self, name) is not None:
                    errors[name] = f"Only options have {name}."
            if self.right:
                errors["right"] = "Only options have a right."
            if self.kind == Kind.PHYSICAL:
                if self.units_per_share is None or self.units_per_share <= 0:
                    errors["units_per_share"] = "Physical units need units per share above zero."
            elif self.units_per_share is not None:
                errors["units_per_share"] = "Only physical positions have units per share."
        return errors


class Position(InstrumentMixin, models.Model):
    class Kind(models.TextChoices):
        UNDERLYING = "underlying", "Underlying shares"
        PHYSICAL = "physical", "Physical units"
        OPTION = "option", "Option"

    class Right(models.TextChoices):
        CALL = "C", "Call"
        PUT = "P", "Put"

    class Style(models.TextChoices):
        AMERICAN = "american", "American"
        EUROPEAN = "european", "European"

    portfolio = models.ForeignKey(Portfolio, on_delete=models.CASCADE, related_name="positions")
    symbol = models.CharField(max_length=10, validators=[SYMBOL_VALIDATOR])
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.UNDERLYING)
    quantity = models.DecimalField(
        max_digits=18,
        decimal_places=6,
        help_text="Signed: + long, − short. Shares, contracts or physical units.",
    )
    cost_basis = models.DecimalField(
        max_digits=18,
        decimal_places=6,
        validators=[MinValueValidator(Decimal(0))],
        help_text="Price paid per unit as quoted (per share; option premium per share).",
    )
    expiry = models.DateField(null=True, blank=True)
    strike = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    right = models.CharField(max_length=1, choices=Right.choices, blank=True)
    style = models.CharField(max_length=10, choices=Style.choices, default=Style.AMERICAN)
    units_per_share = models.DecimalField(
        max_digits=18,
        decimal_places=8,
        null=True,
        blank=True,
        help_text="Physical only: units per share of the symbol (e.g. oz of gold per GLD share).",
    )
    opened_on = models.DateField(default=market_date)
    closed_on = models.DateField(null=True, blank=True)
    note = models.CharField(max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PositionQuerySet.as_manager()

    class Meta:
        ordering = ["portfolio", "symbol", "kind", "expiry", "strike", "right"]
        indexes = [models.Index(fields=["portfolio", "symbol"], name="position_portfolio_symbol")]
        constraints = [
            models.CheckConstraint(condition=~Q(quantity=0), name="position_nonzero_quantity"),
            models.CheckConstraint(condition=Q(cost_basis__gte=0), name="position_cost_nonneg"),
            models.CheckConstraint(
                condition=_INSTRUMENT_FIELDS_OK, name="position_instrument_fields"
            ),
            # One open position per instrument (closed lots may repeat).
            models.UniqueConstraint(
                fields=["portfolio", "symbol", "kind"],
                condition=Q(closed_on__isnull=True) & ~Q(kind="option"),
                name="position_unique_open_holding",
            ),
            models.UniqueConstraint(
                fields=["portfolio", "symbol", "expiry", "strike", "right", "style"],
                condition=Q(closed_on__isnull=True, kind="option"),
                name="position_unique_open_option",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity.normalize():f} {self.instrument}"

    def as_input(self) -> PositionIn:
        """This position as the valuation functions take it (plain floats, no ORM)."""
        return PositionIn(
            id=self.pk,
            label=self.instrument,
            kind=self.kind,
            quantity=float(self.quantity),
            cost_basis=float(self.cost_basis),
            expiry=self.expiry,
            strike=float(self.strike) if self.strike is not None else None,
            is_call=(self.right == Position.Right.CALL) if self.is_option else None,
            style=self.style,
            units_per_share=float(self.units_per_share) if self.units_per_share else None,
            opened_on=self.opened_on,
        )

    def trades(self) -> models.QuerySet[Trade]:
        """Every trade of this instrument in this portfolio (all of its open/close episodes)."""
        return Trade.objects.filter(portfolio_id=self.portfolio_id, **self.instrument_filter())

    @property
    def total_cost(self) -> Decimal:
        return self.quantity * self.cost_basis * self.multiplier

    def clean(self) -> None:
        super().clean()
        errors = self.instrument_errors()
        if self.quantity is not None and self.quantity == 0:
            errors["quantity"] = "Quantity must not be zero."
        if self.closed_on and self.opened_on and self.closed_on < self.opened_on:
            errors["closed_on"] = "Closed before it was opened."
        if errors:
            raise ValidationError(errors)


class Trade(InstrumentMixin, models.Model):
    """One entry of the ledger: the record that positions and lots are rebuilt from.

    ``quantity`` is signed like a position's (+ buys, − sells); ``price`` is per unit as quoted
    (the per-share premium for options) and ``fees`` the commission and charges of the whole
    trade. Written only through :mod:`portfolio.ledger`, which keeps the open position and the
    lots of the instrument in step in the same transaction and records an audit entry.
    """

    class Action(models.TextChoices):
        BUY = "buy", "Buy"
        SELL = "sell", "Sell"
        OPEN = "open", "Open"
        CLOSE = "close", "Close"
        EXPIRY = "expiry", "Expiry"
        ASSIGNMENT = "assignment", "Assignment"
        EXERCISE = "exercise", "Exercise"

    class Source(models.TextChoices):
        MANUAL = "manual", "Entered in the app"
        CSV = "csv", "CSV import"
        BROKER = "broker", "Broker import"
        ADOPTION = "adoption", "Adopted hedge"
        ROLL = "roll", "Rolled hedge"
        EXPIRY = "expiry", "Expiry processing"
        MIGRATION = "migration", "Opening trade of a position that predates the ledger"
        ADMIN = "admin", "Django admin"
        DEMO = "demo", "Demo portfolio (seed_demo)"

    portfolio = models.ForeignKey(Portfolio, on_delete=models.CASCADE, related_name="trades")
    symbol = models.CharField(max_length=10, validators=[SYMBOL_VALIDATOR])
    kind = models.CharField(
        max_length=10, choices=Position.Kind.choices, default=Position.Kind.UNDERLYING
    )
    expiry = models.DateField(null=True, blank=True)
    strike = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    right = models.CharField(max_length=1, choices=Position.Right.choices, blank=True)
    style = models.CharField(
        max_length=10, choices=Position.Style.choices, default=Position.Style.AMERICAN
    )
    units_per_share = models.DecimalField(max_digits=18, decimal_places=8, null=True, blank=True)
    action = models.CharField(max_length=12, choices=Action.choices)
    quantity = models.DecimalField(
        max_digits=18, decimal_places=6, help_text="Signed: + bought, − sold."
    )
    price = models.DecimalField(
        max_digits=18,
        decimal_places=6,
        validators=[MinValueValidator(Decimal(0))],
        help_text="Per unit as quoted (per share; option premium per share).",
    )
    fees = models.DecimalField(
        max_digits=12,
        decimal_places=4,
        default=Decimal(0),
        validators=[MinValueValidator(Decimal(0))],
        help_text="Commission and charges for the whole trade.",
    )
    traded_on = models.DateField(default=market_date, db_index=True)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.MANUAL)
    external_id = models.CharField(
        max_length=120,
        blank=True,
        help_text="The broker's (or file's) id of the trade: importing it again adds nothing.",
    )
    note = models.CharField(max_length=200, blank=True)
    created_by = actor_field()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["portfolio", "traded_on", "pk"]
        indexes = [models.Index(fields=["portfolio", "symbol", "kind"], name="trade_instrument")]
        constraints = [
            models.CheckConstraint(condition=~Q(quantity=0), name="trade_nonzero_quantity"),
            models.CheckConstraint(condition=Q(price__gte=0), name="trade_price_nonneg"),
            models.CheckConstraint(condition=Q(fees__gte=0), name="trade_fees_nonneg"),
            models.CheckConstraint(condition=_INSTRUMENT_FIELDS_OK, name="trade_instrument_fields"),
            models.UniqueConstraint(
                fields=["portfolio", "external_id"],
                condition=~Q(external_id=""),
                name="trade_unique_external_id",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.traded_on} {self.action} {self.quantity.normalize():f} {self.instrument}"

    def clean(self) -> None:
        super().clean()
        errors = self.instrument_errors()
        if self.quantity is not None and self.quantity == 0:
            errors["quantity"] = "Quantity must not be zero."
        elif self.quantity is not None:
            if self.action == self.Action.BUY and self.quantity < 0:
                errors["quantity"] = "A buy has a positive quantity."
            if self.action == self.Action.SELL and self.quantity > 0:
                errors["quantity"] = "A sell has a negative quantity."
        if (
            self.action in (self.Action.EXPIRY, self.Action.ASSIGNMENT, self.Action.EXERCISE)
            and self.kind != Position.Kind.OPTION
        ):
            errors["action"] = f"Only options have an {self.action}."
        if errors:
            raise ValidationError(errors)


class Lot(models.Model):
    """An open (or since closed) lot, rebuilt from the trades by :mod:`portfolio.lots`.

    ``cost`` is the signed cash the lot cost including its share of the opening fees (negative
    for a short: premium received). Under average cost a lot is the pooled position and may
    gather several opening trades; ``trade`` is the first of them.
    """

    portfolio = models.ForeignKey(Portfolio, on_delete=models.CASCADE, related_name="lots")
    trade = models.ForeignKey(Trade, on_delete=models.CASCADE, related_name="lots")
    opened_on = models.DateField()
    quantity = models.DecimalField(max_digits=18, decimal_places=6, help_text="Signed, opened.")
    remaining = models.DecimalField(max_digits=18, decimal_places=6, help_text="Signed, open.")
    cost = models.DecimalField(max_digits=20, decimal_places=6)
    remaining_cost = models.DecimalField(max_digits=20, decimal_places=6)

    class Meta:
        ordering = ["portfolio", "opened_on", "pk"]

    def __str__(self) -> str:
        return f"lot of {self.quantity.normalize():f} {self.trade.instrument} ({self.opened_on})"

    @property
    def is_open(self) -> bool:
        return self.remaining != 0


class LotClosure(models.Model):
    """Part of a lot closed by a trade, and the P&L it realised (after fees of both sides)."""

    lot = models.ForeignKey(Lot, on_delete=models.CASCADE, related_name="closures")
    trade = models.ForeignKey(Trade, on_delete=models.CASCADE, related_name="closures")
    portfolio = models.ForeignKey(Portfolio, on_delete=models.CASCADE, related_name="+")
    symbol = models.CharField(max_length=10)
    closed_on = models.DateField()
    quantity = models.DecimalField(
        max_digits=18, decimal_places=6, help_text="Signed like the lot: the amount closed."
    )
    realised = models.DecimalField(max_digits=20, decimal_places=6)

    class Meta:
        ordering = ["portfolio", "closed_on", "pk"]
        indexes = [models.Index(fields=["portfolio", "symbol"], name="closure_portfolio_symbol")]

    def __str__(self) -> str:
        return f"{self.closed_on} closed {self.quantity.normalize():f}: {self.realised:+.2f}"


class TradeAudit(models.Model):
    """Who wrote what to the ledger, and when. Kept when the trade itself is deleted."""

    class Change(models.TextChoices):
        CREATE = "create", "Created"
        UPDATE = "update", "Changed"
        DELETE = "delete", "Deleted"
        SETTING = "setting", "Ledger setting changed"

    portfolio = models.ForeignKey(Portfolio, on_delete=models.CASCADE, related_name="audit")
    trade_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    change = models.CharField(max_length=10, choices=Change.choices)
    actor = actor_field(
        help_text="Empty for the system (expiry processing, migrations, anonymous demo)."
    )
    at = models.DateTimeField(default=timezone.now, db_index=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.change} trade #{self.trade_id}"


class PortfolioSnapshotQuerySet(models.QuerySet["PortfolioSnapshot"]):
    def history(self, portfolio: Portfolio, symbol: str, since: Any = None) -> Any:
        qs = self.filter(portfolio=portfolio, symbol=symbol)
        if since is not None:
            qs = qs.filter(taken_at__gte=since)
        return qs.order_by("taken_at")


class PortfolioSnapshot(models.Model):
    """One valuation of a portfolio for one symbol, recorded at most every few minutes."""

    portfolio = models.ForeignKey(Portfolio, on_delete=models.CASCADE, related_name="snapshots")
    symbol = models.CharField(max_length=10, validators=[SYMBOL_VALIDATOR])
    taken_at = models.DateTimeField(default=timezone.now, db_index=True)
    spot = models.FloatField()
    value = models.FloatField()
    cost = models.FloatField()
    pnl = models.FloatField()
    day_change = models.FloatField(default=0.0)
    delta = models.FloatField(help_text="Net delta in share-equivalents.")
    stale = models.BooleanField(default=False)

    objects = PortfolioSnapshotQuerySet.as_manager()

    class Meta:
        ordering = ["-taken_at"]
        get_latest_by = "taken_at"
        indexes = [
            models.Index(fields=["portfolio", "symbol", "taken_at"], name="snapshot_lookup"),
        ]

    def __str__(self) -> str:
        return f"{self.portfolio} {self.symbol} @ {self.taken_at:%Y-%m-%d %H:%M}"


def data_version() -> str | None:
    """A token that changes whenever any portfolio or position changes (in the shared cache).

    Lets request paths memoise "which portfolio does this user see" per process without a query
    per request; every process sees a bump because the token lives in the Django cache (Redis
    in production). ``None`` (cache empty or down) means "do not trust any memo".
    """
    value = cache.get(DATA_VERSION_KEY)
    if value is None:
        cache.add(DATA_VERSION_KEY, uuid.uuid4().hex, timeout=None)
    return value if isinstance(value, str) else None


def bump_data_version() -> None:
    cache.set(DATA_VERSION_KEY, uuid.uuid4().hex, timeout=None)


@receiver(post_save, sender=Position)
@receiver(post_delete, sender=Position)
def _touch_portfolio(sender: Any, instance: Position, **kwargs: Any) -> None:
    """Any change to a position bumps its portfolio's ``updated_at`` and the data version.

    Valuations are memoised on ``(portfolio.pk, portfolio.updated_at, market data)``, so this
    one cheap UPDATE keeps the memo exact without an extra query per request. Bulk writes that
    skip signals (``bulk_create``, ``QuerySet.update``) must do the same themselves.
    """
    Portfolio.objects.filter(pk=instance.portfolio_id).update(updated_at=timezone.now())
    _bump_now_and_on_commit()


def _bump_now_and_on_commit() -> None:
    # Now, and again after commit: a reader between the write and the commit must not leave
    # the pre-commit state memoised under the current version.
    bump_data_version()
    transaction.on_commit(bump_data_version)


@receiver(post_save, sender=Portfolio)
@receiver(post_delete, sender=Portfolio)
def _portfolio_changed(sender: Any, instance: Portfolio, **kwargs: Any) -> None:
    _bump_now_and_on_commit()


class CommodityBacking(models.Model):
    """What stands behind one share of a commodity trust (GLD, IAU …): ounces of metal per share
    on a date, and the sponsor's annual fee that the trust pays by selling metal, so the ounces
    per share shrink day by day (see :mod:`portfolio.backing` and ``docs/backing.md``).

    Optional: a symbol without a row shows no backing anywhere.
    """

    symbol = models.CharField(max_length=10, unique=True, validators=[SYMBOL_VALIDATOR])
    commodity = models.CharField(max_length=40, default="gold")
    ounces_per_share = models.DecimalField(
        max_digits=14,
        decimal_places=10,
        validators=[MinValueValidator(Decimal("0.0000000001"))],
        help_text="Troy ounces of metal behind one share on the date below (the sponsor "
        "publishes it daily, e.g. “ounces of gold per share”).",
    )
    as_of = models.DateField(help_text="The date the ounces per share were published for.")
    annual_fee_pct = models.DecimalField(
        max_digits=6,
        decimal_places=4,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("10"))],
        help_text="The sponsor's fee in % a year, accrued daily (GLD 0.40, IAU 0.25).",
    )
    source = models.CharField(
        max_length=300, blank=True, help_text="Where the figures come from (a URL or document)."
    )
    enabled = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["symbol"]
        verbose_name = "commodity backing"
        constraints = [
            models.CheckConstraint(
                condition=Q(ounces_per_share__gt=0), name="backing_ounces_positive"
            ),
            models.CheckConstraint(
                condition=Q(annual_fee_pct__gte=0) & Q(annual_fee_pct__lte=10),
                name="backing_fee_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.symbol}: {self.ounces_per_share} oz {self.commodity}/share on {self.as_of}"

    def clean(self) -> None:
        if self.symbol:
            self.symbol = self.symbol.strip().upper()


@receiver(post_save, sender=CommodityBacking)
@receiver(post_delete, sender=CommodityBacking)
def _backing_changed(sender: Any, instance: CommodityBacking, **kwargs: Any) -> None:
    _bump_now_and_on_commit()  # the dashboard's memoised panels show it
