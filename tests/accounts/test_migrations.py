"""ApiToken moved from the vault_dash app to accounts without touching its table."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("vault_dash", "0001_initial")]
AFTER = [("vault_dash", "0002_apitoken_moved_to_accounts"), ("accounts", "0001_initial")]


def _migrate(targets, state_at=None):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor.loader.project_state(state_at or targets).apps


@pytest.fixture(autouse=True)
def _back_to_latest():
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_tokens_issued_before_the_move_still_authenticate() -> None:
    old_apps = _migrate([("accounts", None)], state_at=BEFORE)
    User = old_apps.get_model("auth", "User")
    OldToken = old_apps.get_model("vault_dash", "ApiToken")
    from accounts.models import TOKEN_PREFIX, _digest

    user = User.objects.create(username="mover", is_active=True)
    plain = f"{TOKEN_PREFIX}_abcd1234_secret-part"
    OldToken.objects.create(user=user, name="cron", prefix="abcd1234", digest=_digest(plain))

    new_apps = _migrate(AFTER)
    with pytest.raises(LookupError):
        new_apps.get_model("vault_dash", "ApiToken")
    from accounts.models import ApiToken

    found = ApiToken.objects.authenticate(plain)
    assert found is not None and found.name == "cron" and found.user.username == "mover"
