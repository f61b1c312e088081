"""``/api/rolls``: roll candidates of the held hedges, a signed quote of one, and its confirm."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Query, Router

from core.api_errors import ApiError
from strategies import confirmation, roll_service, services
from strategies.api import ERRORS, ensure_allowed, guarded
from strategies.roll_schemas import (
    RollConfirmIn,
    RollDoneOut,
    RollQuoteIn,
    RollQuoteOut,
    RollsOut,
    RollsQuery,
)

rolls_router: Router = Router(tags=["rolls"])


@rolls_router.get(
    "",
    response={200: RollsOut, **ERRORS},
    summary="Roll candidates for each held hedge expiry",
    description=(
        "For every expiry holding long puts (or only `expiry`): its legs and their closing "
        "prices, and candidates that close them and open the same legs in a later expiry (up "
        "to 400 days out), strikes unchanged or moved down/up by `strike_shifts_pct` of spot "
        "(snapped to listed strikes with two-sided quotes). Each candidate: the debit (+) or "
        "credit (−), cost per added day, and the book's floor and cap at the new expiry "
        "(options at intrinsic, other held hedges alive then included). Ranked cheapest per "
        "added day first (`rank=floor`: highest floor first; `rank=debit`: smallest debit first); "
        "`to_expiry` keeps the rolls into one expiry."
    ),
)
def get_rolls(request: HttpRequest, q: Query[RollsQuery]) -> Any:
    ensure_allowed(request)

    def run() -> dict[str, Any]:
        portfolio = services.resolve_portfolio(request.user, q.portfolio)
        if portfolio is None:
            raise services.NotFound("portfolio", "no portfolio to roll")
        mk = services.load_market(services.clean_symbol(q.symbol))
        return roll_service.rolls_payload(
            mk,
            portfolio,
            expiry=q.expiry,
            mode=q.price,
            limit=q.limit,
            to_expiry=q.to_expiry,
            rank=q.rank,
        )

    return guarded(run)


@rolls_router.post(
    "/quote",
    response={200: RollQuoteOut, **ERRORS, 403: ERRORS[400]},
    summary="Price one roll candidate now and sign it for confirmation",
    description=(
        "Returns the candidate at the current quotes and a single-use `token` (15 minutes) "
        "for POST /api/rolls/confirm. Only the portfolio's owner may roll it."
    ),
)
def post_quote(request: HttpRequest, body: RollQuoteIn) -> Any:
    ensure_allowed(request)

    def run() -> dict[str, Any]:
        portfolio = confirmation.changeable(
            request.user, services.resolve_portfolio(request.user, body.portfolio)
        )
        mk = services.load_market(services.clean_symbol(body.symbol))
        cand = roll_service.find_roll(mk, portfolio, body.candidate, body.price)
        return {
            "token": roll_service.sign_roll(mk, portfolio.pk, cand),
            "candidate": cand,
            "from_expiry": cand["from_expiry"],
        }

    return guarded(run)


@rolls_router.post(
    "/confirm",
    response={200: RollDoneOut, **ERRORS, 403: ERRORS[400], 409: ERRORS[400]},
    summary="Confirm a quoted roll: close the old legs, open the new ones (once)",
    description=(
        "Writes the close and open trades to the ledger in one transaction. A token is used "
        "once: sending it again (or twice at once) writes nothing more and answers the first "
        "roll with `created: false`. 409 when the book changed since the quote."
    ),
)
def post_confirm(request: HttpRequest, body: RollConfirmIn) -> Any:
    ensure_allowed(request)

    def run() -> dict[str, Any]:
        data = roll_service.read_roll(body.token)
        try:
            done = roll_service.roll(request.user, data)
        except services.InvalidInput as exc:
            if exc.code == "conflict":
                raise ApiError(409, "conflict", exc.message, exc.field) from None
            raise
        r = done.record
        return {
            "id": r.pk,
            "created": done.created,
            "portfolio": r.portfolio_id,
            "symbol": r.symbol,
            "from_expiry": r.from_expiry,
            "to_expiry": r.to_expiry,
            "debit": r.debit,
            "rolled_at": r.rolled_at.isoformat(),
            "trades": sorted(r.trades.values_list("pk", flat=True)),
        }

    return guarded(run)
