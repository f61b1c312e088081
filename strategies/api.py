"""``/api/options`` and ``/api/strategies`` (django-ninja routers registered in vault_dash.api)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router

from core.api_errors import ApiError
from market.errors import MarketDataError, UnknownSymbol
from marketdata import snapshot
from portfolio import access
from portfolio.schemas import ErrorOut
from strategies import builder, ranked, services, wholebook
from strategies.metrics import PROBABILITY_MODEL
from strategies.payoff import payoff_data
from strategies.queries import OptionsQuery, PayoffQuery, StrategiesQuery
from strategies.schemas import EvaluatedOut, EvaluateIn, OptionsOut, PayoffOut, StrategiesOut

options_router: Router = Router(tags=["options"])
strategies_router: Router = Router(tags=["strategies"])

ERRORS: dict[int, Any] = {400: ErrorOut, 401: ErrorOut, 404: ErrorOut, 503: ErrorOut}
T = TypeVar("T")


def ensure_allowed(request: HttpRequest) -> None:
    if not access.may_view(request.user):
        raise ApiError(401, "unauthorized", "log in to see this data")


def guarded(fn: Callable[[], T]) -> T:
    """Map service and market errors onto the API's JSON errors."""
    try:
        return fn()
    except services.InvalidInput as exc:
        status = 403 if exc.code == "forbidden" else 400
        raise ApiError(status, exc.code, exc.message, exc.field) from None
    except services.NotFound as exc:
        raise ApiError(404, "not_found", exc.message, exc.field) from None
    except UnknownSymbol as exc:
        raise ApiError(404, "unknown_symbol", str(exc) or "unknown symbol", "symbol") from None
    except MarketDataError as exc:
        raise ApiError(
            503, getattr(exc, "code", "market_data_error"), f"market data unavailable: {exc}"
        ) from None


def json_response(body: bytes) -> HttpResponse:
    """A serialised body as is: it is cached per chain snapshot, and validating ~60–270 KB
    against the response schema per request cost more than computing it (tests check the
    bodies against the schema instead)."""
    response = HttpResponse(body, content_type="application/json")
    response["Cache-Control"] = "private, no-store"
    return response


@options_router.get(
    "",
    response={200: OptionsOut, **ERRORS},
    summary="Option chain with prices, IV and Greeks",
    description=(
        "Listed expiries; for the chosen expiry calls and puts by strike with bid, ask, mid, "
        "last, volume, open interest, IV (American model, from the mid), Greeks and the model "
        "that priced them; ATM IV, expected move S·σ·√T and put–call parity residuals. "
        "`inputs` holds spot, rate, dividend yield, timestamp and day count."
    ),
)
def get_options(request: HttpRequest, q: Query[OptionsQuery]) -> HttpResponse:
    ensure_allowed(request)
    return json_response(
        guarded(
            lambda: services.options_json(
                services.clean_symbol(q.symbol), q.expiry, q.min_oi, q.max_spread_pct
            )
        )
    )


@strategies_router.get(
    "",
    response={200: StrategiesOut, **ERRORS},
    summary="Hedge candidates for the holding, evaluated and ranked",
    description=(
        "Baseline, protective puts (ATM, 5/10/15 % OTM), collars, zero-cost collars (call strike "
        "solved), put spreads, put-spread collars and covered calls, sized to the portfolio's "
        "holding of the symbol (per 100 shares without one), for each listed expiry 7–400 days "
        "out. Each carries legs with prices, cost ($, %, % per year), floor, cap, breakevens, "
        "max loss/gain, net Greeks, probabilities and expected value (model in "
        "`probability_model`), liquidity and early-assignment risk; `ranking` states the order. "
        "With `include_held` (default true) each candidate is evaluated on the whole book it "
        "leaves (shares + options already held + its legs, listed in `held_options`): floor, "
        "cap, breakevens, probabilities and Greeks are the book's, the cost is the candidate's; "
        "`book` gives the resulting hedge ratio, net delta and warnings."
    ),
)
def get_strategies(request: HttpRequest, q: Query[StrategiesQuery]) -> HttpResponse:
    ensure_allowed(request)
    return json_response(guarded(lambda: ranked.strategies_json(request.user, q)))


@strategies_router.get(
    "/payoff",
    response={200: PayoffOut, **ERRORS},
    summary="P&L of one candidate on a price grid (expiry, today, a chosen date) and heat-map",
)
def get_payoff(request: HttpRequest, q: Query[PayoffQuery]) -> Any:
    ensure_allowed(request)

    def run() -> dict[str, Any]:
        symbol = services.clean_symbol(q.symbol)
        portfolio = services.resolve_portfolio(request.user, q.portfolio)
        mk = services.load_market(symbol)
        shares = services.holding_shares(portfolio, mk.ctx.symbol)
        held = ranked.held_book(portfolio, mk, q.include_held)
        cand, _ = ranked.find_candidate(mk, shares, q.candidate, q.price, held)
        t_exp = wholebook.strategy_t(cand.legs, cand.t)
        return payoff_data(
            mk.ctx,
            wholebook.book_legs(cand.legs, held),
            days=[q.days] if q.days else [],
            iv_shift=q.iv_shift,
            style=q.model,
            t_end=t_exp if held else None,
        )

    return guarded(run)


@strategies_router.post(
    "/evaluate",
    response={200: EvaluatedOut, **ERRORS},
    summary="Evaluate your own legs (the builder): metrics and payoff",
    description="Legs must be listed contracts of one expiry; prices come from the chain.",
)
def post_evaluate(request: HttpRequest, body: EvaluateIn) -> Any:
    ensure_allowed(request)

    def run() -> dict[str, Any]:
        symbol = services.clean_symbol(body.symbol)
        portfolio = services.resolve_portfolio(request.user, body.portfolio)
        mk = services.load_market(symbol)
        legs_in = builder.parse_legs([leg.dict() for leg in body.legs])
        shares = services.holding_shares(portfolio, mk.ctx.symbol) if body.include_holding else 0
        held = ranked.held_book(portfolio, mk, body.include_holding and body.include_held)
        built = builder.build(mk, legs_in, body.price, shares, held)
        return {
            "inputs": snapshot.chain_block(mk.ctx),
            "price_mode": body.price,
            "probability_model": PROBABILITY_MODEL,
            "strategy": built.row,
            "payoff": payoff_data(
                mk.ctx,
                built.book,
                days=body.days,
                iv_shift=body.iv_shift,
                style=body.model,
                t_end=wholebook.strategy_t(built.legs) if held else None,
            ),
        }

    return guarded(run)
