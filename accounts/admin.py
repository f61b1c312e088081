from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse

from accounts.models import INVITATION_DAYS, ApiToken, Invitation


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "prefix", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at", "created_at")
    search_fields = ("name", "user__username", "prefix")
    readonly_fields = ("prefix", "created_at", "last_used_at")
    fields = ("user", "name", "prefix", "created_at", "last_used_at", "revoked_at")
    actions = ["revoke_tokens"]

    def save_model(self, request: HttpRequest, obj: ApiToken, form: object, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        token, plain = ApiToken.issue(obj.user, obj.name)
        obj.pk, obj.prefix, obj.digest = token.pk, token.prefix, token.digest
        obj.created_at = token.created_at
        # Shown once; only a digest is stored.
        self.message_user(
            request,
            f"New API token (copy it now, it is not shown again): {plain}",
            messages.WARNING,
        )

    @admin.action(description="Revoke selected tokens")
    def revoke_tokens(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        for token in queryset:
            token.revoke()
        self.message_user(request, f"Revoked {queryset.count()} token(s).")


class InvitationForm(forms.ModelForm[Invitation]):
    days = forms.IntegerField(
        min_value=1, max_value=90, initial=INVITATION_DAYS, help_text="Days the link stays valid."
    )

    class Meta:
        model = Invitation
        fields = ("email", "note")


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin[Invitation]):
    """Staff invite people here; the link is shown once, after saving."""

    list_display = (
        "prefix",
        "email",
        "status",
        "created_by",
        "created_at",
        "expires_at",
        "used_by",
    )
    list_filter = (("used_at", admin.EmptyFieldListFilter), "expires_at", "created_at")
    search_fields = ("email", "note", "prefix", "used_by__username")
    list_select_related = ("created_by", "used_by")
    readonly_fields = ("prefix", "created_by", "created_at", "expires_at", "used_at", "used_by")

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        if obj is None:
            kwargs["form"] = InvitationForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ("email", "note", "days")
        return ("email", "note", *self.readonly_fields)

    def save_model(self, request: HttpRequest, obj: Invitation, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        invitation, token = Invitation.issue(
            request.user,
            email=obj.email,
            note=obj.note,
            days=form.cleaned_data["days"],
        )
        obj.pk = invitation.pk
        link = request.build_absolute_uri(reverse("accounts:accept", args=[token]))
        self.message_user(
            request,
            f"Invitation link (single use, copy it now, it is not shown again): {link}",
            messages.WARNING,
        )

    @admin.display(description="Status")
    def status(self, obj: Invitation) -> str:
        return obj.status
