"""Prepare the provider's database: ``python -m tests.support.oidc_provider.prepare < spec.json``.

The spec (on stdin, so no secret appears on a command line) names the client and the users::

    {"client_id": …, "client_secret": …, "redirect_uri": …, "post_logout_redirect_uri": …,
     "users": [{"username": …, "password": …, "email": …, "verified": true}]}
"""

from __future__ import annotations

import json
import os
import sys

os.environ["DJANGO_SETTINGS_MODULE"] = "tests.support.oidc_provider.settings"


def main() -> None:
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from oidc_provider.models import Client, ResponseType

    spec = json.load(sys.stdin)
    call_command("migrate", verbosity=0)
    call_command("creatersakey")
    for user in spec["users"]:
        get_user_model().objects.create_user(
            user["username"],
            email=user["email"],
            password=user["password"],
            last_name="" if user.get("verified", True) else "unverified",
        )
    client = Client.objects.create(
        name="vault-dash",
        client_type="confidential",
        client_id=spec["client_id"],
        client_secret=spec["client_secret"],
        jwt_alg="RS256",
        require_consent=False,
        redirect_uris=[spec["redirect_uri"]],
        post_logout_redirect_uris=[spec["post_logout_redirect_uri"]],
        scope=["openid", "email", "profile"],
    )
    client.response_types.add(ResponseType.objects.get(value="code"))


if __name__ == "__main__":
    main()
