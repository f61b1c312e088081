"""Typed schemas of ``/api/options`` and ``/api/strategies`` (served in the OpenAPI document)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from ninja import Field, Schema

from marketdata.schemas import MarketOpen, MarketState


class InputsOut(Schema):
    symbol: str
    spot: float
    rate: float = Field(description="Risk-free rate, continuously compounded decimal")
    div_yield: float = Field(description="Dividend yield, continuously compounded decimal")
    as_of: str = Field(description="Chain timestamp (ISO 8601): the valuation instant")
    provider: str = Field(description="Market data provider that answered (yfinance, cboe, ...)")
    stale: bool
    age_s: float
    market_state: MarketState = ""
    market_open: MarketOpen = True
    day_count: str
    model: str


# --- /api/options ----------------------------------------------------------------------------


class ExpiryOut(Schema):
    expiry: dt.date
    days: float
    atm_iv: float | None = None


class ContractOut(Schema):
    bid: float | None
    ask: float | None
    mid: float | None
    last: float | None
    volume: int
    open_interest: int
    spread_pct: float | None = Field(description="(ask − bid) / mid × 100")
    iv: float | None = Field(
        description="Implied vol (decimal) from the mid, American model, with t in years to "
        "16:00 New York on the expiry. Not comparable with Yahoo's impliedVolatility, which "
        "counts whole days from the current date (up to 2x apart on the last day)"
    )
    iv_reason: str | None = Field(description="Why there is no IV (null when solved)")
    delta: float | None = Field(description="Per share")
    gamma: float | None = Field(description="Per $1")
    theta: float | None = Field(description="Per calendar day, $ per share")
    vega: float | None = Field(description="Per volatility point, $ per share")
    rho: float | None = Field(description="Per rate point, $ per share")
    model_price: float | None
    model: str | None
    itm: bool
    flags: list[str] = Field(description="wide_spread (> 10 %), low_oi (< 100), no_bid")


class ParityOut(Schema):
    residual: float = Field(description="C − P − (S e^{-qT} − K e^{-rT}) from mids")
    within_american_bounds: bool


class StrikeRowOut(Schema):
    strike: float
    call: ContractOut | None
    put: ContractOut | None
    parity: ParityOut | None


class ChainOut(Schema):
    expiry: dt.date
    days: float | None
    t: float | None = Field(description="Years to 16:00 New York on the expiry (ACT/365)")
    atm_iv: float | None
    atm_strike: float | None
    expected_move: float | None = Field(description="S · ATM IV · √T, $")
    model: str
    rows: list[StrikeRowOut]


class IVRankOut(Schema):
    rank: float | None = Field(
        description="IV rank, 0–100: (IV30 − min) / (max − min) × 100 over the window; null "
        "with `reason` when there is too little history, it has not moved, or it is out of date"
    )
    percentile: float | None = Field(
        description="IV percentile, 0–100: share of the window's earlier days with a lower IV30"
    )
    iv30: float | None = Field(description="The latest stored IV30 (decimal)")
    low: float | None = Field(description="Lowest IV30 in the window")
    high: float | None = Field(description="Highest IV30 in the window")
    as_of: dt.date | None = Field(description="Market date of the latest stored IV30")
    observations: int = Field(description="Stored days in the window")
    window_days: int = Field(description="Calendar days the window spans (365)")
    method: str
    reason: str | None = Field(description="Why rank or percentile is null")
    iv30_method: str = Field(description="How each day's IV30 is made")


class OptionsFilters(Schema):
    min_oi: int | None
    max_spread_pct: float | None


class OptionsOut(Schema):
    inputs: InputsOut
    iv_rank: IVRankOut = Field(description="IV rank and percentile over one year (stored IV30)")
    expiries: list[ExpiryOut]
    filters: OptionsFilters
    chain: ChainOut | None


# --- /api/strategies ------------------------------------------------------------------------


class AssignmentRiskOut(Schema):
    level: str = Field(description="low | medium | high")
    extrinsic: float | None = Field(description="Model time value per share")
    early_exercise_premium: float | None = Field(description="American − European, per share")


class LegOut(Schema):
    kind: Literal["stock", "call", "put"]
    side: Literal["buy", "sell"]
    quantity: float = Field(description="Signed: shares for stock, contracts for options")
    strike: float | None
    expiry: dt.date | None
    price: float | None = Field(description="Execution price per share")
    bid: float | None
    ask: float | None
    iv: float | None
    iv_source: str | None = Field(description="chain (the contract's IV) or atm_fallback")
    t: float | None
    open_interest: float | None
    model_price: float | None
    delta: float | None
    spread_pct: float | None
    assignment_risk: AssignmentRiskOut | None = None


class StrategyGreeksOut(Schema):
    delta: float | None = Field(description="Share-equivalents")
    gamma: float | None = Field(description="Share-equivalents per $1")
    theta: float | None = Field(description="$ per calendar day")
    vega: float | None = Field(description="$ per volatility point")
    rho: float | None = Field(description="$ per rate point")


class LiquidityOut(Schema):
    worst_spread_pct: float | None
    min_open_interest: float | None


class BookOut(Schema):
    """The whole book this candidate leaves (shares + options held + its legs)."""

    held_options: int = Field(description="Held option positions included in the evaluation")
    hedge_ratio: float | None = Field(description="Long put contracts × 100 / shares, after")
    net_delta: float | None = Field(description="Net delta after, in shares")
    warnings: list[Literal["over_hedged", "net_short", "stacked_expiry"]]


class CandidateOut(Schema):
    id: str
    rank: int | None = None
    name: str
    family: str
    expiry: dt.date | None
    days: float | None
    t: float | None
    legs: list[LegOut]
    params: dict[str, float | str]
    notes: list[str]
    position_value: float | None
    net_debit: float | None = Field(description="$ paid (+) or received (−) for the options")
    net_debit_pct: float | None = Field(description="% of position value")
    annual_cost_pct: float | None = Field(description="net_debit_pct / years to expiry")
    model_value: float | None
    floor_price: float | None = Field(description="Price below which losses stop")
    floor_value: float | None = Field(description="Worst value at expiry net of the hedge cost")
    floor_pct: float | None
    cap_price: float | None
    cap_value: float | None
    cap_pct: float | None
    breakevens: list[float]
    max_loss: float | None = Field(description="null = unlimited")
    max_gain: float | None = Field(description="null = unlimited")
    greeks: StrategyGreeksOut
    vol: float | None = Field(description="ATM IV used for the probabilities")
    prob_profit: float | None
    prob_floor: float | None = Field(description="P(S_T ≤ floor_price)")
    expected_pnl: float | None
    liquidity: LiquidityOut
    assignment_risk: str | None
    cost_per_protection: float | None
    book: BookOut


class PortfolioRefOut(Schema):
    id: int
    name: str


class RankingOut(Schema):
    method: str
    description: str


class StrategyFilters(Schema):
    expiry: dt.date | None
    max_cost_pct: float | None
    min_floor_pct: float | None
    min_cap_pct: float | None
    expiry_range_days: list[float] | None


class HeldOptionOut(Schema):
    right: Literal["C", "P"]
    strike: float
    expiry: dt.date
    quantity: float = Field(description="Contracts, signed")
    mark: float = Field(description="Model value per share (American, chain IV)")
    iv: float


class HeldOptionsOut(Schema):
    included: bool = Field(description="Whether candidates were evaluated with these options")
    options: list[HeldOptionOut]


class StrategiesOut(Schema):
    inputs: InputsOut
    portfolio: PortfolioRefOut | None
    holding_shares: float
    held_options: HeldOptionsOut
    price_mode: str
    pricing: str
    ranking: RankingOut
    probability_model: str
    filters: StrategyFilters
    evaluated: int
    count: int
    candidates: list[CandidateOut]


class CurveOut(Schema):
    days: float
    date: dt.date
    pnl: list[float]


class HeatmapOut(Schema):
    prices: list[float]
    dates: list[dt.date]
    pnl: list[list[float]] = Field(description="Rows: prices; columns: dates")


class PayoffOut(Schema):
    grid: list[float]
    expiry_pnl: list[float]
    curves: list[CurveOut]
    heatmap: HeatmapOut
    iv_shift: float
    model: str
    days_to_expiry: float


class EvaluatedOut(Schema):
    inputs: InputsOut
    price_mode: str
    probability_model: str
    strategy: CandidateOut
    payoff: PayoffOut


# --- inputs ---------------------------------------------------------------------------------


class LegIn(Schema):
    side: Literal["buy", "sell"]
    right: Literal["C", "P"]
    strike: float = Field(gt=0, lt=1e7)
    expiry: dt.date
    quantity: int = Field(1, ge=1, le=10_000, description="Contracts")


class EvaluateIn(Schema):
    symbol: str = Field(max_length=20)
    legs: list[LegIn] = Field(max_length=8)
    portfolio: int | None = Field(None, ge=1, le=2**63 - 1)
    include_holding: bool = Field(False, description="Add the portfolio's shares of the symbol")
    include_held: bool = Field(
        True, description="With include_holding: add the options the portfolio already holds"
    )
    price: Literal["ask_bid", "mid"] = "ask_bid"
    iv_shift: float = Field(0.0, ge=-50, le=100, description="Vol points added to every leg")
    days: list[float] = Field(default_factory=list, max_length=8)
    model: Literal["american", "european"] = Field(
        "american", description="Model valuing the legs before expiry (European = BSM)"
    )
