"""The record of a hedge adopted from the strategies page: when, by whom, at what prices."""

from __future__ import annotations

from django.db import models

from core.fields import actor_field


class AdoptedHedge(models.Model):
    portfolio = models.ForeignKey(
        "portfolio.Portfolio", on_delete=models.CASCADE, related_name="adopted_hedges"
    )
    adopted_by = actor_field()
    adopted_at = models.DateTimeField(auto_now_add=True, db_index=True)
    symbol = models.CharField(max_length=10)
    name = models.CharField(max_length=120)
    candidate_id = models.CharField(max_length=200)
    spot = models.FloatField(help_text="Spot of the quote the prices came from.")
    quote_as_of = models.CharField(max_length=40, help_text="Timestamp of that quote.")
    legs = models.JSONField(help_text="right, strike, expiry, signed contracts, price per share")
    net_premium = models.FloatField(help_text="$ paid (+) or received (−) for the legs.")
    positions = models.ManyToManyField("portfolio.Position", related_name="adoptions", blank=True)
    confirmation = models.CharField(
        max_length=64,
        unique=True,
        null=True,
        blank=True,
        editable=False,
        help_text="The single-use nonce of the signed confirmation that adopted it.",
    )

    class Meta:
        ordering = ["-adopted_at"]

    def __str__(self) -> str:
        return f"{self.name} → {self.portfolio} ({self.adopted_at:%Y-%m-%d %H:%M})"


class HedgeRoll(models.Model):
    """A roll confirmed from the roll panel or the API: the legs closed and opened, once."""

    portfolio = models.ForeignKey(
        "portfolio.Portfolio", on_delete=models.CASCADE, related_name="hedge_rolls"
    )
    rolled_by = actor_field()
    rolled_at = models.DateTimeField(auto_now_add=True, db_index=True)
    symbol = models.CharField(max_length=10)
    candidate_id = models.CharField(max_length=300)
    from_expiry = models.DateField()
    to_expiry = models.DateField()
    spot = models.FloatField(help_text="Spot of the quote the prices came from.")
    quote_as_of = models.CharField(max_length=40, help_text="Timestamp of that quote.")
    legs = models.JSONField(help_text="action (close/open), right, strike, expiry, qty, price")
    debit = models.FloatField(help_text="$ paid (+) or received (−) for the whole roll.")
    trades = models.ManyToManyField("portfolio.Trade", related_name="rolls", blank=True)
    confirmation = models.CharField(
        max_length=64,
        unique=True,
        editable=False,
        help_text="The single-use nonce of the signed confirmation that made it.",
    )

    class Meta:
        ordering = ["-rolled_at"]

    def __str__(self) -> str:
        return f"roll {self.from_expiry} → {self.to_expiry} in {self.portfolio}"
