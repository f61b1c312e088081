# The app's whole schema in one migration, made by makemigrations from the models before the
# first production release (issue 19). It replaces the old chain, so a database that applied
# all of it counts as migrated; one that applied part of it must first migrate to the end of
# the old chain (main at 4746ce7). docs/architecture.md#migrations.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    replaces = [
        ("strategies", "0001_initial"),
        ("strategies", "0002_adoption_confirmation"),
        ("strategies", "0003_hedge_roll"),
    ]

    dependencies = [
        ("portfolio", "0001_squashed_0009_trade_source_demo"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="AdoptedHedge",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("adopted_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                ("symbol", models.CharField(max_length=10)),
                ("name", models.CharField(max_length=120)),
                ("candidate_id", models.CharField(max_length=200)),
                ("spot", models.FloatField(help_text="Spot of the quote the prices came from.")),
                (
                    "quote_as_of",
                    models.CharField(help_text="Timestamp of that quote.", max_length=40),
                ),
                (
                    "legs",
                    models.JSONField(
                        help_text="right, strike, expiry, signed contracts, price per share"
                    ),
                ),
                (
                    "net_premium",
                    models.FloatField(help_text="$ paid (+) or received (−) for the legs."),
                ),
                (
                    "confirmation",
                    models.CharField(
                        blank=True,
                        editable=False,
                        help_text="The single-use nonce of the signed confirmation that adopted it.",
                        max_length=64,
                        null=True,
                        unique=True,
                    ),
                ),
                (
                    "adopted_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "portfolio",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="adopted_hedges",
                        to="portfolio.portfolio",
                    ),
                ),
                (
                    "positions",
                    models.ManyToManyField(
                        blank=True, related_name="adoptions", to="portfolio.position"
                    ),
                ),
            ],
            options={
                "ordering": ["-adopted_at"],
            },
        ),
        migrations.CreateModel(
            name="HedgeRoll",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("rolled_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                ("symbol", models.CharField(max_length=10)),
                ("candidate_id", models.CharField(max_length=300)),
                ("from_expiry", models.DateField()),
                ("to_expiry", models.DateField()),
                ("spot", models.FloatField(help_text="Spot of the quote the prices came from.")),
                (
                    "quote_as_of",
                    models.CharField(help_text="Timestamp of that quote.", max_length=40),
                ),
                (
                    "legs",
                    models.JSONField(
                        help_text="action (close/open), right, strike, expiry, qty, price"
                    ),
                ),
                (
                    "debit",
                    models.FloatField(help_text="$ paid (+) or received (−) for the whole roll."),
                ),
                (
                    "confirmation",
                    models.CharField(
                        editable=False,
                        help_text="The single-use nonce of the signed confirmation that made it.",
                        max_length=64,
                        unique=True,
                    ),
                ),
                (
                    "portfolio",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="hedge_rolls",
                        to="portfolio.portfolio",
                    ),
                ),
                (
                    "rolled_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "trades",
                    models.ManyToManyField(blank=True, related_name="rolls", to="portfolio.trade"),
                ),
            ],
            options={
                "ordering": ["-rolled_at"],
            },
        ),
    ]
