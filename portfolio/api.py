"""``GET /api/portfolio``: valuation, hedge panel and scenarios of one portfolio for a symbol."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from ninja import Field as NField
from ninja import Query, Router, Schema

from core.api_errors import ApiError
from market.calendar import market_date
from market.data import normalize_symbol
from market.errors import InvalidSymbol, MarketDataError, UnknownSymbol
from portfolio import access, services
from portfolio.schemas import ErrorOut, PortfolioOut

router: Router = Router(tags=["portfolio"])

MAX_SCENARIO_YEARS = 3


class PortfolioQuery(Schema):
    symbol: str | None = NField(
        None, max_length=20, description="Underlying symbol (default: the portfolio's)"
    )
    portfolio: int | None = NField(
        None, ge=1, le=2**63 - 1, description="Portfolio id (default: yours, else the demo)"
    )
    date: dt.date | None = NField(
        None, description="Chosen date for the spot × date scenario (default: in 30 days)"
    )


def ensure_allowed(request: HttpRequest) -> None:
    if not access.may_view(request.user):
        raise ApiError(401, "unauthorized", "log in to see portfolio data")


@router.get(
    "",
    response={200: PortfolioOut, 400: ErrorOut, 401: ErrorOut, 404: ErrorOut, 503: ErrorOut},
    summary="Portfolio valuation, hedge panel and scenarios",
    description=(
        "Per-position and total market value, cost, unrealised P&L, day change and Greeks; the "
        "hedge panel (hedge ratio, floor and cap per hedge expiry, hedge cost, warnings); spot "
        "× vol-shift and spot × date scenario matrices. Every market-dependent number carries "
        "its inputs (spot, rate, dividend yield, time to expiry, vol and its source, model) "
        "and `as_of` is the data timestamp."
    ),
)
def get_portfolio(request: HttpRequest, q: Query[PortfolioQuery]) -> HttpResponse:
    ensure_allowed(request)
    try:
        portfolio = access.resolve_portfolio(request.user, q.portfolio)
    except access.PortfolioNotFound:
        raise ApiError(404, "not_found", "no such portfolio", "portfolio") from None
    raw_symbol = q.symbol or (portfolio.default_symbol if portfolio else settings.DEFAULT_SYMBOL)
    try:
        symbol = normalize_symbol(raw_symbol)
    except InvalidSymbol as exc:
        raise ApiError(400, "invalid_symbol", str(exc), "symbol") from None
    if q.date is not None:
        today = market_date()
        if not today <= q.date <= today + dt.timedelta(days=365 * MAX_SCENARIO_YEARS):
            raise ApiError(
                400,
                "invalid_date",
                f"date must be between today and {MAX_SCENARIO_YEARS} years from now",
                "date",
            )
    try:
        body = services.portfolio_json(portfolio, symbol, chosen_date=q.date)
    except UnknownSymbol as exc:
        raise ApiError(
            404, "unknown_symbol", str(exc) or f"no data for {symbol}", "symbol"
        ) from None
    except MarketDataError as exc:
        raise ApiError(
            503, getattr(exc, "code", "market_data_error"), f"market data unavailable: {exc}"
        ) from None
    response = HttpResponse(body, content_type="application/json")
    response["Cache-Control"] = "private, no-store"
    return response
