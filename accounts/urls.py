"""Account creation: invitation links and (where allowed) open sign-up."""

from __future__ import annotations

from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("invite/<str:token>/", views.accept, name="accept"),
    path("signup/", views.signup, name="signup"),
]
