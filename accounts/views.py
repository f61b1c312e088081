"""Log-in and log-out pages (Django's own views, plus the OpenID Connect button and logout),
and creating an account: from an invitation link, or by open sign-up where the setting allows."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts.forms import SignUpForm
from accounts.models import Invitation, InvitationError, accept_invitation


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


# --- creating an account ---------------------------------------------------------------------


# django-axes wants to know which backend authenticated a login it did not see.
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


def _welcome(request: HttpRequest, user: Any) -> HttpResponse:
    login(request, user, backend=MODEL_BACKEND)
    messages.success(request, f"Welcome, {user.get_username()}.")
    return redirect("portfolio:welcome")


@require_http_methods(["GET", "POST"])
def accept(request: HttpRequest, token: str) -> HttpResponse:
    invitation = Invitation.objects.find(token)
    if invitation is None:
        return render(request, "accounts/invitation_invalid.html", status=404)
    form = SignUpForm(request.POST or None, initial={"email": invitation.email})
    if request.method == "POST" and form.is_valid():
        try:
            user = accept_invitation(token, form.save)
        except InvitationError as exc:
            return render(
                request, "accounts/invitation_invalid.html", {"error": str(exc)}, status=404
            )
        return _welcome(request, user)
    return render(
        request,
        "accounts/signup.html",
        {"form": form, "invitation": invitation},
        status=400 if request.method == "POST" else 200,
    )


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if not settings.OPEN_SIGNUP:
        raise Http404("sign-up is by invitation")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        return _welcome(request, form.save())
    return render(
        request,
        "accounts/signup.html",
        {"form": form, "invitation": None},
        status=400 if request.method == "POST" else 200,
    )
