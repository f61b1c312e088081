"""Options chain, strategies, builder and adopt pages (server-rendered, HTMX partials)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods
from django.views.decorators.vary import vary_on_headers

from core.htmx import HtmxHttpRequest, wants_partial
from market.data import CONTRACT_MULTIPLIER
from market.errors import MarketDataError, UnknownSymbol
from portfolio import access
from strategies import (
    adoption,
    builder,
    charts,
    confirmation,
    presets,
    ranked,
    ranking,
    services,
    wholebook,
)
from strategies import chain as chainlib
from strategies.legs import Candidate, Leg
from strategies.models import AdoptedHedge, HedgeRoll
from strategies.payoff import payoff_data
from strategies.queries import (
    AdoptQuery,
    BuilderQuery,
    OptionsQuery,
    QueryError,
    StrategiesPageQuery,
    from_querydict,
)

MAX_COMPARE = 4
CHAIN_WINDOW = 20
TABLE_ROWS = 60


def _render_error(
    request: HtmxHttpRequest, template: str, partial: str, ctx: dict[str, Any], exc: Exception
) -> HttpResponse:
    status = 400
    if isinstance(exc, QueryError):
        ctx["error"] = exc.message
    elif isinstance(exc, services.InvalidInput):
        ctx["error"] = exc.message
        status = 403 if exc.code == "forbidden" else 400
    elif isinstance(exc, services.NotFound | UnknownSymbol):
        ctx["error"] = getattr(exc, "message", None) or str(exc) or "not found"
        status = 404
    elif isinstance(exc, MarketDataError):
        ctx["error"] = f"market data unavailable: {exc}"
        status = 503
    name = f"{template}#{partial}" if wants_partial(request) else template
    return render(request, name, ctx, status=status)


# --- IV history -----------------------------------------------------------------------------


@require_GET
@access.data_page
def iv_history_view(request: HtmxHttpRequest) -> HttpResponse:
    """IV30 over the last year against realised vol, with IV rank and percentile."""
    from market import ivhistory as ivh
    from marketdata import ivrecord
    from marketdata.snapshot import market_service

    raw = request.GET.get("symbol", settings.DEFAULT_SYMBOL)[:20]
    ctx: dict[str, Any] = {"symbol": raw.upper()}
    try:
        symbol = services.clean_symbol(raw)
    except services.InvalidInput as exc:
        ctx["error"] = exc.message
        return render(request, "strategies/iv_history.html", ctx, status=400)
    ctx["symbol"] = symbol
    closes = None
    try:
        h = market_service().history(symbol, ivrecord.CHART_DAYS)
        closes = (h.dates, h.close)
    except MarketDataError as exc:
        ctx["closes_error"] = str(exc)
    s = ivrecord.chart_series(symbol, closes)
    rows = [
        {"date": d.item(), "iv30": iv, "rv20": r20, "rv60": r60}
        for d, iv, r20, r60 in zip(
            s["dates"], s["iv30"].tolist(), s["rv20"].tolist(), s["rv60"].tolist(), strict=True
        )
    ]

    def last(col: str) -> float | None:
        vals = [r[col] for r in rows if r[col] is not None and math.isfinite(r[col])]
        return vals[-1] if vals else None

    ctx.update(
        rank=ivrecord.rank_block(symbol),
        observations=len(rows),
        latest={"iv30": last("iv30"), "rv20": last("rv20"), "rv60": last("rv60")},
        rv_method=ivh.RV_METHOD,
        chart=charts.iv_history_figure(
            [r["date"] for r in rows],
            [r["iv30"] for r in rows],
            [r["rv20"] for r in rows],
            [r["rv60"] for r in rows],
            symbol,
        )
        if rows
        else None,
    )
    return render(request, "strategies/iv_history.html", ctx)


# --- options chain --------------------------------------------------------------------------


@require_GET
@vary_on_headers("HX-Request")
@access.data_page
def chain_view(request: HtmxHttpRequest) -> HttpResponse:
    q = request.GET
    ctx: dict[str, Any] = {
        "symbol": q.get("symbol", settings.DEFAULT_SYMBOL)[:20].upper(),
        "min_oi": q.get("min_oi", "")[:20],
        "max_spread_pct": q.get("max_spread_pct", "")[:20],
    }
    template = "strategies/chain.html"
    try:
        query = from_querydict(OptionsQuery, q)
        ctx.update(min_oi=query.min_oi, max_spread_pct=query.max_spread_pct)
        symbol = services.clean_symbol(query.symbol)
        ctx["symbol"] = symbol
        data = services.options_payload(symbol, query.expiry, query.min_oi, query.max_spread_pct)
    except (QueryError, services.InvalidInput, services.NotFound, MarketDataError) as exc:
        return _render_error(request, template, "chain-body", ctx, exc)
    min_oi, max_spread = query.min_oi, query.max_spread_pct
    mk = services.load_market(symbol)
    table = data["chain"]
    ctx["data"] = data
    if table:
        exp = date.fromisoformat(table["expiry"])
        ks, calls, puts = chainlib.smile(mk.solved, exp)
        ctx["smile_svg"] = charts.smile_figure(ks, calls, puts, mk.ctx.spot, exp)
        spot = mk.ctx.spot
        held = _held_contracts(request, symbol, exp)
        rows = [
            dict(
                r,
                atm=(r["strike"] == table["atm_strike"]),
                held_call=held.get((r["strike"], "C")),
                held_put=held.get((r["strike"], "P")),
            )
            for r in table["rows"]
        ]
        # Centred on the money: CHAIN_WINDOW strikes either side of ATM unless all=1.
        if q.get("all") != "1" and rows:
            i_atm = next((i for i, r in enumerate(rows) if r["atm"]), len(rows) // 2)
            lo = max(0, i_atm - CHAIN_WINDOW)
            ctx["truncated"] = len(rows) > 2 * CHAIN_WINDOW + 1
            rows = rows[lo : i_atm + CHAIN_WINDOW + 1]
        ctx["rows"] = rows
        ctx["spot"] = spot
    ctx["term_svg"] = charts.term_figure(chainlib.term_structure(mk.solved))
    base = {"symbol": symbol}
    if min_oi is not None:
        base["min_oi"] = str(min_oi)
    if max_spread is not None:
        base["max_spread_pct"] = f"{max_spread:g}"
    ctx["tab_query"] = urlencode(base)
    ctx["api_query"] = urlencode({**base, "expiry": table["expiry"]} if table else base)
    name = f"{template}#chain-body" if wants_partial(request) else template
    return render(request, name, ctx)


def _held_contracts(
    request: HtmxHttpRequest, symbol: str, expiry: date
) -> dict[tuple[float, str], float]:
    """Contracts of this expiry held in the portfolio the dashboard shows: (strike, right) →
    signed quantity, to highlight them in the chain."""
    portfolio = access.resolve_portfolio(request.user, None)
    if portfolio is None:
        return {}
    held: dict[tuple[float, str], float] = {}
    for p in portfolio.open_positions().filter(symbol=symbol, expiry=expiry):
        if p.strike is not None and p.right:
            key = (float(p.strike), p.right)
            held[key] = held.get(key, 0.0) + float(p.quantity)
    return held


# --- strategies -----------------------------------------------------------------------------


def _strategy_form(q: QueryDict) -> dict[str, Any]:
    """The strategies form's values as the user typed them (shown again beside an error)."""
    return {
        "portfolio_id": q.get("portfolio", "")[:20],
        "expiry": q.get("expiry", "")[:10],
        "max_cost_pct": q.get("max_cost_pct", "")[:20],
        "min_floor_pct": q.get("min_floor_pct", "")[:20],
        "price": q.get("price") or "ask_bid",
        "rank": q.get("rank") or ranking.DEFAULT_RANKING,
        "include_held": q.get("include_held", "1") not in ("0", "false", "off"),  # until validated
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
    cand: Candidate,
    row: dict[str, Any],
    days: int | None,
    iv_shift: float,
    held: wholebook.HeldBook = wholebook.NO_HELD,
) -> PayoffView:
    max_days = int(max(1, math.floor(row["days"] or 1)))
    d = min(days or max(1, max_days // 2), max_days)
    t_exp = wholebook.strategy_t(cand.legs, cand.t)
    payoff = payoff_data(
        mk.ctx,
        wholebook.book_legs(cand.legs, held),
        days=[d],
        iv_shift=iv_shift,
        t_end=t_exp if held else None,
    )
    return PayoffView(
        row=row,
        payoff=payoff,
        chart=charts.payoff_figure(payoff, mk.ctx.spot, row["breakevens"]),
        heat=charts.pnl_heat_map(payoff),
        days=d,
        iv_shift=iv_shift,
    )


@require_GET
@vary_on_headers("HX-Request")
@access.data_page
def strategies_view(request: HtmxHttpRequest) -> HttpResponse:
    q = request.GET
    template = "strategies/strategies.html"
    panel = q.get("panel")
    partial = "payoff-panel" if panel == "payoff" else "strategies-body"
    ctx: dict[str, Any] = {
        "symbol": q.get("symbol", settings.DEFAULT_SYMBOL)[:20].upper(),
        "params": _strategy_form(q),
        "rankings": ranking.RANKINGS,
        "ranking_label": ranking.RANKINGS.get(q.get("rank") or ranking.DEFAULT_RANKING),
        "q": q,
    }
    try:
        query = from_querydict(StrategiesPageQuery, q)
        ctx["params"]["include_held"] = query.include_held
        symbol = services.clean_symbol(query.symbol)
        ctx["symbol"] = symbol
        data = ranked.strategies_payload(request.user, query)
        mk = services.load_market(symbol)
        portfolio = services.resolve_portfolio(request.user, query.portfolio)
        held = ranked.held_book(portfolio, mk, query.include_held)
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
            cand, row = ranked.find_candidate(mk, shares, selected, query.price, held)
            row["rank"] = by_id.get(selected, {}).get("rank")
            pv = _payoff_view(mk, cand, row, query.days, query.iv_shift, held)
    except (QueryError, services.InvalidInput, services.NotFound, MarketDataError) as exc:
        return _render_error(request, template, partial, ctx, exc)
    base: dict[str, str] = {
        k: str(v)
        for k, v in q.items()
        if k in ("symbol", "portfolio", "expiry", "max_cost_pct", "min_floor_pct", "price", "rank")
        and v
    }
    if not query.include_held:
        base["include_held"] = "0"
    # ``limit``: how many candidates the table shows (the API's parameter, same meaning).
    shown = query.limit or TABLE_ROWS
    adoptions = (
        AdoptedHedge.objects.filter(portfolio_id=data["portfolio"]["id"], symbol=symbol)[:10]
        if data["portfolio"]
        else []
    )
    ctx.update(
        data=data,
        adoptions=adoptions,
        rows=rows[:shown],
        shown=min(shown, len(rows)),
        more_query=urlencode({**base, "limit": str(shown + TABLE_ROWS)}),
        all_query=urlencode({**base, "limit": str(len(rows))}),
        compare=[by_id[c] for c in compare_ids],
        compare_ids=compare_ids,
        pv=pv,
        selected=selected,
        base_query=urlencode(base),
        api_query=urlencode({**base, "symbol": symbol}),
    )
    name = f"{template}#{partial}" if wants_partial(request) else template
    return render(request, name, ctx)


# --- builder --------------------------------------------------------------------------------


def _builder_legs(q: QueryDict, mk: services.Market, errors: dict[str, str]) -> list[builder.LegIn]:
    sides, rights, strikes = q.getlist("side"), q.getlist("right"), q.getlist("strike")
    expiries, qtys = q.getlist("expiry"), q.getlist("qty")
    n = min(len(sides), len(rights), len(strikes), len(expiries), len(qtys), builder.MAX_LEGS)
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
    if q.get("add") and len(raw) < builder.MAX_LEGS and default_exp is not None:
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
        return builder.parse_legs(raw)
    except services.InvalidInput as exc:
        errors[exc.field] = exc.message
        return []


NEAR_STRIKES = 8


def _strike_groups(strikes: list[float], spot: float) -> dict[str, list[float]]:
    """The strikes nearest the money (a short list to pick from first) and all of them."""
    near = sorted(sorted(strikes, key=lambda k: abs(k - spot))[: 2 * NEAR_STRIKES])
    return {"near": near, "strikes": strikes}


def _strikes(mk: services.Market, exp: date) -> list[float]:
    import numpy as np

    m = mk.solved.expiry_col == np.datetime64(exp, "D")
    return sorted({float(k) for k in np.asarray(mk.solved.chain.strike)[m]})


@require_GET
@vary_on_headers("HX-Request")
@access.data_page
def builder_view(request: HtmxHttpRequest) -> HttpResponse:
    q = request.GET
    errors: dict[str, str] = {}
    try:
        query = from_querydict(BuilderQuery, q)
    except QueryError as exc:
        errors[exc.field] = exc.message
        query = BuilderQuery.model_validate({})
    include = q.get("include_holding") == "1"
    template = "strategies/builder.html"
    ctx: dict[str, Any] = {
        "symbol": q.get("symbol", settings.DEFAULT_SYMBOL)[:20].upper(),
        "price": query.price,
        "iv_shift": query.iv_shift,
        "include_holding": include,
        "include_held": query.include_held,
        "legs": [],
        "portfolio_id": query.portfolio,
    }
    try:
        symbol = services.clean_symbol(query.symbol)
        ctx["symbol"] = symbol
        portfolio = services.resolve_portfolio(request.user, query.portfolio)
        mk = services.load_market(symbol)
        legs_in = _builder_legs(q, mk, errors)
        ctx["legs"] = [
            {"i": i, "leg": lg, **_strike_groups(_strikes(mk, lg.expiry), mk.ctx.spot)}
            for i, lg in enumerate(legs_in)
        ]
        ctx["expiries"] = list(mk.solved.chain.expiries)
        ctx["portfolio"] = portfolio
        ctx["errors"] = errors
        holding = services.holding_shares(portfolio, symbol)
        ctx["holding"] = holding
        sc = mk.solved
        preset_expiry = chainlib.default_expiry(tuple(sc.chain.expiries), sc.t_by_expiry)
        base = {"symbol": symbol, "price": query.price}
        if query.portfolio:
            base["portfolio"] = str(query.portfolio)
        ctx["presets"] = [
            {
                "preset": p,
                "query": urlencode(
                    [*base.items(), ("include_holding", "1")]
                    + [
                        (k, leg[k])
                        for leg in p.legs
                        for k in ("side", "right", "strike", "expiry", "qty")
                    ]
                ),
            }
            for p in presets.presets(sc.chain, preset_expiry, mk.ctx.spot, holding)
        ]
        if legs_in and not errors:
            held = ranked.held_book(portfolio, mk, include and query.include_held)
            built = builder.build(mk, legs_in, query.price, holding if include else 0.0, held)
            cand = Candidate("Custom", "custom", legs_in[0].expiry, built.legs)
            ctx["pv"] = _payoff_view(mk, cand, built.row, query.days, query.iv_shift, held)
            ctx["row"] = built.row
            ctx["held"] = held
            if portfolio is not None:
                ctx["adopt_query"] = _builder_adopt_query(
                    symbol, portfolio.pk, query.price, legs_in
                )
    except (services.InvalidInput, services.NotFound, MarketDataError) as exc:
        return _render_error(request, template, "builder-body", ctx, exc)
    name = f"{template}#builder-body" if wants_partial(request) else template
    return render(request, name, ctx)


def confirmed(
    request: HttpRequest, created: bool, done: str, again: str, record: AdoptedHedge | HedgeRoll
) -> HttpResponse:
    """After a signed confirmation: say what it wrote (``done``), or that it had been used
    already (``again``), and go to the dashboard of the portfolio and symbol it changed."""
    if created:
        messages.success(request, done)
    else:
        messages.info(request, again)
    query = urlencode({"symbol": record.symbol, "portfolio": str(record.portfolio_id)})
    return redirect(f"{reverse('portfolio:dashboard')}?{query}")


# --- adopt ----------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@access.data_page
def adopt_view(request: HtmxHttpRequest) -> HttpResponse:
    """GET: confirmation page with the legs at the current prices. POST: adopt them."""
    template = "strategies/adopt.html"
    ctx: dict[str, Any] = {}
    if request.method == "POST":
        try:
            data = adoption.read_adoption(request.POST.get("token", ""))
            done = adoption.adopt(request.user, data)
        except (services.InvalidInput, services.NotFound) as exc:
            return _render_error(request, template, "adopt-body", ctx, exc)
        record = done.record
        return confirmed(
            request,
            done.created,
            f"Adopted “{record.name}”: {len(record.legs)} option leg(s) added to "
            f"{record.portfolio.name} at the confirmed prices.",
            f"“{record.name}” was already adopted with this confirmation at "
            f"{record.adopted_at:%H:%M %Z}; nothing more was added.",
            record,
        )
    try:
        query = from_querydict(AdoptQuery, request.GET)
        symbol = services.clean_symbol(query.symbol)
        portfolio = confirmation.changeable(
            request.user,
            services.resolve_portfolio(request.user, query.portfolio),
            "no portfolio to add the hedge to",
        )
        mk = services.load_market(symbol)
        shares = services.holding_shares(portfolio, symbol)
        held = ranked.held_book(portfolio, mk)
        options, row = _adopt_legs(request.GET, query, mk, shares, held)
        preview = adoption.preview(portfolio, symbol, options)
    except (QueryError, services.InvalidInput, services.NotFound, MarketDataError) as exc:
        return _render_error(request, template, "adopt-body", ctx, exc)
    ctx.update(
        portfolio=portfolio,
        symbol=symbol,
        row=row,
        legs=options,
        spot=mk.ctx.spot,
        as_of=mk.ctx.as_of,
        preview=preview,
        source=query.source,
        token=adoption.sign_adoption(
            symbol,
            portfolio.pk,
            row["id"],
            row["name"],
            options,
            mk.ctx.spot,
            mk.ctx.as_of.isoformat(),
        ),
        net=sum(lg.price * lg.quantity * CONTRACT_MULTIPLIER for lg in options),
    )
    return render(request, template, ctx)


def _adopt_legs(
    q: QueryDict,
    query: AdoptQuery,
    mk: services.Market,
    shares: float,
    held: wholebook.HeldBook,
) -> tuple[list[Leg], dict[str, Any]]:
    """The option legs to adopt and their row on the whole book: a ranked candidate, or the
    legs built in the builder (``source=builder``), priced from the chain the same way."""
    if query.source == "builder":
        raw = [
            {"side": s, "right": r, "strike": k, "expiry": e, "quantity": n}
            for s, r, k, e, n in zip(
                q.getlist("side"),
                q.getlist("right"),
                q.getlist("strike"),
                q.getlist("expiry"),
                q.getlist("qty"),
                strict=False,
            )
        ]
        if not raw:
            raise services.InvalidInput("legs", "legs: add at least one leg in the builder")
        built = builder.build(mk, builder.parse_legs(raw), query.price, shares, held)
        row = dict(built.row, name=f"Custom: {_legs_name(built.options)}")
        return list(built.options), row
    if not query.candidate:
        raise services.InvalidInput("candidate", "candidate: field required")
    cand, row = ranked.find_candidate(mk, shares, query.candidate, query.price, held)
    return [lg for lg in cand.legs if lg.is_option], row


def _legs_name(legs: tuple[Leg, ...]) -> str:
    return " / ".join(
        f"{'+' if lg.quantity > 0 else '−'}{abs(lg.quantity):g} {lg.strike:g}"
        f"{'C' if lg.kind == 'call' else 'P'}"
        for lg in legs
    )[:100]


def _builder_adopt_query(
    symbol: str, portfolio_id: int, price: str, legs: list[builder.LegIn]
) -> str:
    """The adopt page's query for the legs on the builder (``source=builder``)."""
    pairs = [
        ("source", "builder"),
        ("symbol", symbol),
        ("portfolio", str(portfolio_id)),
        ("price", price),
    ]
    for lg in legs:
        pairs += [
            ("side", lg.side),
            ("right", lg.right),
            ("strike", f"{lg.strike:g}"),
            ("expiry", lg.expiry.isoformat()),
            ("qty", f"{lg.quantity:g}"),
        ]
    return urlencode(pairs)
