"""The alerts page of a portfolio: its rules (state, last value, why not evaluable), a form to
add one, delete buttons, and the alert log; and the signed-in user's alert log across their
portfolios, where the header's bell leads."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from alerts import notify
from alerts.api import MAX_RULES_PER_PORTFOLIO
from alerts.forms import AlertRuleForm
from alerts.models import AlertEvent, AlertRule
from portfolio import access
from portfolio.models import Portfolio


@require_http_methods(["GET", "POST"])
def rules(request: HttpRequest, pk: int) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    portfolio = access.editable(request.user, pk)
    existing = list(AlertRule.objects.filter(portfolio=portfolio))
    status = 200
    if request.method == "POST":
        form = AlertRuleForm(request.POST, portfolio=portfolio)
        if len(existing) >= MAX_RULES_PER_PORTFOLIO:
            form.add_error(None, f"At most {MAX_RULES_PER_PORTFOLIO} rules per portfolio.")
        if form.is_valid():
            form.save()
            messages.success(request, "Alert rule added.")
            return redirect("alerts:rules", pk=portfolio.pk)
        status = 400
    else:
        form = AlertRuleForm(portfolio=portfolio, initial={"symbol": portfolio.default_symbol})
    events = list(
        AlertEvent.objects.filter(portfolio=portfolio).prefetch_related("deliveries")[:50]
    )
    unread_ids = {e.pk for e in events if e.read_at is None}
    if request.method == "GET":  # seeing the log reads the alerts: the bell goes down
        unread = AlertEvent.objects.filter(portfolio=portfolio, read_at__isnull=True)
        if unread.update(read_at=timezone.now()):
            notify.announce([portfolio.owner_id])
    context = {
        "portfolio": portfolio,
        "rules": existing,
        "form": form,
        "events": events,
        "unread_ids": unread_ids,
    }
    return render(request, "alerts/rules.html", context, status=status)


INBOX_SIZE = 100


@require_http_methods(["GET"])
def inbox(request: HttpRequest) -> HttpResponse:
    """The bell's page: the latest alerts of the portfolios the user owns. Seeing it reads them."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    mine = AlertEvent.objects.filter(portfolio__owner=request.user, in_app=True)
    events = list(mine.select_related("portfolio").prefetch_related("deliveries")[:INBOX_SIZE])
    unread_ids = {e.pk for e in events if e.read_at is None}
    if mine.filter(read_at__isnull=True).update(read_at=timezone.now()):
        notify.announce([request.user.pk])
    portfolios = Portfolio.objects.filter(owner=request.user).order_by("name", "pk")
    return render(
        request,
        "alerts/inbox.html",
        {"events": events, "unread_ids": unread_ids, "portfolios": portfolios},
    )


@require_POST
def delete_rule(request: HttpRequest, pk: int, rule_id: int) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    portfolio = access.editable(request.user, pk)
    deleted, _ = AlertRule.objects.filter(portfolio=portfolio, pk=rule_id).delete()
    if not deleted:
        raise Http404("no such rule")
    messages.success(request, "Alert rule deleted.")
    return redirect("alerts:rules", pk=portfolio.pk)
