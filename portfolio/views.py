"""The dashboard (full page or one HTMX panel), CSV import/export, and the book: trades entered,
changed, deleted and positions closed through :mod:`portfolio.ledger`."""

from __future__ import annotations

import functools
import io
import logging
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from alerts.templatetags import alert_bell
from core import charts, shell
from core.htmx import HtmxHttpRequest, wants_partial
from core.memo import SnapshotMemo
from market.calendar import market_date
from market.data import normalize_symbol
from market.errors import InvalidSymbol, MarketDataError, UnknownSymbol
from marketdata import ivrecord
from marketdata import service as market_service
from portfolio import (
    access,
    book,
    broker_csv,
    broker_ibkr,
    csvio,
    history_chart,
    ledger,
    onboarding,
    services,
)
from portfolio.forms import (
    BrokerImportForm,
    ClosePositionForm,
    ImportPositionsForm,
    NewPortfolioForm,
    TradeForm,
)
from portfolio.models import Portfolio, Position, Trade, data_version

logger = logging.getLogger(__name__)

# "live" is every panel that shows market-dependent numbers, from one valuation, as
# out-of-band swaps: what static/js/live.js asks for after each WebSocket update.
PANELS = ("kpis", "positions", "hedge", "history", "scenarios", "live")
SUGGESTED_SYMBOLS = ("GLD", "IAU", "SLV", "SPY")
HISTORY_PRESETS = (("30d", "30 days"), ("90d", "90 days"), ("1y", "1 year"), ("all", "All"))
TRADES_SHOWN = 500


def _portfolio_from(request: HttpRequest, raw: str | None) -> Portfolio | None:
    try:
        return access.resolve_portfolio(request.user, access.parse_portfolio_id(raw))
    except (access.BadPortfolioId, access.PortfolioNotFound):
        raise Http404("no such portfolio") from None


def _chosen_date(raw: str | None) -> tuple[date | None, str]:
    if not raw:
        return None, ""
    try:
        d = date.fromisoformat(raw)
    except ValueError:
        return None, f"{raw[:20]!r} is not a date; using 30 days from today."
    today = market_date()
    if not today <= d <= today + timedelta(days=3 * 365):
        return None, "The scenario date must be between today and three years out."
    return d, ""


def _scenario_maps(result: dict[str, Any]) -> dict[str, Any]:
    sc = result.get("scenarios")
    if not sc:
        return {}
    cols = [f"{m:+.0f}%" for m in sc["spot_moves_pct"]]
    mid = len(cols) // 2
    maps = (
        # (grid, title, highlighted cell, the table's corner)
        (
            "spot_vol",
            "Change in value today ($): spot move × IV shift",
            (sc["vol_shifts_pts"].index(0.0), mid),
            "IV shift ↓ · spot move →",
        ),
        ("spot_date", "Change in value ($): spot move × date", (0, mid), "Date ↓ · spot move →"),
    )
    out = {}
    for grid, title, highlight, corner in maps:
        rows, change = sc[grid]["rows"], sc[grid]["change"]
        picture = charts.heat_map(
            rows,
            cols,
            change,
            fmt=_compact_signed,
            title=title,
            col_title="spot move",
            highlight=highlight,
            element_id=f"heatmap-{grid.replace('_', '-')}",
        )
        table = charts.heat_table(
            rows, cols, change, fmt=_signed_dollars, caption=title, corner=corner
        )
        out[f"heat_{grid}"] = charts.figure(picture, table)
    return out


def _signed_dollars(v: float) -> str:
    s = f"${abs(v):,.0f}"
    return s if s == "$0" else ("\u2212" if v < 0 else "+") + s


def _expiry_rows(hedge: dict[str, Any]) -> list[dict[str, Any]]:
    """The hedge-expiry rows with the puts that expire on each date beside those still in force.

    The API's ``put_contracts`` per expiry counts the long puts alive through that date (the
    hedge ratio's basis), so on a date where 13 expire and 20 more run longer it says 33: the
    page shows both, the expiring count being the step between consecutive rows.
    """
    rows = [dict(e) for e in hedge.get("expiries") or []]
    for i, row in enumerate(rows):
        later = rows[i + 1]["put_contracts"] if i + 1 < len(rows) else 0.0
        row["expiring_puts"] = row["put_contracts"] - later
    return rows


def _compact_signed(v: float) -> str:
    s = charts.compact(v)
    return s if s.startswith("-") or v == 0 else f"+{s}"


def _symbols(portfolio: Portfolio | None, current: str) -> list[str]:
    out = [current, settings.DEFAULT_SYMBOL]
    if portfolio is not None:
        out += list(portfolio.open_positions().values_list("symbol", flat=True).distinct())
        out.append(portfolio.default_symbol)
    out += list(SUGGESTED_SYMBOLS)
    return list(dict.fromkeys(s for s in out if s))


@require_GET
@vary_on_headers("HX-Request")
@access.data_page
def dashboard(request: HtmxHttpRequest) -> HttpResponse:
    portfolio = _portfolio_from(request, request.GET.get("portfolio"))
    raw_symbol = request.GET.get("symbol") or (
        portfolio.default_symbol if portfolio else settings.DEFAULT_SYMBOL
    )
    status = 200
    error = ""
    try:
        symbol = normalize_symbol(raw_symbol[:20])
    except InvalidSymbol as exc:
        symbol, error, status = "", str(exc), 400
    chosen, date_error = _chosen_date(request.GET.get("date"))
    hist = history_chart.parse_range(request.GET)
    result: dict[str, Any] | None = None
    if symbol:
        try:
            result = services.value_portfolio(portfolio, symbol, chosen_date=chosen)
        except UnknownSymbol as exc:
            error, status = str(exc) or f"No market data for {symbol}.", 404
        except MarketDataError as exc:
            error, status = f"Market data unavailable: {exc}", 503
    can_edit = portfolio is not None and portfolio.can_edit(request.user)
    part = "dashboard-body"
    if wants_partial(request):
        panel = request.GET.get("panel", "")
        part = f"panel-{panel}" if panel in PANELS else "dashboard-body"
    template = "portfolio/dashboard.html"
    memoisable = result is not None and not result["market"]["stale"] and part in MEMO_PARTS
    key = _memo_key(request, part, portfolio, can_edit) if memoisable else None

    # Built only when something renders: a memo hit needs none of it.
    @functools.cache
    def context() -> dict[str, Any]:
        return _dashboard_context(
            request,
            portfolio,
            symbol,
            raw_symbol[:20],
            result,
            hist,
            chosen=chosen,
            error=error,
            date_error=date_error,
            can_edit=can_edit,
        )

    if result is None or key is None:
        if wants_partial(request):
            template += f"#{part}"
        return render(request, template, context(), status=status)
    snapshot = (result["market"]["as_of"], result["market"]["chain_as_of"])
    html = _fragments.get_or_compute(
        result["symbol"],
        snapshot,
        key,
        lambda: render_to_string(f"{template}#{part}", context(), request),
    )
    if wants_partial(request):
        return HttpResponse(html, status=status)
    page = shell.render_page(
        request,
        template,
        lambda: {**context(), "body_html": html},
        memo=_pages,
        scope=result["symbol"],
        snapshot=snapshot,
        # The page around the body names the user (menu, logout) and their unread alerts.
        key=(*key, request.user.get_username(), alert_bell.unread_for(request)),
    )
    return HttpResponse(page, status=status)


def _dashboard_context(
    request: HttpRequest,
    portfolio: Portfolio | None,
    symbol: str,
    asked: str,
    result: dict[str, Any] | None,
    hist: history_chart.HistoryRange,
    *,
    chosen: date | None,
    error: str,
    date_error: str,
    can_edit: bool,
) -> dict[str, Any]:
    """The dashboard template's context; ``symbol`` is "" when ``asked`` was not a symbol."""
    not_held = result is not None and portfolio is not None and not result["positions"]
    query = {"symbol": symbol or asked}
    if portfolio is not None and request.GET.get("portfolio"):
        query["portfolio"] = str(portfolio.pk)
    if chosen:
        query["date"] = chosen.isoformat()
    maps = functools.cache(lambda: _scenario_maps(result) if result else {})
    return {
        "portfolio": portfolio,
        # Callables are resolved by the template only where used: a panel refresh (every live
        # update of every open page) then runs none of these queries.
        "portfolios": functools.cache(lambda: list(Portfolio.objects.visible_to(request.user))),
        "symbol": symbol or asked,
        "symbols": functools.cache(lambda: _symbols(portfolio, symbol)),
        "result": result,
        "snap": services.snapshot_from_result(result) if result else None,
        "error": error,
        "date_error": date_error,
        "chosen_date": (
            chosen.isoformat()
            if chosen
            else (
                result["scenarios"]["dates"][-1]["date"] if result and result["scenarios"] else ""
            )
        ),
        "query": urlencode(query),
        "history": functools.cache(lambda: history_chart.history_panel(portfolio, symbol, hist))
        if symbol
        else None,
        "iv_rank": functools.cache(lambda: ivrecord.rank_block(symbol)) if symbol else None,
        "hist_query": urlencode({**query, **hist.query()}),
        "history_presets": HISTORY_PRESETS,
        "can_edit": can_edit,
        "may_adopt": portfolio is not None and access.may_adopt(request.user, portfolio),
        # A symbol the portfolio does not hold gets an empty state, never a page of zeros.
        "not_held": not_held,
        "book": functools.cache(lambda: book.summarise(portfolio)) if portfolio else None,
        "show_book": functools.cache(
            lambda: portfolio is not None and (not_held or len(book.held_symbols(portfolio)) > 1)
        ),
        "expiry_rows": _expiry_rows(result["hedge"]) if result else [],
        # Gold-aware hedging: None (and no panel) for a symbol without a commodity backing.
        "backing": functools.cache(lambda: services.backing_panel(result) if result else None),
        "heat_spot_vol": functools.cache(lambda: maps().get("heat_spot_vol")),
        "heat_spot_date": functools.cache(lambda: maps().get("heat_spot_date")),
    }


# The rendered dashboard body and live panels, kept per market snapshot like the API bodies
# (portfolio.services): every open page asks for the live panels after each update, and a page
# view renders two heat maps and their tables; rendering them once per snapshot and state keeps
# the dashboard's cost near a plain view's. Stale data is never memoised (its age is written out).
# Whole pages are kept the same way (core.shell), each request getting its own CSRF token.
MEMO_PARTS = ("dashboard-body", "panel-live")
_fragments = SnapshotMemo(64)
# At most 8 symbols × 32 pages of ~45 kB: ~12 MB.
_pages = SnapshotMemo(32, scopes=8)


def _memo_key(
    request: HtmxHttpRequest, part: str, portfolio: Portfolio | None, can_edit: bool
) -> tuple[Any, ...] | None:
    """What a memoised part depends on besides the market snapshot; None when the portfolio
    state cannot be vouched for."""
    version = data_version()  # bumped by every portfolio/position write, in every process
    if version is None:
        return None
    key: tuple[Any, ...] = (
        part,
        version,
        request.GET.urlencode(),
        (portfolio.pk, portfolio.updated_at.isoformat()) if portfolio is not None else None,
        can_edit,
    )
    if part == "dashboard-body":
        # It also lists the user's portfolios (fixed by who they are and the data version)
        # and the value history, which gains its daily point after the close (the publisher or
        # a command writes it): the chart may lag that point by less than one interval.
        interval = services.snapshot_interval().total_seconds()
        key += (
            getattr(request.user, "pk", None),
            getattr(request.user, "is_staff", False),
            int(timezone.now().timestamp() // interval),
        )
    return key


@require_http_methods(["GET", "POST"])
def import_positions(request: HttpRequest, pk: int) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    portfolio = access.editable(request.user, pk)
    errors: list[csvio.RowError] = []
    status = 200
    if request.method == "POST":
        form = ImportPositionsForm(request.POST, request.FILES)
        if form.is_valid():
            data = form.cleaned_data["file"].read(csvio.MAX_BYTES + 1)
            try:
                created = csvio.import_positions(
                    data, portfolio, mode=form.cleaned_data["mode"], user=request.user
                )
            except csvio.CsvImportError as exc:
                errors, status = exc.errors, 400
            else:
                services.clear_memos()
                messages.success(request, f"Imported {len(created)} trade(s).")
                url = f"{redirect('portfolio:dashboard').url}?portfolio={portfolio.pk}"
                return redirect(url)
        else:
            status = 400
    else:
        form = ImportPositionsForm()
    return render(
        request,
        "portfolio/import.html",
        {"form": form, "portfolio": portfolio, "errors": errors, "columns": csvio.COLUMNS},
        status=status,
    )


@require_GET
@access.data_page
def export_positions(request: HttpRequest, pk: int) -> HttpResponse:
    portfolio = Portfolio.objects.visible_to(request.user).filter(pk=pk).first()
    if portfolio is None:
        raise Http404("no such portfolio")
    buf = io.StringIO()
    csvio.export_positions(portfolio, buf)
    response = HttpResponse(buf.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="portfolio-{portfolio.pk}.csv"'
    return response


# --- the book: trades, lots and realised P&L --------------------------------------------------


def _visible(request: HttpRequest, pk: int) -> Portfolio:
    portfolio = Portfolio.objects.visible_to(request.user).filter(pk=pk).first()
    if portfolio is None:
        raise Http404("no such portfolio")
    return portfolio


def _to_book(portfolio: Portfolio) -> HttpResponse:
    return redirect("portfolio:trades", pk=portfolio.pk)


@require_GET
@access.data_page
def trades(request: HttpRequest, pk: int) -> HttpResponse:
    """The book: open positions, every trade, and the P&L the closed lots realised."""
    portfolio = _visible(request, pk)
    can_edit = portfolio.can_edit(request.user)
    realised = dict(sorted(ledger.realised_by_symbol(portfolio).items()))
    context = {
        "portfolio": portfolio,
        "can_edit": can_edit,
        "may_adopt": access.may_adopt(request.user, portfolio),
        "positions": portfolio.open_positions().order_by("symbol", "kind", "expiry", "strike"),
        "trades": portfolio.trades.order_by("-traded_on", "-pk")[:TRADES_SHOWN],
        "trade_count": portfolio.trades.count(),
        "realised": realised,
        "realised_total": sum(realised.values(), Decimal(0)),
        "form": TradeForm(portfolio=portfolio) if can_edit else None,
        "book": book.summarise(portfolio),
    }
    return render(request, "portfolio/trades.html", context)


@require_http_methods(["GET", "POST"])
@access.data_page
def trade_add(request: HttpRequest, pk: int) -> HttpResponse:
    portfolio = access.editable(request.user, pk)
    form = TradeForm(
        request.POST or None, portfolio=portfolio, initial=_prefill(request, portfolio)
    )

    def write() -> str:
        ledger.record(portfolio, request.user, [form.valid_trade()])
        return f"Recorded: {form.trade}."

    return _ledger_form(request, portfolio, form, write, "portfolio/trade_form.html", trade=None)


@require_http_methods(["GET", "POST"])
@access.data_page
def trade_edit(request: HttpRequest, pk: int, trade_id: int) -> HttpResponse:
    portfolio = access.editable(request.user, pk)
    trade = get_object_or_404(Trade, pk=trade_id, portfolio=portfolio)
    form = TradeForm(request.POST or None, portfolio=portfolio, instance=trade)

    def write() -> str:
        changes = form.changed_fields()
        ledger.change(Trade(pk=trade.pk, portfolio=portfolio), request.user, **changes)
        return "Trade changed; lots and realised P&L recomputed."

    return _ledger_form(request, portfolio, form, write, "portfolio/trade_form.html", trade=trade)


@require_POST
@access.data_page
def trade_delete(request: HttpRequest, pk: int, trade_id: int) -> HttpResponse:
    portfolio = access.editable(request.user, pk)
    trade = get_object_or_404(Trade, pk=trade_id, portfolio=portfolio)
    try:
        ledger.delete(trade, request.user)
    except ledger.LedgerError as exc:
        messages.error(request, f"Not deleted: {exc.message}")
    else:
        messages.success(request, "Trade deleted; lots and realised P&L recomputed.")
    return _to_book(portfolio)


@require_http_methods(["GET", "POST"])
@access.data_page
def position_close(request: HttpRequest, pk: int, position_id: int) -> HttpResponse:
    portfolio = access.editable(request.user, pk)
    position = get_object_or_404(Position.objects.open(), pk=position_id, portfolio=portfolio)
    form = ClosePositionForm(request.POST or None, position=position)

    def write() -> str:
        data = form.cleaned_data
        trade = ledger.close_position(
            position,
            request.user,
            quantity=data["quantity"],
            price=data["price"],
            fees=data["fees"] or Decimal(0),
            traded_on=data["traded_on"],
        )
        return f"Recorded: {trade}."

    return _ledger_form(
        request, portfolio, form, write, "portfolio/position_close.html", position=position
    )


def _ledger_form(
    request: HttpRequest,
    portfolio: Portfolio,
    form: Any,
    write: Callable[[], str],
    template: str,
    **context: Any,
) -> HttpResponse:
    """A ledger form's round trip: a valid POST changes the book through ``write()`` (which
    returns what to tell the user) and goes back to the book; a refusal by the ledger (the book
    moved since the form's own check) is shown on the form, by its field where it names one."""
    if request.method == "POST" and form.is_valid():
        try:
            message = write()
        except ledger.LedgerError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, message)
            return _to_book(portfolio)
    return render(
        request,
        template,
        {"form": form, "portfolio": portfolio, **context},
        status=400 if request.method == "POST" else 200,
    )


def _prefill(request: HttpRequest, portfolio: Portfolio) -> dict[str, str]:
    """Initial values from links such as the first-run chain picker (shown, never trusted:
    the form validates them when it is submitted)."""
    out = {"symbol": portfolio.default_symbol}
    for name in ("side", "symbol", "kind", "expiry", "strike", "right", "price", "quantity"):
        value = request.GET.get(name)
        if value:
            out[name] = value[:30]
    return out


# --- first run ------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def welcome(request: HttpRequest) -> HttpResponse:
    """A new user's first page: create a portfolio (name and base symbol)."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    form = NewPortfolioForm(request.POST or None, owner=request.user)
    if request.method == "POST" and form.is_valid():
        portfolio = form.save()
        return redirect("portfolio:start", pk=portfolio.pk)
    own = Portfolio.objects.filter(owner=request.user).order_by("name", "pk")
    return render(
        request,
        "portfolio/welcome.html",
        {"form": form, "own": own},
        status=400 if request.method == "POST" else 200,
    )


@require_GET
@access.data_page
def start(request: HttpRequest, pk: int) -> HttpResponse:
    """The first position: shares, an option picked from the live chain, or a file."""
    portfolio = access.editable(request.user, pk)
    symbol = portfolio.default_symbol
    is_call = request.GET.get("right") == "C"
    context: dict[str, Any] = {
        "portfolio": portfolio,
        "symbol": symbol,
        "right": "C" if is_call else "P",
        "chain_error": "",
    }
    try:
        chain = market_service.get_market_service().chain(symbol)
    except MarketDataError as exc:
        context["chain_error"] = f"The option chain of {symbol} is unavailable: {exc}"
    else:
        today = chain.as_of.date()  # the chain's own day: a replayed chain lists its expiries
        expiry = onboarding.pick_expiry(chain, request.GET.get("expiry"), today)
        context.update(
            spot=chain.spot,
            expiries=[d for d in chain.expiries if d >= today],
            expiry=expiry,
            rows=onboarding.chain_rows(chain, expiry, is_call) if expiry else [],
        )
    return render(request, "portfolio/start.html", context)


@require_http_methods(["GET", "POST"])
@access.data_page
def broker_import(request: HttpRequest, pk: int) -> HttpResponse:
    """A broker's trade history (IBKR Flex XML or the generic CSV) into the ledger."""
    portfolio = access.editable(request.user, pk)
    form = BrokerImportForm(request.POST or None, request.FILES or None)
    context: dict[str, Any] = {"form": form, "portfolio": portfolio, "errors": [], "result": None}
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data["file"].read(broker_ibkr.MAX_BYTES + 1)
            try:
                if form.cleaned_data["format"] == "ibkr":
                    result: Any = broker_ibkr.import_flex(data, portfolio, request.user)
                else:
                    result = broker_csv.import_csv(data, portfolio, request.user)
            except broker_ibkr.BrokerFileError as exc:
                context["errors"] = [str(exc)]
            except csvio.CsvImportError as exc:
                context["errors"] = [str(e) for e in exc.errors]
            except ledger.LedgerError as exc:
                context["errors"] = [exc.message]
            else:
                status = 200
                context["result"] = result
                context["reported"] = getattr(result, "reported", [])
    return render(request, "portfolio/broker_import.html", context, status=status)
