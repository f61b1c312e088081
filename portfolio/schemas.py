"""Typed response schemas of ``/api/portfolio`` (served in the OpenAPI document)."""

from __future__ import annotations

from ninja import Field, Schema

from marketdata.schemas import MarketOpen, MarketState


class ErrorDetail(Schema):
    code: str
    message: str
    field: str | None = None


class ErrorOut(Schema):
    error: ErrorDetail


class PortfolioRef(Schema):
    id: int
    name: str
    is_demo: bool
    base_currency: str


class MarketOut(Schema):
    symbol: str
    spot: float
    prev_close: float | None = Field(None, description="Previous close (day change basis)")
    rate: float = Field(description="Risk-free rate, continuously compounded decimal")
    div_yield: float = Field(description="Dividend yield, continuously compounded decimal")
    provider: str
    as_of: str = Field(description="Quote timestamp (ISO 8601): the valuation instant")
    chain_as_of: str | None = Field(None, description="Option chain timestamp (ISO 8601)")
    chain_provider: str | None = Field(None, description="Provider of the option chain")
    stale: bool
    age_s: float
    market_state: MarketState = ""
    market_open: MarketOpen = True


class GreeksOut(Schema):
    delta_shares: float = Field(description="Delta in share-equivalents")
    delta_dollars: float = Field(description="Delta × spot ($ exposure)")
    gamma_shares: float = Field(description="Change of delta (shares) per $1 move")
    gamma_dollars: float = Field(description="Change of dollar delta for a 1 % move: Γ·S²/100")
    theta_dollars: float = Field(description="$ per calendar day")
    vega_dollars: float = Field(description="$ per volatility point")


class PositionGreeksOut(GreeksOut):
    delta_per_unit: float | None = None


class PositionInputs(Schema):
    spot: float
    model: str = Field(description="Pricing model: american-qdfp, bsm, intrinsic or spot")
    strike: float | None = None
    right: str | None = None
    style: str | None = None
    expiry: str | None = None
    days_to_expiry: int | None = None
    t: float | None = Field(None, description="Years to 16:00 New York on expiry (ACT/365)")
    rate: float | None = None
    div_yield: float | None = None
    vol: float | None = Field(None, description="Volatility used (decimal)")
    vol_source: str | None = Field(
        None, description="chain_iv | chain_smile | surface_interp | chain_median | default"
    )
    bid: float | None = None
    ask: float | None = None
    mid: float | None = None
    units_per_share: float | None = None


class PositionOut(Schema):
    id: int | None
    instrument: str
    kind: str
    quantity: float
    multiplier: int
    share_equivalents: float
    cost_basis: float
    price: float | None = Field(description="Mark per unit (option: model price per share)")
    intrinsic: float | None
    value: float | None
    cost: float
    pnl: float | None
    pnl_pct: float | None
    day_change: float | None
    greeks: PositionGreeksOut
    inputs: PositionInputs


class TotalsOut(Schema):
    value: float | None
    cost: float
    pnl: float | None
    pnl_pct: float | None
    day_change: float | None
    day_change_pct: float | None
    greeks: GreeksOut


class HedgeExpiryOut(Schema):
    expiry: str
    days: int
    put_contracts: float
    hedge_ratio: float | None
    floor_value: float | None = Field(description="Lowest value at this expiry for spot ≤ today's")
    floor_pct: float | None = Field(description="Floor as % of today's portfolio value")
    floor_per_share: float | None
    floor_spot: float | None = Field(description="Spot at and below which the floor holds")
    cap_value: float | None
    cap_pct: float | None
    cap_spot: float | None


class HedgeCostOut(Schema):
    paid: float = Field(description="Net premium paid for hedge legs (long puts, short calls)")
    paid_pct: float | None = Field(description="% of the underlying position's value")
    paid_pct_per_year: float | None = Field(description="% per year over each leg's tenor")
    current_value: float | None
    time_value: float | None
    time_value_pct_per_year: float | None


class WarningOut(Schema):
    code: str
    severity: str
    message: str
    position_id: int | None


class HedgeOut(Schema):
    shares: float
    underlying_value: float | None
    put_contracts: float
    covered_shares: float
    hedge_ratio: float | None = Field(description="Long put contracts × 100 / shares")
    short_call_contracts: float
    call_cover_ratio: float | None
    floor: HedgeExpiryOut | None = Field(description="At the nearest hedge expiry")
    expiries: list[HedgeExpiryOut]
    cap_value: float | None
    cap_spot: float | None
    cost: HedgeCostOut
    nearest_expiry: str | None
    days_to_nearest_expiry: int | None
    warning_days: int
    warnings: list[WarningOut]


class MatrixOut(Schema):
    rows: list[str]
    value: list[list[float | None]]
    change: list[list[float | None]] = Field(description="Value minus today's value")
    pnl: list[list[float | None]] = Field(description="Value minus cost")


class ScenarioDate(Schema):
    label: str
    date: str


class ScenariosOut(Schema):
    spot_moves_pct: list[float]
    spots: list[float]
    vol_shifts_pts: list[float]
    dates: list[ScenarioDate]
    spot_vol: MatrixOut
    spot_date: MatrixOut
    model: str
    assumptions: str


class RealisedOut(Schema):
    lot_method: str = Field(description="fifo or average: how closes are matched to lots")
    symbol_pnl: float = Field(description="$ realised by closed lots of this symbol, after fees")
    total_pnl: float = Field(description="$ realised by closed lots of every symbol, after fees")


class PortfolioOut(Schema):
    portfolio: PortfolioRef | None
    symbol: str
    as_of: str
    market: MarketOut
    positions: list[PositionOut]
    totals: TotalsOut
    hedge: HedgeOut
    scenarios: ScenariosOut | None
    realised: RealisedOut | None = Field(
        None, description="Realised P&L from the trade ledger (null without a portfolio)"
    )
