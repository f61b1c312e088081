"""Alert rules per portfolio, their stored state, and the log of what fired and where it went.

State lives on the rule (``state``, ``crossing``, ``version``) so a restart or a publisher
takeover continues where the last evaluator stopped: a fire increments ``crossing`` and writes
its :class:`AlertEvent` in one transaction, conditional on the ``version`` the evaluator read,
and ``(rule, crossing)`` is unique, so a second evaluator with the same view writes nothing
(see :mod:`alerts.runner`).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from alerts.secrets import mask_url, split_urls, validate_apprise_urls
from portfolio.models import SYMBOL_VALIDATOR, Portfolio

MAX_APPRISE_URLS = 5


class AlertRule(models.Model):
    class Kind(models.TextChoices):
        SPOT = "spot", "Spot price crosses a level"
        FLOOR_GAP = "floor_gap_pct", "Spot within x % of the floor"
        HEDGE_RATIO = "hedge_ratio", "Hedge ratio"
        DELTA_SHARES = "delta_shares", "Net delta (share-equivalents)"
        DELTA_DOLLARS = "delta_dollars", "Net $-delta"
        ROLL_DAYS = "roll_days", "Nearest hedge expiry within N days (roll due)"
        STALE_MINUTES = "stale_minutes", "Market data stale for more than N minutes"
        IV_RANK = "iv_rank", "IV rank over one year (0–100)"
        OPTION_EVENT = "option_event", "An option position expired, assigned or exercised"

    class Op(models.TextChoices):
        ABOVE = "above", "at or above"
        BELOW = "below", "at or below"
        OUTSIDE = "outside", "outside [level, upper]"
        # Event rules (option_event): which ledger events notify.
        ANY = "any", "expired, assigned or exercised"
        EXPIRED = "expired", "expired (worthless or settled)"
        ASSIGNED = "assigned", "assigned"
        EXERCISED = "exercised", "exercised"

    class State(models.TextChoices):
        ARMED = "armed", "Armed"
        FIRED = "fired", "Fired (waiting to re-arm)"

    # Which comparisons make sense for each kind.
    ALLOWED_OPS: dict[str, tuple[str, ...]] = {
        Kind.SPOT: (Op.ABOVE, Op.BELOW),
        Kind.FLOOR_GAP: (Op.BELOW,),
        Kind.HEDGE_RATIO: (Op.ABOVE, Op.BELOW, Op.OUTSIDE),
        Kind.DELTA_SHARES: (Op.ABOVE, Op.BELOW, Op.OUTSIDE),
        Kind.DELTA_DOLLARS: (Op.ABOVE, Op.BELOW, Op.OUTSIDE),
        Kind.ROLL_DAYS: (Op.BELOW,),
        Kind.STALE_MINUTES: (Op.ABOVE,),
        Kind.IV_RANK: (Op.ABOVE, Op.BELOW),
        Kind.OPTION_EVENT: (Op.ANY, Op.EXPIRED, Op.ASSIGNED, Op.EXERCISED),
    }
    # Kinds that fire on ledger events, not on a metric crossing a level.
    EVENT_KINDS = frozenset({Kind.OPTION_EVENT})

    portfolio = models.ForeignKey(Portfolio, on_delete=models.CASCADE, related_name="alert_rules")
    symbol = models.CharField(max_length=10, validators=[SYMBOL_VALIDATOR])
    name = models.CharField(max_length=100, blank=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    op = models.CharField(max_length=10, choices=Op.choices)
    level = models.FloatField(help_text="Threshold; the lower bound for 'outside'.")
    upper = models.FloatField(null=True, blank=True, help_text="Upper bound for 'outside'.")
    reset_band = models.FloatField(
        default=0.0,
        help_text="How far back past the level the value must go before the rule re-arms "
        "(in the value's unit).",
    )
    enabled = models.BooleanField(default=True)

    notify_in_app = models.BooleanField(default=True)
    email = models.EmailField(blank=True)
    # Apprise URLs carry tokens and passwords: shown masked, never logged.
    apprise_urls = models.TextField(
        blank=True,
        validators=[MaxLengthValidator(2000)],
        help_text="One Apprise URL per line (ntfy://, gotify://, slack://, …).",
    )

    state = models.CharField(max_length=10, choices=State.choices, default=State.ARMED)
    crossing = models.PositiveIntegerField(default=0, help_text="Number of times it fired.")
    version = models.PositiveIntegerField(default=0, help_text="Bumped by every state change.")
    last_value = models.FloatField(null=True, blank=True)
    last_evaluated_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=200, blank=True)
    last_fired_at = models.DateTimeField(null=True, blank=True)
    delivery_error = models.CharField(max_length=300, blank=True)
    # Event rules: the last ledger trade (id) already notified; set to the portfolio's newest
    # trade when the rule is created, so only later events notify. Moves with ``version``.
    last_trade_id = models.BigIntegerField(
        null=True, blank=True, help_text="Event rules: the last ledger trade already notified."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["portfolio", "symbol", "pk"]
        indexes = [models.Index(fields=["symbol", "enabled"], name="alertrule_symbol_enabled")]
        constraints = [
            models.CheckConstraint(condition=Q(reset_band__gte=0), name="alertrule_band_nonneg"),
            models.CheckConstraint(
                condition=~Q(op="outside") | Q(upper__gt=F("level")),
                name="alertrule_outside_bounds",
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.describe()

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.is_event and self.last_trade_id is None:
            self.last_trade_id = newest_trade_id(self.portfolio_id)
        super().save(*args, **kwargs)

    @property
    def is_event(self) -> bool:
        return self.kind in self.EVENT_KINDS

    def describe(self) -> str:
        if self.is_event:
            what = self.Op(self.op).label if self.op in self.Op.values else self.op
            return f"{self.symbol} option position {what}"
        label = self.Kind(self.kind).label if self.kind in self.Kind.values else self.kind
        if self.op == self.Op.OUTSIDE:
            cond = f"outside [{self.level:g}, {self.upper:g}]"
        else:
            cond = f"{'≥' if self.op == self.Op.ABOVE else '≤'} {self.level:g}"
        return f"{self.symbol} {label}: {cond}"

    @property
    def apprise_url_list(self) -> list[str]:
        return split_urls(self.apprise_urls)

    @property
    def masked_apprise_urls(self) -> list[str]:
        return [mask_url(u) for u in self.apprise_url_list]

    def clean(self) -> None:
        errors: dict[str, Any] = {}
        if self.is_event:  # no level to compare: fires once per ledger event
            self.level, self.upper, self.reset_band = 0.0, None, 0.0
        allowed = self.ALLOWED_OPS.get(self.kind)
        if allowed is not None and self.op not in allowed:
            errors["op"] = f"{self.get_kind_display()} allows: {', '.join(allowed)}."
        if self.reset_band is not None and self.reset_band < 0:
            errors["reset_band"] = "The reset band cannot be negative."
        if self.op == self.Op.OUTSIDE:
            if self.upper is None or self.level is None or self.upper <= self.level:
                errors["upper"] = "'outside' needs an upper bound above the level."
            elif self.reset_band and 2 * self.reset_band >= self.upper - self.level:
                errors["reset_band"] = "The reset band must be under half the range."
        elif self.upper is not None:
            errors["upper"] = "Only 'outside' takes an upper bound."
        try:
            urls = validate_apprise_urls(self.apprise_urls, MAX_APPRISE_URLS)
        except ValidationError as exc:
            errors["apprise_urls"] = exc.messages
        else:
            self.apprise_urls = "\n".join(urls)
        if errors:
            raise ValidationError(errors)


def newest_trade_id(portfolio_id: int | None) -> int:
    from portfolio.models import Trade

    if portfolio_id is None:
        return 0
    newest = Trade.objects.filter(portfolio_id=portfolio_id).order_by("-pk").first()
    return newest.pk if newest is not None else 0


class AlertEvent(models.Model):
    """One fire of a rule: the in-app notification and the log entry."""

    portfolio = models.ForeignKey(Portfolio, on_delete=models.CASCADE, related_name="alert_events")
    # Kept when the rule is deleted, so the history stays.
    rule = models.ForeignKey(
        AlertRule, on_delete=models.SET_NULL, null=True, blank=True, related_name="events"
    )
    crossing = models.PositiveIntegerField()
    rule_text = models.CharField(max_length=200)
    symbol = models.CharField(max_length=10)
    kind = models.CharField(max_length=20)
    value = models.FloatField()
    numbers = models.JSONField(default=dict, help_text="The portfolio's numbers at the time.")
    message = models.CharField(max_length=300)
    fired_at = models.DateTimeField(default=timezone.now, db_index=True)
    in_app = models.BooleanField(default=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-fired_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["rule", "crossing"], name="alertevent_one_per_crossing")
        ]

    def __str__(self) -> str:
        return self.message


class AlertDelivery(models.Model):
    """One outbound notification of an event (e-mail or an Apprise URL), retried with backoff."""

    class Channel(models.TextChoices):
        EMAIL = "email", "E-mail"
        APPRISE = "apprise", "Apprise"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed (gave up)"

    event = models.ForeignKey(AlertEvent, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    # The address or URL to use; an Apprise URL holds secrets and is never shown (see target).
    destination = models.TextField()
    target = models.CharField(max_length=200, help_text="Where it goes, secrets masked.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["pk"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="alertdelivery_due")]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} → {self.target} ({self.status})"
