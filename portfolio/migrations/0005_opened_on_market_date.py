# Positions open and trades are dated on New York's date (market.calendar.market_date), the
# one trading calendar; after the ledger migrations.

from django.db import migrations, models

import market.calendar


class Migration(migrations.Migration):
    dependencies = [
        ("portfolio", "0004_itm_expiry"),
    ]

    operations = [
        migrations.AlterField(
            model_name="position",
            name="opened_on",
            field=models.DateField(default=market.calendar.market_date),
        ),
        migrations.AlterField(
            model_name="trade",
            name="traded_on",
            field=models.DateField(db_index=True, default=market.calendar.market_date),
        ),
    ]
