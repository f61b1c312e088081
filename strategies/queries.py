"""The query parameters of the chain, strategies and builder: one schema each, read by the JSON
API (django-ninja validates them) and by the pages (:func:`from_querydict`), so both accept the
same values within the same bounds. Rankings and price modes come from their tables."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal, TypeVar

from django.http import QueryDict
from ninja import Field, Schema
from pydantic import ValidationError, field_validator

from strategies.ranking import DEFAULT_RANKING, RANKINGS

Symbol = Annotated[str | None, Field(None, max_length=20, description="Underlying (default: GLD)")]
PortfolioId = Annotated[
    int | None, Field(None, ge=1, le=2**63 - 1, description="Portfolio id (default: yours/demo)")
]
PriceMode = Annotated[
    Literal["ask_bid", "mid"],
    Field("ask_bid", description="Leg prices: buy at the ask and sell at the bid, or the mid"),
]
IvShift = Annotated[float, Field(0.0, ge=-50, le=100, description="Vol points added")]
Days = Annotated[
    int | None, Field(None, ge=1, le=3650, description="Extra curve this many days out")
]
IncludeHeld = Annotated[
    bool,
    Field(
        True,
        description="Evaluate on the whole book: shares, the options already held and the "
        "strategy's legs (false: shares and the strategy only)",
    ),
]
Model = Annotated[
    Literal["american", "european"],
    Field("american", description="Model valuing the legs before expiry (European = BSM)"),
]


class OptionsQuery(Schema):
    symbol: Symbol
    expiry: dt.date | None = Field(None, description="Default: nearest at least 7 days away")
    min_oi: int | None = Field(None, ge=0, le=10**9, description="Hide contracts below this OI")
    max_spread_pct: float | None = Field(
        None, ge=0, le=1000, description="Hide contracts with a wider bid/ask spread (% of mid)"
    )


class StrategiesQuery(Schema):
    symbol: Symbol
    portfolio: PortfolioId
    expiry: dt.date | None = Field(None, description="Only this expiry (default: 7–400 days)")
    max_cost_pct: float | None = Field(None, ge=-100, le=100, description="Max net debit, %")
    min_floor_pct: float | None = Field(None, ge=0, le=200, description="Min floor, %")
    min_cap_pct: float | None = Field(None, ge=0, le=1000, description="Min cap, %")
    price: PriceMode
    rank: str = Field(
        DEFAULT_RANKING,
        description="Order of the candidates (see `ranking.description` in the answer)",
        json_schema_extra={"enum": list(RANKINGS)},
    )
    limit: int | None = Field(None, ge=1, le=1000)
    include_held: IncludeHeld

    @field_validator("rank")
    @classmethod
    def _known_ranking(cls, value: str) -> str:
        if value not in RANKINGS:
            raise ValueError("one of " + ", ".join(RANKINGS))
        return value


class StrategiesPageQuery(StrategiesQuery):
    """The strategies page: the API's query plus the payoff panel's horizon and vol shift."""

    days: Days
    iv_shift: IvShift


class PayoffQuery(Schema):
    symbol: Symbol
    candidate: str = Field(max_length=300, description="Candidate id from /api/strategies")
    portfolio: PortfolioId
    price: PriceMode
    iv_shift: IvShift
    days: Days
    model: Model
    include_held: IncludeHeld


class AdoptQuery(Schema):
    """The confirmation page of adopting a candidate, or (``source=builder``) the legs built
    in the builder (read by :func:`strategies.builder.parse_legs`)."""

    symbol: Symbol
    candidate: str | None = Field(
        None, max_length=300, description="Candidate id from /api/strategies"
    )
    source: Literal["candidate", "builder"] = "candidate"
    portfolio: PortfolioId
    price: PriceMode


class BuilderQuery(Schema):
    """The builder page's settings (its legs are read by :func:`strategies.builder.parse_legs`)."""

    symbol: Symbol
    portfolio: PortfolioId
    price: PriceMode
    iv_shift: IvShift
    days: Days
    include_held: IncludeHeld


S = TypeVar("S", bound=Schema)


class QueryError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def from_querydict(schema: type[S], q: QueryDict) -> S:
    """``schema`` validated from a page's query string; empty fields count as absent.

    Raises :class:`QueryError` naming the first bad field, worded like the API's 400s.
    """
    data: dict[str, Any] = {}
    for name in schema.model_fields:
        raw = q.get(name, "").strip()
        if raw:
            data[name] = raw
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first.get("loc", ())) or "query"
        raise QueryError(field, f"{field}: {first.get('msg', 'invalid value')}") from None
