from __future__ import annotations

from django.urls import path

from alerts import views

app_name = "alerts"

urlpatterns = [
    path("alerts/", views.inbox, name="inbox"),
    path("portfolios/<int:pk>/alerts/", views.rules, name="rules"),
    path("portfolios/<int:pk>/alerts/<int:rule_id>/delete/", views.delete_rule, name="delete"),
]
