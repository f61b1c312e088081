from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path

from vault_dash import views
from vault_dash.api import api

prefix = settings.CONFIG.mount_prefix

urlpatterns = [
    re_path(r"^health/?$", views.health, name="health"),
    path("health/live", views.health_live, name="health-live"),
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path(
        f"{prefix}login/",
        auth_views.LoginView.as_view(template_name="registration/login.html"),
        name="login",
    ),
    path(f"{prefix}logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(prefix, include("portfolio.urls")),
    path(prefix, include("strategies.urls")),
    path(prefix, include("alerts.urls")),
]
