# The app's whole schema in one migration, made by makemigrations from the models before the
# first production release (issue 19). It replaces the old chain, so a database that applied
# all of it counts as migrated; one that applied part of it must first migrate to the end of
# the old chain (main at 4746ce7). docs/architecture.md#migrations.

import django.core.validators
import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    replaces = [
        ("alerts", "0001_initial"),
        ("alerts", "0002_option_event_rules"),
    ]

    dependencies = [
        ("portfolio", "0001_squashed_0009_trade_source_demo"),
    ]

    operations = [
        migrations.CreateModel(
            name="AlertRule",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "symbol",
                    models.CharField(
                        max_length=10,
                        validators=[
                            django.core.validators.RegexValidator(
                                "^[A-Z][A-Z0-9.\\-]{0,9}$",
                                "Use an upper-case ticker symbol such as GLD.",
                            )
                        ],
                    ),
                ),
                ("name", models.CharField(blank=True, max_length=100)),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("spot", "Spot price crosses a level"),
                            ("floor_gap_pct", "Spot within x % of the floor"),
                            ("hedge_ratio", "Hedge ratio"),
                            ("delta_shares", "Net delta (share-equivalents)"),
                            ("delta_dollars", "Net $-delta"),
                            ("roll_days", "Nearest hedge expiry within N days (roll due)"),
                            ("stale_minutes", "Market data stale for more than N minutes"),
                            ("iv_rank", "IV rank over one year (0–100)"),
                            ("option_event", "An option position expired, assigned or exercised"),
                        ],
                        max_length=20,
                    ),
                ),
                (
                    "op",
                    models.CharField(
                        choices=[
                            ("above", "at or above"),
                            ("below", "at or below"),
                            ("outside", "outside [level, upper]"),
                            ("any", "expired, assigned or exercised"),
                            ("expired", "expired (worthless or settled)"),
                            ("assigned", "assigned"),
                            ("exercised", "exercised"),
                        ],
                        max_length=10,
                    ),
                ),
                ("level", models.FloatField(help_text="Threshold; the lower bound for 'outside'.")),
                (
                    "upper",
                    models.FloatField(
                        blank=True, help_text="Upper bound for 'outside'.", null=True
                    ),
                ),
                (
                    "reset_band",
                    models.FloatField(
                        default=0.0,
                        help_text="How far back past the level the value must go before the rule re-arms (in the value's unit).",
                    ),
                ),
                ("enabled", models.BooleanField(default=True)),
                ("notify_in_app", models.BooleanField(default=True)),
                ("email", models.EmailField(blank=True, max_length=254)),
                (
                    "apprise_urls",
                    models.TextField(
                        blank=True,
                        help_text="One Apprise URL per line (ntfy://, gotify://, slack://, …).",
                        validators=[django.core.validators.MaxLengthValidator(2000)],
                    ),
                ),
                (
                    "state",
                    models.CharField(
                        choices=[("armed", "Armed"), ("fired", "Fired (waiting to re-arm)")],
                        default="armed",
                        max_length=10,
                    ),
                ),
                (
                    "crossing",
                    models.PositiveIntegerField(default=0, help_text="Number of times it fired."),
                ),
                (
                    "version",
                    models.PositiveIntegerField(
                        default=0, help_text="Bumped by every state change."
                    ),
                ),
                ("last_value", models.FloatField(blank=True, null=True)),
                ("last_evaluated_at", models.DateTimeField(blank=True, null=True)),
                ("last_error", models.CharField(blank=True, max_length=200)),
                ("last_fired_at", models.DateTimeField(blank=True, null=True)),
                ("delivery_error", models.CharField(blank=True, max_length=300)),
                (
                    "last_trade_id",
                    models.BigIntegerField(
                        blank=True,
                        help_text="Event rules: the last ledger trade already notified.",
                        null=True,
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "portfolio",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="alert_rules",
                        to="portfolio.portfolio",
                    ),
                ),
            ],
            options={
                "ordering": ["portfolio", "symbol", "pk"],
            },
        ),
        migrations.CreateModel(
            name="AlertEvent",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("crossing", models.PositiveIntegerField()),
                ("rule_text", models.CharField(max_length=200)),
                ("symbol", models.CharField(max_length=10)),
                ("kind", models.CharField(max_length=20)),
                ("value", models.FloatField()),
                (
                    "numbers",
                    models.JSONField(
                        default=dict, help_text="The portfolio's numbers at the time."
                    ),
                ),
                ("message", models.CharField(max_length=300)),
                (
                    "fired_at",
                    models.DateTimeField(db_index=True, default=django.utils.timezone.now),
                ),
                ("in_app", models.BooleanField(default=True)),
                ("read_at", models.DateTimeField(blank=True, null=True)),
                (
                    "portfolio",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="alert_events",
                        to="portfolio.portfolio",
                    ),
                ),
                (
                    "rule",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="events",
                        to="alerts.alertrule",
                    ),
                ),
            ],
            options={
                "ordering": ["-fired_at", "-pk"],
            },
        ),
        migrations.CreateModel(
            name="AlertDelivery",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "channel",
                    models.CharField(
                        choices=[("email", "E-mail"), ("apprise", "Apprise")], max_length=10
                    ),
                ),
                ("destination", models.TextField()),
                (
                    "target",
                    models.CharField(help_text="Where it goes, secrets masked.", max_length=200),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("pending", "Pending"),
                            ("sending", "Sending"),
                            ("sent", "Sent"),
                            ("failed", "Failed (gave up)"),
                        ],
                        default="pending",
                        max_length=10,
                    ),
                ),
                ("attempts", models.PositiveSmallIntegerField(default=0)),
                ("next_attempt_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("claimed_until", models.DateTimeField(blank=True, null=True)),
                ("last_error", models.CharField(blank=True, max_length=300)),
                ("sent_at", models.DateTimeField(blank=True, null=True)),
                (
                    "event",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="deliveries",
                        to="alerts.alertevent",
                    ),
                ),
            ],
            options={
                "ordering": ["pk"],
                "indexes": [
                    models.Index(fields=["status", "next_attempt_at"], name="alertdelivery_due")
                ],
            },
        ),
        migrations.AddIndex(
            model_name="alertrule",
            index=models.Index(fields=["symbol", "enabled"], name="alertrule_symbol_enabled"),
        ),
        migrations.AddConstraint(
            model_name="alertrule",
            constraint=models.CheckConstraint(
                condition=models.Q(("reset_band__gte", 0)), name="alertrule_band_nonneg"
            ),
        ),
        migrations.AddConstraint(
            model_name="alertrule",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("op", "outside"), _negated=True),
                    ("upper__gt", models.F("level")),
                    _connector="OR",
                ),
                name="alertrule_outside_bounds",
            ),
        ),
        migrations.AddConstraint(
            model_name="alertevent",
            constraint=models.UniqueConstraint(
                fields=("rule", "crossing"), name="alertevent_one_per_crossing"
            ),
        ),
    ]
