from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path

from accounts import views as account_views
from vault_dash import views
from vault_dash.api import api

prefix = settings.CONFIG.mount_prefix

urlpatterns = [
    re_path(r"^health/?$", views.health, name="health"),
    path("health/live", views.health_live, name="health-live"),
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path(f"{prefix}login/", account_views.LoginView.as_view(), name="login"),
    path(f"{prefix}logout/", account_views.LogoutView.as_view(), name="logout"),
    path(f"{prefix}accounts/", include("accounts.urls")),
    path(prefix, include("portfolio.urls")),
    path(prefix, include("strategies.urls")),
    path(prefix, include("alerts.urls")),
]

if account_views.oidc_enabled():
    urlpatterns.insert(0, path(f"{prefix}oidc/", include("accounts.oidc_urls")))
