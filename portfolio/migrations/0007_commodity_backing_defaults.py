"""Default commodity backings for GLD and IAU (docs/backing.md gives the sources and arithmetic).

Both figures are *derived* for 2026-11-30 from each trust's launch at 1/10 troy ounce a share,
its share splits and its sponsor fee accrued daily; they are within a few hundredths of a
percent of what the sponsors publish, not copies of it. Update them in the admin from the
sponsor's published "ounces of gold per share".
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import migrations

DEFAULTS = [
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


def add_defaults(apps: Any, schema_editor: Any) -> None:
    backing = apps.get_model("portfolio", "CommodityBacking")
    for row in DEFAULTS:
        backing.objects.get_or_create(symbol=row["symbol"], defaults=row)


def remove_defaults(apps: Any, schema_editor: Any) -> None:
    backing = apps.get_model("portfolio", "CommodityBacking")
    for row in DEFAULTS:
        # Only the untouched defaults: a row the user edited stays.
        backing.objects.filter(
            symbol=row["symbol"],
            ounces_per_share=row["ounces_per_share"],
            as_of=row["as_of"],
        ).delete()


class Migration(migrations.Migration):
    dependencies = [("portfolio", "0006_commodity_backing")]

    operations = [migrations.RunPython(add_defaults, remove_defaults)]
