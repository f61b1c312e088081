"""Log-in and log-out pages: Django's own views, plus the OpenID Connect button and logout."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect


def oidc_enabled() -> bool:
    return bool(getattr(settings, "OIDC_ISSUER", ""))


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        if oidc_enabled():
            context["oidc_provider_name"] = settings.OIDC_PROVIDER_NAME
        return context


class LogoutView(auth_views.LogoutView):
    """Ends the session here and, after an OIDC sign-in, at the provider too."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        id_token = request.session.get("oidc_id_token") if oidc_enabled() else None
        response = super().post(request, *args, **kwargs)
        if id_token:
            from accounts.oidc import end_session_url

            url = end_session_url(request, id_token)
            if url:
                return HttpResponseRedirect(url)
        return response
