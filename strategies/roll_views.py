"""The roll page: each held hedge expiry's roll candidates (partial ``_roll.html``), the
confirmation of one, and the POST that rolls it (:mod:`strategies.roll_service`)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import render
from django.utils.http import urlencode
from django.views.decorators.http import require_http_methods
from django.views.decorators.vary import vary_on_headers

from core.htmx import HtmxHttpRequest, wants_partial
from market.errors import MarketDataError
from portfolio import access
from strategies import roll_service, services
from strategies.models import HedgeRoll
from strategies.queries import QueryError, from_querydict
from strategies.roll_schemas import RollPageQuery
from strategies.views import _render_error, confirmed

TABLE_ROWS = 12
TEMPLATE = "strategies/roll.html"


@require_http_methods(["GET", "POST"])
@vary_on_headers("HX-Request")
@access.data_page
def roll_view(request: HtmxHttpRequest) -> HttpResponse:
    """GET: the candidates (and, with ``candidate``, its confirmation). POST: roll it."""
    if request.method == "POST":
        return _confirm(request)
    q = request.GET
    ctx: dict[str, Any] = {
        "symbol": q.get("symbol", settings.DEFAULT_SYMBOL)[:20].upper(),
        "price": q.get("price") or "ask_bid",
        "expiry": q.get("expiry", "")[:10],
        "to_expiry": q.get("to_expiry", "")[:10],
        "rank": q.get("rank") or "cost_per_day",
    }
    try:
        query = from_querydict(RollPageQuery, q)
        symbol = services.clean_symbol(query.symbol)
        ctx["symbol"] = symbol
        portfolio = services.resolve_portfolio(request.user, query.portfolio)
        if portfolio is None:
            raise services.NotFound("portfolio", "no portfolio to roll")
        can_roll = access.may_adopt(request.user, portfolio)
        mk = services.load_market(symbol)
        limit = query.limit or TABLE_ROWS
        data = roll_service.rolls_payload(
            mk,
            portfolio,
            expiry=query.expiry,
            mode=query.price,
            limit=limit,
            to_expiry=query.to_expiry,
            rank=query.rank,
        )
        held_from = min((h["from_expiry"] for h in data["hedges"]), default="")
        ctx["to_expiries"] = [
            e.isoformat() for e in mk.solved.chain.expiries if e.isoformat() > held_from
        ]
        confirm = None
        if query.candidate:
            if not can_roll:
                raise services.InvalidInput(
                    "portfolio", "you may not change this portfolio", "forbidden"
                )
            cand = roll_service.find_roll(mk, portfolio, query.candidate, query.price)
            confirm = {"cand": cand, "token": roll_service.sign_roll(mk, portfolio.pk, cand)}
    except (QueryError, services.InvalidInput, services.NotFound, MarketDataError) as exc:
        return _render_error(request, TEMPLATE, "roll-body", ctx, exc)
    base = {
        "symbol": symbol,
        "portfolio": str(portfolio.pk),
        "price": query.price,
        "rank": query.rank,
    }
    for key in ("expiry", "to_expiry"):
        if getattr(query, key):
            base[key] = getattr(query, key).isoformat()
    ctx.update(
        portfolio=portfolio,
        data=data,
        can_roll=can_roll,
        confirm=confirm,
        base_query=urlencode(base),
        more_query=urlencode({**base, "limit": str(limit + TABLE_ROWS)}),
        api_query=urlencode(base),
        dashboard_query=urlencode({"symbol": symbol, "portfolio": str(portfolio.pk)}),
        recent=HedgeRoll.objects.filter(portfolio=portfolio, symbol=symbol)[:5],
        spot=mk.ctx.spot,
        as_of=mk.ctx.as_of,
    )
    name = f"{TEMPLATE}#roll-body" if wants_partial(request) else TEMPLATE
    return render(request, name, ctx)


def _confirm(request: HtmxHttpRequest) -> HttpResponse:
    ctx: dict[str, Any] = {"symbol": settings.DEFAULT_SYMBOL}
    try:
        data = roll_service.read_roll(request.POST.get("token", "")[:8000])
        done = roll_service.roll(request.user, data)
    except (services.InvalidInput, services.NotFound) as exc:
        status_exc = exc
        if isinstance(exc, services.InvalidInput) and exc.code == "conflict":
            ctx["error"] = exc.message
            return render(request, TEMPLATE, ctx, status=409)
        return _render_error(request, TEMPLATE, "roll-body", ctx, status_exc)
    record = done.record
    return confirmed(
        request,
        done.created,
        f"Rolled {record.from_expiry} → {record.to_expiry}: "
        f"{len(record.legs)} trade(s) written to the ledger of {record.portfolio.name}.",
        f"This roll was already confirmed at {record.rolled_at:%H:%M %Z}; nothing more was traded.",
        record,
    )
