"""OpenID Connect sign-in routes (included by vault_dash.urls when OIDC_ISSUER is set).

The names are the ones mozilla-django-oidc reverses.
"""

from __future__ import annotations

from django.urls import path

from accounts.oidc import OidcAuthenticateView, OidcCallbackView

urlpatterns = [
    path("authenticate/", OidcAuthenticateView.as_view(), name="oidc_authentication_init"),
    path("callback/", OidcCallbackView.as_view(), name="oidc_authentication_callback"),
]
