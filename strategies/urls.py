from __future__ import annotations

from django.urls import path

from strategies import roll_views, views

app_name = "strategies"

urlpatterns = [
    path("options/", views.chain_view, name="chain"),
    path("options/iv-history/", views.iv_history_view, name="iv-history"),
    path("strategies/", views.strategies_view, name="strategies"),
    path("strategies/builder/", views.builder_view, name="builder"),
    path("strategies/adopt/", views.adopt_view, name="adopt"),
    path("strategies/roll/", roll_views.roll_view, name="roll"),
]
