# ApiToken now lives in the accounts app (same table, see accounts 0001): drop it from this
# app's state only. The project package keeps its migrations so existing databases migrate on.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("vault_dash", "0001_initial"),
        ("accounts", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="ApiToken")],
            database_operations=[],
        ),
    ]
