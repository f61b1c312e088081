from __future__ import annotations

from django.urls import path

from portfolio import views

app_name = "portfolio"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("welcome/", views.welcome, name="welcome"),
    path("portfolios/<int:pk>/start/", views.start, name="start"),
    path("portfolios/<int:pk>/import/", views.import_positions, name="import"),
    path("portfolios/<int:pk>/export.csv", views.export_positions, name="export"),
    path("portfolios/<int:pk>/import/broker/", views.broker_import, name="broker_import"),
    path("portfolios/<int:pk>/trades/", views.trades, name="trades"),
    path("portfolios/<int:pk>/trades/add/", views.trade_add, name="trade_add"),
    path("portfolios/<int:pk>/trades/<int:trade_id>/edit/", views.trade_edit, name="trade_edit"),
    path(
        "portfolios/<int:pk>/trades/<int:trade_id>/delete/",
        views.trade_delete,
        name="trade_delete",
    ),
    path(
        "portfolios/<int:pk>/positions/<int:position_id>/close/",
        views.position_close,
        name="position_close",
    ),
]
