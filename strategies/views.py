"""Options chain, strategies, builder and adopt pages (server-rendered, HTMX partials)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods
from django.views.decorators.vary import vary_on_headers
from django_htmx.middleware import HtmxDetails

from market.errors import MarketDataError, UnknownSymbol
from strategies import chain as chainlib
from strategies import charts, hedging, services
from strategies.models import AdoptedHedge

MAX_COMPARE = 4
CHAIN_WINDOW = 20
TABLE_ROWS = 60


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def _partial(request: HtmxHttpRequest) -> bool:
    return bool(request.htmx and not request.htmx.history_restore_request)


def _login_needed(request: HttpRequest) -> HttpResponse | None:
    if settings.LOGIN_REQUIRED and not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    return None


def _float(q: QueryDict, name: str, lo: float, hi: float, errors: dict[str, str]) -> float | None:
    raw = q.get(name, "").strip()
    if not raw:
        return None
    try:
        v = float(raw)
    except ValueError:
        errors[name] = f"{name}: a number is required"
        return None
    if not math.isfinite(v) or not lo <= v <= hi:
        errors[name] = f"{name}: between {lo:g} and {hi:g}"
        return None
    return v


def _int(q: QueryDict, name: str, lo: int, hi: int, errors: dict[str, str]) -> int | None:
    v = _float(q, name, lo, hi, errors)
    if v is None:
        return None
    if v != int(v):
        errors[name] = f"{name}: a whole number is required"
        return None
    return int(v)


def _render_error(
    request: HtmxHttpRequest, template: str, partial: str, ctx: dict[str, Any], exc: Exception
) -> HttpResponse:
    status = 400
    if isinstance(exc, services.InvalidInput):
        ctx["error"] = exc.message
        status = 403 if exc.code == "forbidden" else 400
    elif isinstance(exc, services.NotFound | UnknownSymbol):
        ctx["error"] = getattr(exc, "message", None) or str(exc) or "not found"
        status = 404
    elif isinstance(exc, MarketDataError):
        ctx["error"] = f"market data unavailable: {exc}"
        status = 503
    name = f"{template}#{partial}" if _partial(request) else template
    return render(request, name, ctx, status=status)


# --- options chain --------------------------------------------------------------------------


@require_GET
@vary_on_headers("HX-Request")
def chain_view(request: HtmxHttpRequest) -> HttpResponse:
    if (resp := _login_needed(request)) is not None:
        return resp
    q = request.GET
    errors: dict[str, str] = {}
    min_oi = _int(q, "min_oi", 0, 10**9, errors)
    max_spread = _float(q, "max_spread_pct", 0, 1000, errors)
    ctx: dict[str, Any] = {
        "symbol": q.get("symbol", settings.DEFAULT_SYMBOL)[:20].upper(),
        "min_oi": min_oi,
        "max_spread_pct": max_spread,
    }
    template = "strategies/chain.html"
    try:
        if errors:
            field, msg = next(iter(errors.items()))
            raise services.InvalidInput(field, msg)
        symbol = services.clean_symbol(q.get("symbol"))
        ctx["symbol"] = symbol
        data = services.options_payload(symbol, q.get("expiry") or None, min_oi, max_spread)
    except (services.InvalidInput, services.NotFound, MarketDataError) as exc:
        return _render_error(request, template, "chain-body", ctx, exc)
    mk = services.load_market(symbol)
    table = data["chain"]
    ctx["data"] = data
    if table:
        exp = date.fromisoformat(table["expiry"])
        ks, calls, puts = chainlib.smile(mk.solved, exp)
        ctx["smile_svg"] = charts.smile_chart(ks, calls, puts, mk.ctx.spot)
        spot = mk.ctx.spot
        rows = [dict(r, atm=(r["strike"] == table["atm_strike"])) for r in table["rows"]]
        # Centred on the money: CHAIN_WINDOW strikes either side of ATM unless all=1.
        if q.get("all") != "1" and rows:
            i_atm = next((i for i, r in enumerate(rows) if r["atm"]), len(rows) // 2)
            lo = max(0, i_atm - CHAIN_WINDOW)
            ctx["truncated"] = len(rows) > 2 * CHAIN_WINDOW + 1
            rows = rows[lo : i_atm + CHAIN_WINDOW + 1]
        ctx["rows"] = rows
        ctx["spot"] = spot
    ctx["term_svg"] = charts.term_chart(chainlib.term_structure(mk.solved))
    base = {"symbol": symbol}
    if min_oi is not None:
        base["min_oi"] = str(min_oi)
    if max_spread is not None:
        base["max_spread_pct"] = f"{max_spread:g}"
    ctx["tab_query"] = urlencode(base)
    ctx["api_query"] = urlencode({**base, "expiry": table["expiry"]} if table else base)
    name = f"{template}#chain-body" if _partial(request) else template
    return render(request, name, ctx)


# --- strategies -----------------------------------------------------------------------------


def _strategy_params(q: QueryDict, errors: dict[str, str]) -> dict[str, Any]:
    price = q.get("price") or "ask_bid"
    if price not in hedging.PRICE_MODES:
        errors["price"] = "price: ask_bid or mid"
    rank = q.get("rank") or "cost_per_protection"
    if rank not in hedging.RANKINGS:
        errors["rank"] = "rank: " + ", ".join(hedging.RANKINGS)
    return {
        "portfolio_id": _int(q, "portfolio", 1, 2**63 - 1, errors),
        "expiry": q.get("expiry") or None,
        "max_cost_pct": _float(q, "max_cost_pct", -100, 100, errors),
        "min_floor_pct": _float(q, "min_floor_pct", 0, 200, errors),
        "price": price,
        "rank": rank,
    }


@dataclass
class PayoffView:
    row: dict[str, Any]
    payoff: dict[str, Any]
    chart: Any
    heat: Any
    days: int
    iv_shift: float


def _payoff_view(
    mk: services.Market,
    cand: hedging.Candidate,
    row: dict[str, Any],
    days: int | None,
    iv_shift: float,
) -> PayoffView:
    max_days = int(max(1, math.floor(row["days"] or 1)))
    d = min(days or max(1, max_days // 2), max_days)
    payoff = services.payoff_data(mk, cand.legs, days=[d], iv_shift=iv_shift)
    return PayoffView(
        row=row,
        payoff=payoff,
        chart=charts.payoff_chart(payoff, mk.ctx.spot, row["breakevens"]),
        heat=charts.pnl_heat_map(payoff),
        days=d,
        iv_shift=iv_shift,
    )


@require_GET
@vary_on_headers("HX-Request")
def strategies_view(request: HtmxHttpRequest) -> HttpResponse:
    if (resp := _login_needed(request)) is not None:
        return resp
    q = request.GET
    errors: dict[str, str] = {}
    params = _strategy_params(q, errors)
    days = _int(q, "days", 1, 3650, errors)
    iv_shift = _float(q, "iv_shift", -50, 100, errors) or 0.0
    template = "strategies/strategies.html"
    panel = q.get("panel")
    partial = "payoff-panel" if panel == "payoff" else "strategies-body"
    ctx: dict[str, Any] = {
        "symbol": q.get("symbol", settings.DEFAULT_SYMBOL)[:20].upper(),
        "params": params,
        "rankings": hedging.RANKINGS,
        "q": q,
    }
    try:
        if errors:
            field, msg = next(iter(errors.items()))
            raise services.InvalidInput(field, msg)
        symbol = services.clean_symbol(q.get("symbol"))
        ctx["symbol"] = symbol
        data = services.strategies_payload(request.user, symbol, **params)
        mk = services.load_market(symbol)
        ctx["expiries"] = [
            e
            for e in mk.solved.chain.expiries
            if services.MIN_DAYS <= mk.solved.t_by_expiry[e] * 365 <= services.MAX_DAYS
        ]
        shares = data["holding_shares"]
        rows = data["candidates"]
        by_id = {r["id"]: r for r in rows}
        compare_ids = [c for c in q.getlist("compare") if c in by_id][:MAX_COMPARE]
        selected = q.get("selected") or (rows[0]["id"] if rows else None)
        pv = None
        if selected:
            cand, row = services.find_candidate(mk, shares, selected, params["price"])
            row["rank"] = by_id.get(selected, {}).get("rank")
            pv = _payoff_view(mk, cand, row, days, iv_shift)
    except (services.InvalidInput, services.NotFound, MarketDataError) as exc:
        return _render_error(request, template, partial, ctx, exc)
    base: dict[str, str] = {
        k: str(v)
        for k, v in q.items()
        if k in ("symbol", "portfolio", "expiry", "max_cost_pct", "min_floor_pct", "price", "rank")
        and v
    }
    adoptions = (
        AdoptedHedge.objects.filter(portfolio_id=data["portfolio"]["id"], symbol=symbol)[:10]
        if data["portfolio"]
        else []
    )
    ctx.update(
        data=data,
        adoptions=adoptions,
        rows=rows[:TABLE_ROWS],
        compare=[by_id[c] for c in compare_ids],
        compare_ids=compare_ids,
        pv=pv,
        selected=selected,
        base_query=urlencode(base),
        api_query=urlencode({**base, "symbol": symbol}),
    )
    name = f"{template}#{partial}" if _partial(request) else template
    return render(request, name, ctx)


# --- builder --------------------------------------------------------------------------------


@dataclass
class BuilderLeg:
    side: str
    right: str
    strike: float
    expiry: date
    quantity: int


def _builder_legs(q: QueryDict, mk: services.Market, errors: dict[str, str]) -> list[BuilderLeg]:
    sides, rights, strikes = q.getlist("side"), q.getlist("right"), q.getlist("strike")
    expiries, qtys = q.getlist("expiry"), q.getlist("qty")
    n = min(len(sides), len(rights), len(strikes), len(expiries), len(qtys), services.MAX_LEGS)
    raw = [
        {
            "side": sides[i],
            "right": rights[i],
            "strike": strikes[i],
            "expiry": expiries[i],
            "quantity": qtys[i],
        }
        for i in range(n)
    ]
    remove = q.get("remove")
    if remove is not None and remove.isdigit() and int(remove) < len(raw):
        raw.pop(int(remove))
    sc = mk.solved
    default_exp = chainlib.default_expiry(tuple(sc.chain.expiries), sc.t_by_expiry)
    if q.get("add") and len(raw) < services.MAX_LEGS and default_exp is not None:
        exp = date.fromisoformat(raw[-1]["expiry"]) if raw else default_exp
        ks = _strikes(mk, exp)
        atm = min(ks, key=lambda k: abs(k - mk.ctx.spot)) if ks else mk.ctx.spot
        raw.append(
            {
                "side": "buy",
                "right": "P",
                "strike": str(atm),
                "expiry": exp.isoformat(),
                "quantity": "1",
            }
        )
    try:
        parsed = services.parse_legs(raw)
    except services.InvalidInput as exc:
        errors[exc.field] = exc.message
        return []
    return [BuilderLeg(p.side, p.right, p.strike, p.expiry, int(p.quantity)) for p in parsed]


def _strikes(mk: services.Market, exp: date) -> list[float]:
    import numpy as np

    m = mk.solved.expiry_col == np.datetime64(exp, "D")
    return sorted({float(k) for k in np.asarray(mk.solved.chain.strike)[m]})


@require_GET
@vary_on_headers("HX-Request")
def builder_view(request: HtmxHttpRequest) -> HttpResponse:
    if (resp := _login_needed(request)) is not None:
        return resp
    q = request.GET
    errors: dict[str, str] = {}
    price = q.get("price") or "ask_bid"
    if price not in hedging.PRICE_MODES:
        errors["price"] = "price: ask_bid or mid"
    iv_shift = _float(q, "iv_shift", -50, 100, errors) or 0.0
    days = _int(q, "days", 1, 3650, errors)
    portfolio_id = _int(q, "portfolio", 1, 2**63 - 1, errors)
    include = q.get("include_holding") == "1"
    template = "strategies/builder.html"
    ctx: dict[str, Any] = {
        "symbol": q.get("symbol", settings.DEFAULT_SYMBOL)[:20].upper(),
        "price": price,
        "iv_shift": iv_shift,
        "include_holding": include,
        "legs": [],
        "portfolio_id": portfolio_id,
    }
    try:
        symbol = services.clean_symbol(q.get("symbol"))
        ctx["symbol"] = symbol
        portfolio = services.resolve_portfolio(request.user, portfolio_id)
        mk = services.load_market(symbol)
        legs = _builder_legs(q, mk, errors)
        ctx["legs"] = [
            {"i": i, "leg": lg, "strikes": _strikes(mk, lg.expiry)} for i, lg in enumerate(legs)
        ]
        ctx["expiries"] = list(mk.solved.chain.expiries)
        ctx["portfolio"] = portfolio
        ctx["errors"] = errors
        holding = services.holding_shares(portfolio, symbol)
        shares = holding if include else 0.0
        ctx["holding"] = holding
        if legs and not errors:
            priced = services.legs_from_chain(
                mk,
                [
                    services.LegIn(lg.side, lg.right, lg.strike, lg.expiry, lg.quantity)
                    for lg in legs
                ],
                price,
            )
            row = services.evaluate_legs(mk, priced, shares)
            all_legs = (services.Leg("stock", shares, price=mk.ctx.spot),) if shares else ()
            cand = hedging.Candidate("Custom", "custom", legs[0].expiry, (*all_legs, *priced))
            ctx["pv"] = _payoff_view(mk, cand, row, days, iv_shift)
            ctx["row"] = row
    except (services.InvalidInput, services.NotFound, MarketDataError) as exc:
        return _render_error(request, template, "builder-body", ctx, exc)
    name = f"{template}#builder-body" if _partial(request) else template
    return render(request, name, ctx)


# --- adopt ----------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def adopt_view(request: HtmxHttpRequest) -> HttpResponse:
    """GET: confirmation page with the legs at the current prices. POST: adopt them."""
    if (resp := _login_needed(request)) is not None:
        return resp
    template = "strategies/adopt.html"
    ctx: dict[str, Any] = {}
    if request.method == "POST":
        try:
            data = services.read_adoption(request.POST.get("token", ""))
            record = services.adopt(request.user, data)
        except (services.InvalidInput, services.NotFound) as exc:
            return _render_error(request, template, "adopt-body", ctx, exc)
        messages.success(
            request,
            f"Adopted “{record.name}”: {len(record.legs)} option leg(s) added to "
            f"{record.portfolio.name} at the confirmed prices.",
        )
        url = (
            reverse("portfolio:dashboard")
            + "?"
            + urlencode({"symbol": record.symbol, "portfolio": record.portfolio_id})
        )
        return redirect(url)
    q = request.GET
    errors: dict[str, str] = {}
    portfolio_id = _int(q, "portfolio", 1, 2**63 - 1, errors)
    price = q.get("price") or "ask_bid"
    try:
        if errors:
            field, msg = next(iter(errors.items()))
            raise services.InvalidInput(field, msg)
        if price not in hedging.PRICE_MODES:
            raise services.InvalidInput("price", "price: ask_bid or mid")
        symbol = services.clean_symbol(q.get("symbol"))
        portfolio = services.resolve_portfolio(request.user, portfolio_id)
        if portfolio is None:
            raise services.NotFound("portfolio", "no portfolio to add the hedge to")
        if not services.may_adopt(request.user, portfolio):
            raise services.InvalidInput(
                "portfolio", "you may not change this portfolio", "forbidden"
            )
        mk = services.load_market(symbol)
        shares = services.holding_shares(portfolio, symbol)
        cand, row = services.find_candidate(mk, shares, q.get("candidate", "")[:300], price)
    except (services.InvalidInput, services.NotFound, MarketDataError) as exc:
        return _render_error(request, template, "adopt-body", ctx, exc)
    options = [lg for lg in cand.legs if lg.is_option]
    ctx.update(
        portfolio=portfolio,
        symbol=symbol,
        row=row,
        legs=options,
        spot=mk.ctx.spot,
        as_of=mk.ctx.as_of,
        token=services.sign_adoption(
            symbol,
            portfolio.pk,
            row["id"],
            row["name"],
            options,
            mk.ctx.spot,
            mk.ctx.as_of.isoformat(),
        ),
        net=sum(lg.price * lg.quantity * 100 for lg in options),
    )
    return render(request, template, ctx)
