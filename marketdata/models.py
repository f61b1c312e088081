"""Stored market history: one 30-day constant-maturity ATM implied vol per symbol and day."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from portfolio.models import SYMBOL_VALIDATOR


class IVObservation(models.Model):
    """A day's IV30 of a symbol (see ``market.ivhistory`` for the method)."""

    class Source(models.TextChoices):
        LIVE = "live", "Recorded by the publisher"
        SYNTHETIC = "synthetic", "Backfilled from the synthetic provider"
        REPLAY = "replay", "Backfilled from replay snapshots"

    symbol = models.CharField(max_length=10, validators=[SYMBOL_VALIDATOR])
    date = models.DateField(help_text="New York market date of the observation.")
    iv30 = models.FloatField(
        validators=[MinValueValidator(0.0001), MaxValueValidator(10.0)],
        help_text="30-day constant-maturity ATM implied vol (0.2 = 20 %).",
    )
    method = models.CharField(max_length=200)
    source = models.CharField(max_length=10, choices=Source.choices)
    expiries = models.PositiveSmallIntegerField(
        default=0, help_text="Listed expiries with an ATM IV that day."
    )
    provider = models.CharField(max_length=40, blank=True)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["symbol", "date"]
        verbose_name = "IV observation"
        constraints = [
            models.UniqueConstraint(fields=["symbol", "date"], name="ivobservation_one_per_day"),
            models.CheckConstraint(
                condition=Q(iv30__gt=0) & Q(iv30__lte=10), name="ivobservation_iv30_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.symbol} {self.date} IV30 {self.iv30:.2%}"
