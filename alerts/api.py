"""``/api/alerts``: list, create and delete the alert rules of a portfolio you can edit, and read
its alert log. Errors use the project's JSON shape (``core.api_errors.ApiError``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from ninja import Field as NField
from ninja import Query, Router, Schema

from alerts.models import AlertEvent, AlertRule
from core.api_errors import ApiError
from market.data import normalize_symbol
from market.errors import InvalidSymbol
from portfolio import access
from portfolio.models import Portfolio
from portfolio.schemas import ErrorOut

router: Router = Router(tags=["alerts"])

MAX_RULES_PER_PORTFOLIO = 50
ERRORS: dict[int, Any] = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut}
ID = NField(..., ge=1, le=2**63 - 1, description="Portfolio id")


class PortfolioQuery(Schema):
    portfolio: int = ID


class RuleIn(Schema):
    portfolio: int = ID
    symbol: str | None = NField(None, max_length=20, description="Default: the portfolio's")
    name: str = NField("", max_length=100)
    kind: str = NField(..., description="One of: " + ", ".join(AlertRule.Kind.values))
    op: str = NField(
        ...,
        description="above, below or outside for level kinds; any, expired, assigned or "
        "exercised for option_event (allowed ops depend on kind)",
    )
    level: float | None = NField(
        None, allow_inf_nan=False, description="Required except for option_event (ignored)"
    )
    upper: float | None = NField(None, allow_inf_nan=False, description="For 'outside'")
    reset_band: float = NField(0.0, ge=0, allow_inf_nan=False)
    enabled: bool = True
    notify_in_app: bool = True
    email: str = NField("", max_length=254)
    apprise_urls: list[str] = NField(
        default_factory=list, max_length=5, description="Apprise URLs (stored, shown masked)"
    )


class RuleOut(Schema):
    id: int
    portfolio: int
    symbol: str
    name: str
    description: str
    kind: str
    op: str
    level: float
    upper: float | None
    reset_band: float
    enabled: bool
    notify_in_app: bool
    email: str
    apprise_urls: list[str] = NField(description="Masked: secrets are never returned")
    state: str
    crossing: int
    last_value: float | None
    last_evaluated_at: dt.datetime | None
    last_error: str
    last_fired_at: dt.datetime | None
    delivery_error: str


class DeliveryOut(Schema):
    channel: str
    target: str
    status: str
    attempts: int
    last_error: str


class EventOut(Schema):
    id: int
    rule: int | None
    crossing: int
    fired_at: dt.datetime
    symbol: str
    kind: str
    value: float
    message: str
    numbers: dict[str, float | None]
    read_at: dt.datetime | None
    deliveries: list[DeliveryOut]


def rule_out(rule: AlertRule) -> dict[str, Any]:
    return {
        "id": rule.pk,
        "portfolio": rule.portfolio_id,
        "symbol": rule.symbol,
        "name": rule.name,
        "description": rule.describe(),
        "kind": rule.kind,
        "op": rule.op,
        "level": rule.level,
        "upper": rule.upper,
        "reset_band": rule.reset_band,
        "enabled": rule.enabled,
        "notify_in_app": rule.notify_in_app,
        "email": rule.email,
        "apprise_urls": rule.masked_apprise_urls,
        "state": rule.state,
        "crossing": rule.crossing,
        "last_value": rule.last_value,
        "last_evaluated_at": rule.last_evaluated_at,
        "last_error": rule.last_error,
        "last_fired_at": rule.last_fired_at,
        "delivery_error": rule.delivery_error,
    }


def editable_portfolio(request: HttpRequest, portfolio_id: int) -> Portfolio:
    """The portfolio if the user may change it: 401 anonymous, 404 unseen, 403 read-only."""
    user = request.user
    if not getattr(user, "is_authenticated", False):
        raise ApiError(401, "unauthorized", "log in to manage alerts")
    try:
        portfolio = access.resolve_portfolio(user, portfolio_id)
    except access.PortfolioNotFound:
        raise ApiError(404, "not_found", "no such portfolio", "portfolio") from None
    if portfolio is None or not portfolio.can_edit(user):
        raise ApiError(403, "forbidden", "you cannot change this portfolio", "portfolio")
    return portfolio


@router.get(
    "",
    response={200: list[RuleOut], **ERRORS},
    summary="Alert rules of a portfolio",
    description="Each rule with its state (armed/fired), last value, last evaluation and why it "
    "could not be evaluated, if so. Conditions and hysteresis: docs/alerts.md.",
)
def list_rules(request: HttpRequest, q: Query[PortfolioQuery]) -> Any:
    portfolio = editable_portfolio(request, q.portfolio)
    return [rule_out(r) for r in AlertRule.objects.filter(portfolio=portfolio)]


@router.post(
    "",
    response={201: RuleOut, **ERRORS},
    summary="Create an alert rule",
    description="Fires once when the condition holds and re-arms after the reset band.",
)
def create_rule(request: HttpRequest, body: RuleIn) -> Any:
    portfolio = editable_portfolio(request, body.portfolio)
    if AlertRule.objects.filter(portfolio=portfolio).count() >= MAX_RULES_PER_PORTFOLIO:
        raise ApiError(400, "too_many", f"at most {MAX_RULES_PER_PORTFOLIO} rules per portfolio")
    try:
        symbol = normalize_symbol(body.symbol or portfolio.default_symbol)
    except InvalidSymbol as exc:
        raise ApiError(400, "invalid_symbol", str(exc), "symbol") from None
    level = body.level
    if body.kind in AlertRule.EVENT_KINDS:
        level = 0.0
    elif level is None:
        raise ApiError(400, "invalid", "level: this kind needs a level", "level")
    rule = AlertRule(
        portfolio=portfolio,
        symbol=symbol,
        name=body.name,
        kind=body.kind,
        op=body.op,
        level=level,
        upper=body.upper,
        reset_band=body.reset_band,
        enabled=body.enabled,
        notify_in_app=body.notify_in_app,
        email=body.email,
        apprise_urls="\n".join(body.apprise_urls),
    )
    try:
        rule.full_clean()
    except ValidationError as exc:
        name, messages = next(iter(exc.message_dict.items()))
        field = None if name == "__all__" else name
        raise ApiError(400, "invalid", f"{field or 'rule'}: {messages[0]}", field) from None
    rule.save()
    return 201, rule_out(rule)


@router.get(
    "/events",
    response={200: list[EventOut], **ERRORS},
    summary="Alert log of a portfolio (newest first, at most 200)",
)
def list_events(request: HttpRequest, q: Query[PortfolioQuery]) -> Any:
    portfolio = editable_portfolio(request, q.portfolio)
    events = AlertEvent.objects.filter(portfolio=portfolio).prefetch_related("deliveries")[:200]
    return [
        {
            "id": e.pk,
            "rule": e.rule_id,
            "crossing": e.crossing,
            "fired_at": e.fired_at,
            "symbol": e.symbol,
            "kind": e.kind,
            "value": e.value,
            "message": e.message,
            "numbers": e.numbers,
            "read_at": e.read_at,
            "deliveries": [
                {
                    "channel": d.channel,
                    "target": d.target,
                    "status": d.status,
                    "attempts": d.attempts,
                    "last_error": d.last_error,
                }
                for d in e.deliveries.all()
            ],
        }
        for e in events
    ]


@router.delete(
    "/{rule_id}",
    response={204: None, **ERRORS},
    summary="Delete an alert rule (its log entries stay)",
)
def delete_rule(request: HttpRequest, rule_id: int) -> Any:
    in_range = 1 <= rule_id <= 2**63 - 1  # the database refuses ids beyond 64 bits
    rule = AlertRule.objects.filter(pk=rule_id).first() if in_range else None
    if rule is None:
        raise ApiError(404, "not_found", "no such rule", "rule_id")
    editable_portfolio(request, rule.portfolio_id)
    rule.delete()
    return HttpResponse(status=204)
