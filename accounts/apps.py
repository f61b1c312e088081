from __future__ import annotations

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Who may call the app: API tokens and the API's authentication."""

    name = "accounts"
    verbose_name = "Accounts"
