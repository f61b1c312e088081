# The app's whole schema in one migration, made by makemigrations from the models before the
# first production release (issue 19). It replaces the old chain, so a database that applied
# all of it counts as migrated; one that applied part of it must first migrate to the end of
# the old chain (main at 4746ce7). docs/architecture.md#migrations.
# Of the old chain's data migrations, only the commodity backing defaults do anything on a
# fresh database (positions_to_trades converted positions that predate the ledger).

from decimal import Decimal
from typing import Any

import django.core.validators
import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

import market.calendar

# Default commodity backings for GLD and IAU (docs/backing.md gives the sources and arithmetic).
# Both figures are *derived* for 2026-11-30 from each trust's launch at 1/10 troy ounce a share,
# its share splits and its sponsor fee accrued daily; they are within a few hundredths of a
# percent of what the sponsors publish, not copies of it. Update them in the admin from the
# sponsor's published "ounces of gold per share".
BACKING_DEFAULTS = [
    {
        "symbol": "GLD",
        "commodity": "gold",
        "ounces_per_share": Decimal("0.0915589843"),
        "as_of": "2026-11-30",
        "annual_fee_pct": Decimal("0.4000"),
        "source": "Derived: 0.1 oz/share at launch (18 Nov 2004) less the 0.40 %/yr sponsor fee "
        "accrued daily (SPDR Gold Trust prospectus). Check against spdrgoldshares.com "
        "'Ounces of Gold per Share' and update.",
    },
    {
        "symbol": "IAU",
        "commodity": "gold",
        "ounces_per_share": Decimal("0.0187817974"),
        "as_of": "2026-11-30",
        "annual_fee_pct": Decimal("0.2500"),
        "source": "Derived: 0.1 oz/share at launch (21 Jan 2005), 10-for-1 split (June 2010), "
        "1-for-2 reverse split (24 May 2021), sponsor fee 0.40 %/yr to 30 Jun 2010 then "
        "0.25 %/yr accrued daily (iShares Gold Trust prospectus). Check against ishares.com "
        "and update.",
    },
]


def add_backing_defaults(apps: Any, schema_editor: Any) -> None:
    backing = apps.get_model("portfolio", "CommodityBacking").objects
    db = schema_editor.connection.alias  # the database being migrated, not always "default"
    for row in BACKING_DEFAULTS:
        backing.using(db).get_or_create(symbol=row["symbol"], defaults=row)


class Migration(migrations.Migration):
    initial = True

    replaces = [
        ("portfolio", "0001_initial"),
        ("portfolio", "0002_ledger"),
        ("portfolio", "0003_positions_to_trades"),
        ("portfolio", "0004_itm_expiry"),
        ("portfolio", "0005_opened_on_market_date"),
        ("portfolio", "0006_commodity_backing"),
        ("portfolio", "0007_commodity_backing_defaults"),
        ("portfolio", "0008_trade_source_roll"),
        ("portfolio", "0009_trade_source_demo"),
    ]

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="CommodityBacking",
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
                        unique=True,
                        validators=[
                            django.core.validators.RegexValidator(
                                "^[A-Z][A-Z0-9.\\-]{0,9}$",
                                "Use an upper-case ticker symbol such as GLD.",
                            )
                        ],
                    ),
                ),
                ("commodity", models.CharField(default="gold", max_length=40)),
                (
                    "ounces_per_share",
                    models.DecimalField(
                        decimal_places=10,
                        help_text="Troy ounces of metal behind one share on the date below (the sponsor publishes it daily, e.g. “ounces of gold per share”).",
                        max_digits=14,
                        validators=[django.core.validators.MinValueValidator(Decimal("1E-10"))],
                    ),
                ),
                (
                    "as_of",
                    models.DateField(help_text="The date the ounces per share were published for."),
                ),
                (
                    "annual_fee_pct",
                    models.DecimalField(
                        decimal_places=4,
                        help_text="The sponsor's fee in % a year, accrued daily (GLD 0.40, IAU 0.25).",
                        max_digits=6,
                        validators=[
                            django.core.validators.MinValueValidator(Decimal("0")),
                            django.core.validators.MaxValueValidator(Decimal("10")),
                        ],
                    ),
                ),
                (
                    "source",
                    models.CharField(
                        blank=True,
                        help_text="Where the figures come from (a URL or document).",
                        max_length=300,
                    ),
                ),
                ("enabled", models.BooleanField(default=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
            options={
                "verbose_name": "commodity backing",
                "ordering": ["symbol"],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("ounces_per_share__gt", 0)),
                        name="backing_ounces_positive",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("annual_fee_pct__gte", 0), ("annual_fee_pct__lte", 10)),
                        name="backing_fee_range",
                    ),
                ],
            },
        ),
        migrations.CreateModel(
            name="Portfolio",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=100)),
                (
                    "is_demo",
                    models.BooleanField(
                        default=False,
                        help_text="Ownerless demo data that anonymous visitors may see.",
                    ),
                ),
                ("base_currency", models.CharField(default="USD", max_length=3)),
                (
                    "default_symbol",
                    models.CharField(
                        default="GLD",
                        max_length=10,
                        validators=[
                            django.core.validators.RegexValidator(
                                "^[A-Z][A-Z0-9.\\-]{0,9}$",
                                "Use an upper-case ticker symbol such as GLD.",
                            )
                        ],
                    ),
                ),
                (
                    "lot_method",
                    models.CharField(
                        choices=[("fifo", "First in, first out"), ("average", "Average cost")],
                        default="fifo",
                        help_text="How closing trades are matched against open lots for realised P&L.",
                        max_length=10,
                    ),
                ),
                (
                    "itm_expiry",
                    models.CharField(
                        choices=[
                            ("settle", "Close at intrinsic value"),
                            ("deliver", "Assign and exercise into shares"),
                        ],
                        default="settle",
                        help_text="Settle them at intrinsic value, or deliver shares at the strike (short calls assigned, long puts exercised, and the like).",
                        max_length=10,
                        verbose_name="in-the-money options at expiry",
                    ),
                ),
                (
                    "hedge_warning_days",
                    models.PositiveSmallIntegerField(
                        default=21,
                        help_text="Warn when a hedge expires within this many days.",
                        validators=[django.core.validators.MinValueValidator(1)],
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "owner",
                    models.ForeignKey(
                        blank=True,
                        help_text="Empty only for the shared demo portfolio.",
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="portfolios",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["name", "pk"],
            },
        ),
        migrations.CreateModel(
            name="Lot",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("opened_on", models.DateField()),
                (
                    "quantity",
                    models.DecimalField(
                        decimal_places=6, help_text="Signed, opened.", max_digits=18
                    ),
                ),
                (
                    "remaining",
                    models.DecimalField(decimal_places=6, help_text="Signed, open.", max_digits=18),
                ),
                ("cost", models.DecimalField(decimal_places=6, max_digits=20)),
                ("remaining_cost", models.DecimalField(decimal_places=6, max_digits=20)),
                (
                    "portfolio",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="lots",
                        to="portfolio.portfolio",
                    ),
                ),
            ],
            options={
                "ordering": ["portfolio", "opened_on", "pk"],
            },
        ),
        migrations.CreateModel(
            name="PortfolioSnapshot",
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
                (
                    "taken_at",
                    models.DateTimeField(db_index=True, default=django.utils.timezone.now),
                ),
                ("spot", models.FloatField()),
                ("value", models.FloatField()),
                ("cost", models.FloatField()),
                ("pnl", models.FloatField()),
                ("day_change", models.FloatField(default=0.0)),
                ("delta", models.FloatField(help_text="Net delta in share-equivalents.")),
                ("stale", models.BooleanField(default=False)),
                (
                    "portfolio",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="snapshots",
                        to="portfolio.portfolio",
                    ),
                ),
            ],
            options={
                "ordering": ["-taken_at"],
                "get_latest_by": "taken_at",
            },
        ),
        migrations.CreateModel(
            name="Position",
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
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("underlying", "Underlying shares"),
                            ("physical", "Physical units"),
                            ("option", "Option"),
                        ],
                        default="underlying",
                        max_length=10,
                    ),
                ),
                (
                    "quantity",
                    models.DecimalField(
                        decimal_places=6,
                        help_text="Signed: + long, − short. Shares, contracts or physical units.",
                        max_digits=18,
                    ),
                ),
                (
                    "cost_basis",
                    models.DecimalField(
                        decimal_places=6,
                        help_text="Price paid per unit as quoted (per share; option premium per share).",
                        max_digits=18,
                        validators=[django.core.validators.MinValueValidator(Decimal("0"))],
                    ),
                ),
                ("expiry", models.DateField(blank=True, null=True)),
                (
                    "strike",
                    models.DecimalField(blank=True, decimal_places=4, max_digits=12, null=True),
                ),
                (
                    "right",
                    models.CharField(
                        blank=True, choices=[("C", "Call"), ("P", "Put")], max_length=1
                    ),
                ),
                (
                    "style",
                    models.CharField(
                        choices=[("american", "American"), ("european", "European")],
                        default="american",
                        max_length=10,
                    ),
                ),
                (
                    "units_per_share",
                    models.DecimalField(
                        blank=True,
                        decimal_places=8,
                        help_text="Physical only: units per share of the symbol (e.g. oz of gold per GLD share).",
                        max_digits=18,
                        null=True,
                    ),
                ),
                ("opened_on", models.DateField(default=market.calendar.market_date)),
                ("closed_on", models.DateField(blank=True, null=True)),
                ("note", models.CharField(blank=True, max_length=200)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "portfolio",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="positions",
                        to="portfolio.portfolio",
                    ),
                ),
            ],
            options={
                "ordering": ["portfolio", "symbol", "kind", "expiry", "strike", "right"],
            },
        ),
        migrations.CreateModel(
            name="Trade",
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
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("underlying", "Underlying shares"),
                            ("physical", "Physical units"),
                            ("option", "Option"),
                        ],
                        default="underlying",
                        max_length=10,
                    ),
                ),
                ("expiry", models.DateField(blank=True, null=True)),
                (
                    "strike",
                    models.DecimalField(blank=True, decimal_places=4, max_digits=12, null=True),
                ),
                (
                    "right",
                    models.CharField(
                        blank=True, choices=[("C", "Call"), ("P", "Put")], max_length=1
                    ),
                ),
                (
                    "style",
                    models.CharField(
                        choices=[("american", "American"), ("european", "European")],
                        default="american",
                        max_length=10,
                    ),
                ),
                (
                    "units_per_share",
                    models.DecimalField(blank=True, decimal_places=8, max_digits=18, null=True),
                ),
                (
                    "action",
                    models.CharField(
                        choices=[
                            ("buy", "Buy"),
                            ("sell", "Sell"),
                            ("open", "Open"),
                            ("close", "Close"),
                            ("expiry", "Expiry"),
                            ("assignment", "Assignment"),
                            ("exercise", "Exercise"),
                        ],
                        max_length=12,
                    ),
                ),
                (
                    "quantity",
                    models.DecimalField(
                        decimal_places=6, help_text="Signed: + bought, − sold.", max_digits=18
                    ),
                ),
                (
                    "price",
                    models.DecimalField(
                        decimal_places=6,
                        help_text="Per unit as quoted (per share; option premium per share).",
                        max_digits=18,
                        validators=[django.core.validators.MinValueValidator(Decimal("0"))],
                    ),
                ),
                (
                    "fees",
                    models.DecimalField(
                        decimal_places=4,
                        default=Decimal("0"),
                        help_text="Commission and charges for the whole trade.",
                        max_digits=12,
                        validators=[django.core.validators.MinValueValidator(Decimal("0"))],
                    ),
                ),
                ("traded_on", models.DateField(db_index=True, default=market.calendar.market_date)),
                (
                    "source",
                    models.CharField(
                        choices=[
                            ("manual", "Entered in the app"),
                            ("csv", "CSV import"),
                            ("broker", "Broker import"),
                            ("adoption", "Adopted hedge"),
                            ("roll", "Rolled hedge"),
                            ("expiry", "Expiry processing"),
                            ("migration", "Opening trade of a position that predates the ledger"),
                            ("admin", "Django admin"),
                            ("demo", "Demo portfolio (seed_demo)"),
                        ],
                        default="manual",
                        max_length=10,
                    ),
                ),
                (
                    "external_id",
                    models.CharField(
                        blank=True,
                        help_text="The broker's (or file's) id of the trade: importing it again adds nothing.",
                        max_length=120,
                    ),
                ),
                ("note", models.CharField(blank=True, max_length=200)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "created_by",
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
                        related_name="trades",
                        to="portfolio.portfolio",
                    ),
                ),
            ],
            options={
                "ordering": ["portfolio", "traded_on", "pk"],
            },
        ),
        migrations.CreateModel(
            name="LotClosure",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("symbol", models.CharField(max_length=10)),
                ("closed_on", models.DateField()),
                (
                    "quantity",
                    models.DecimalField(
                        decimal_places=6,
                        help_text="Signed like the lot: the amount closed.",
                        max_digits=18,
                    ),
                ),
                ("realised", models.DecimalField(decimal_places=6, max_digits=20)),
                (
                    "lot",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="closures",
                        to="portfolio.lot",
                    ),
                ),
                (
                    "portfolio",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="portfolio.portfolio",
                    ),
                ),
                (
                    "trade",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="closures",
                        to="portfolio.trade",
                    ),
                ),
            ],
            options={
                "ordering": ["portfolio", "closed_on", "pk"],
            },
        ),
        migrations.AddField(
            model_name="lot",
            name="trade",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="lots",
                to="portfolio.trade",
            ),
        ),
        migrations.CreateModel(
            name="TradeAudit",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("trade_id", models.BigIntegerField(blank=True, db_index=True, null=True)),
                (
                    "change",
                    models.CharField(
                        choices=[
                            ("create", "Created"),
                            ("update", "Changed"),
                            ("delete", "Deleted"),
                            ("setting", "Ledger setting changed"),
                        ],
                        max_length=10,
                    ),
                ),
                ("at", models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                ("before", models.JSONField(blank=True, null=True)),
                ("after", models.JSONField(blank=True, null=True)),
                ("reason", models.CharField(blank=True, max_length=200)),
                (
                    "actor",
                    models.ForeignKey(
                        blank=True,
                        help_text="Empty for the system (expiry processing, migrations, anonymous demo).",
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
                        related_name="audit",
                        to="portfolio.portfolio",
                    ),
                ),
            ],
            options={
                "ordering": ["-at", "-pk"],
            },
        ),
        migrations.AddConstraint(
            model_name="portfolio",
            constraint=models.UniqueConstraint(
                fields=("owner", "name"), name="portfolio_unique_owner_name"
            ),
        ),
        migrations.AddConstraint(
            model_name="portfolio",
            constraint=models.UniqueConstraint(
                condition=models.Q(("owner__isnull", True)),
                fields=("name",),
                name="portfolio_unique_ownerless_name",
            ),
        ),
        migrations.AddConstraint(
            model_name="portfolio",
            constraint=models.CheckConstraint(
                condition=models.Q(("is_demo", False), ("owner__isnull", True), _connector="OR"),
                name="portfolio_demo_is_ownerless",
            ),
        ),
        migrations.AddIndex(
            model_name="portfoliosnapshot",
            index=models.Index(fields=["portfolio", "symbol", "taken_at"], name="snapshot_lookup"),
        ),
        migrations.AddIndex(
            model_name="position",
            index=models.Index(fields=["portfolio", "symbol"], name="position_portfolio_symbol"),
        ),
        migrations.AddConstraint(
            model_name="position",
            constraint=models.CheckConstraint(
                condition=models.Q(("quantity", 0), _negated=True), name="position_nonzero_quantity"
            ),
        ),
        migrations.AddConstraint(
            model_name="position",
            constraint=models.CheckConstraint(
                condition=models.Q(("cost_basis__gte", 0)), name="position_cost_nonneg"
            ),
        ),
        migrations.AddConstraint(
            model_name="position",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        ("expiry__isnull", False),
                        ("kind", "option"),
                        ("right__in", ["C", "P"]),
                        ("strike__gt", 0),
                        ("strike__isnull", False),
                        ("units_per_share__isnull", True),
                    ),
                    models.Q(
                        ("expiry__isnull", True),
                        ("kind", "underlying"),
                        ("right", ""),
                        ("strike__isnull", True),
                        ("units_per_share__isnull", True),
                    ),
                    models.Q(
                        ("expiry__isnull", True),
                        ("kind", "physical"),
                        ("right", ""),
                        ("strike__isnull", True),
                        ("units_per_share__gt", 0),
                        ("units_per_share__isnull", False),
                    ),
                    _connector="OR",
                ),
                name="position_instrument_fields",
            ),
        ),
        migrations.AddConstraint(
            model_name="position",
            constraint=models.UniqueConstraint(
                condition=models.Q(
                    ("closed_on__isnull", True), models.Q(("kind", "option"), _negated=True)
                ),
                fields=("portfolio", "symbol", "kind"),
                name="position_unique_open_holding",
            ),
        ),
        migrations.AddConstraint(
            model_name="position",
            constraint=models.UniqueConstraint(
                condition=models.Q(("closed_on__isnull", True), ("kind", "option")),
                fields=("portfolio", "symbol", "expiry", "strike", "right", "style"),
                name="position_unique_open_option",
            ),
        ),
        migrations.AddIndex(
            model_name="trade",
            index=models.Index(fields=["portfolio", "symbol", "kind"], name="trade_instrument"),
        ),
        migrations.AddConstraint(
            model_name="trade",
            constraint=models.CheckConstraint(
                condition=models.Q(("quantity", 0), _negated=True), name="trade_nonzero_quantity"
            ),
        ),
        migrations.AddConstraint(
            model_name="trade",
            constraint=models.CheckConstraint(
                condition=models.Q(("price__gte", 0)), name="trade_price_nonneg"
            ),
        ),
        migrations.AddConstraint(
            model_name="trade",
            constraint=models.CheckConstraint(
                condition=models.Q(("fees__gte", 0)), name="trade_fees_nonneg"
            ),
        ),
        migrations.AddConstraint(
            model_name="trade",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        ("expiry__isnull", False),
                        ("kind", "option"),
                        ("right__in", ["C", "P"]),
                        ("strike__gt", 0),
                        ("strike__isnull", False),
                        ("units_per_share__isnull", True),
                    ),
                    models.Q(
                        ("expiry__isnull", True),
                        ("kind", "underlying"),
                        ("right", ""),
                        ("strike__isnull", True),
                        ("units_per_share__isnull", True),
                    ),
                    models.Q(
                        ("expiry__isnull", True),
                        ("kind", "physical"),
                        ("right", ""),
                        ("strike__isnull", True),
                        ("units_per_share__gt", 0),
                        ("units_per_share__isnull", False),
                    ),
                    _connector="OR",
                ),
                name="trade_instrument_fields",
            ),
        ),
        migrations.AddConstraint(
            model_name="trade",
            constraint=models.UniqueConstraint(
                condition=models.Q(("external_id", ""), _negated=True),
                fields=("portfolio", "external_id"),
                name="trade_unique_external_id",
            ),
        ),
        migrations.AddIndex(
            model_name="lotclosure",
            index=models.Index(fields=["portfolio", "symbol"], name="closure_portfolio_symbol"),
        ),
        # Reversing drops the table, rows and all.
        migrations.RunPython(add_backing_defaults, migrations.RunPython.noop),
    ]
