"""Query and body schemas of ``/api/rolls`` (and the roll page, which reads the same query)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from ninja import Field, Schema

from strategies.queries import PortfolioId, PriceMode, Symbol
from strategies.schemas import InputsOut


class RollsQuery(Schema):
    symbol: Symbol
    portfolio: PortfolioId
    expiry: dt.date | None = Field(None, description="Only the hedge held in this expiry")
    to_expiry: dt.date | None = Field(None, description="Only rolls into this expiry")
    price: PriceMode
    limit: int | None = Field(None, ge=1, le=1000, description="Candidates per hedge expiry")
    rank: Literal["cost_per_day", "floor", "debit"] = Field(
        "cost_per_day", description="Order: cost per added day, highest floor, or smallest debit"
    )


class RollPageQuery(RollsQuery):
    candidate: str | None = Field(None, max_length=300, description="Roll id to confirm")


class HeldLegOut(Schema):
    right: Literal["C", "P"]
    strike: float
    expiry: dt.date
    quantity: float = Field(description="Signed contracts held")
    close_price: float | None = Field(description="$/share the leg closes at (None: no quote)")
    bid: float | None
    ask: float | None


class RollLegOut(Schema):
    action: Literal["close", "open"]
    right: Literal["C", "P"]
    strike: float
    expiry: dt.date
    quantity: float = Field(description="Signed contracts traded (+ bought, − sold)")
    price: float | None = Field(description="$/share")


class RollCandidateOut(Schema):
    id: str = Field(description="Roll id: pass it to POST /api/rolls/quote")
    rank: int
    to_expiry: dt.date
    days: int = Field(description="Calendar days to the new expiry")
    added_days: int = Field(description="Calendar days the hedge gains")
    strike_shift_pct: float = Field(description="Strikes moved by this % of spot (before snap)")
    legs: list[RollLegOut]
    debit: float = Field(description="$ paid (+) or received (−) for the whole roll")
    net: Literal["debit", "credit", "even"]
    cost_per_added_day: float = Field(description="debit ÷ added_days, $")
    cost_per_added_day_pct: float | None = Field(description="… as % of the shares' value")
    floor_value: float | None = Field(description="Book value floor at the new expiry, $")
    floor_pct: float | None
    floor_per_share: float | None
    cap_value: float | None = Field(
        description="Book value cap at the new expiry ($; None: no cap)"
    )
    cap_pct: float | None


class HedgeRollsOut(Schema):
    from_expiry: dt.date
    days: int
    legs: list[HeldLegOut]
    closable: bool = Field(description="False: a held leg has no quote to close at")
    close_value: float | None = Field(description="$ received (+) or paid (−) to close the legs")
    floor_value: float | None = Field(description="Floor at this expiry as held, $")
    cap_value: float | None
    count: int = Field(description="Candidates before `limit`")
    candidates: list[RollCandidateOut]


class PortfolioBrief(Schema):
    id: int
    name: str


class RollRankingOut(Schema):
    method: Literal["cost_per_day", "floor", "debit"]
    description: str


class RollFiltersOut(Schema):
    expiry: dt.date | None
    to_expiry: dt.date | None


class RollsOut(Schema):
    inputs: InputsOut
    portfolio: PortfolioBrief | None
    symbol: str
    holding_shares: float
    price_mode: Literal["ask_bid", "mid"]
    pricing: str
    ranking: RollRankingOut
    strike_shifts_pct: list[float]
    filters: RollFiltersOut
    hedges: list[HedgeRollsOut]


class RollQuoteIn(Schema):
    symbol: Symbol
    portfolio: int = Field(ge=1, le=2**63 - 1, description="Portfolio id")
    candidate: str = Field(max_length=300, description="Roll id from GET /api/rolls")
    price: PriceMode


class RollQuoteOut(Schema):
    token: str = Field(description="Single-use confirmation, valid 15 minutes")
    candidate: RollCandidateOut
    from_expiry: dt.date


class RollConfirmIn(Schema):
    token: str = Field(max_length=8000)


class RollDoneOut(Schema):
    id: int
    created: bool = Field(description="False: this token had been used; nothing was written")
    portfolio: int
    symbol: str
    from_expiry: dt.date
    to_expiry: dt.date
    debit: float
    rolled_at: str
    trades: list[int] = Field(description="Ids of the ledger trades written")
