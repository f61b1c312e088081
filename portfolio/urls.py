from __future__ import annotations

from django.urls import path

from portfolio import views

app_name = "portfolio"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("portfolios/<int:pk>/import/", views.import_positions, name="import"),
    path("portfolios/<int:pk>/export.csv", views.export_positions, name="export"),
]
