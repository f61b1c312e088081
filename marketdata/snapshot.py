"""The market snapshot that every page, API and the publisher price from.

One place defines what a "snapshot" of a symbol's market is: the cached quote and chain from
the process-wide :class:`~market.service.MarketService`, the risk-free rate from the settings,
and the keys that identify them. Everything computed from market data (solved implied vols,
valuations, hedge candidates, serialised API bodies) is memoised under these keys, so the
dashboard and the strategies pages see a chain refresh at the same moment and never price from
two different snapshots of one chain.

Two sets of inputs come out of one snapshot, on purpose:

* :attr:`Snapshot.valuation_inputs` values held positions at the **latest quote** (spot and
  previous close move every few seconds; vols come from the chain);
* :attr:`Snapshot.chain_inputs` prices option strategies at the **spot the chain was quoted
  at**, so model prices, bids and asks and the spot they are compared with belong together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings

from market.data import MarketInputs, OptionChain, Quote
from market.service import MarketService
from market.session import chain_state, market_status
from marketdata import service

DAY_COUNT = "ACT/365 to 16:00 America/New_York on the expiry date"
STRATEGY_MODEL = "American (QdFp fixed point) for prices and Greeks; IV solved from mid quotes"


def market_service() -> MarketService:
    """The process-wide market service (tests put their own in its place)."""
    return service.get_market_service()


def chain_key(chain: OptionChain, rate: float) -> tuple[Any, ...]:
    """Identifies one chain snapshot: the memo key of everything derived from it."""
    return (
        chain.symbol,
        chain.provider,
        chain.as_of.isoformat(),
        float(chain.spot),
        len(chain),
        rate,
    )


@dataclass(frozen=True)
class Snapshot:
    """A symbol's quote and/or chain as the market service has them now, with the rate."""

    symbol: str
    rate: float
    quote: Quote | None
    chain: OptionChain | None

    @property
    def chain_key(self) -> tuple[Any, ...] | None:
        return chain_key(self.chain, self.rate) if self.chain is not None else None

    @property
    def key(self) -> tuple[Any, ...]:
        """Identifies quote and chain together (valuations depend on both)."""
        q = self.quote
        quote_part = (
            (q.as_of.isoformat(), float(q.spot), q.prev_close, bool(q.stale)) if q else None
        )
        chain_stale = bool(self.chain.stale) if self.chain is not None else None
        return (quote_part, self.chain_key, chain_stale)

    @property
    def valuation_inputs(self) -> MarketInputs:
        """Inputs for valuing held positions: the latest quote; stale if either part is."""
        q, chain = self.quote, self.chain
        if q is None:
            raise ValueError("valuation inputs need a quote")
        stale = bool(q.stale or (chain is not None and chain.stale))
        age = max(float(q.age_s), float(chain.age_s) if chain is not None else 0.0)
        return MarketInputs(
            symbol=self.symbol,
            spot=float(q.spot),
            prev_close=float(q.prev_close) if q.prev_close else None,
            rate=self.rate,
            div_yield=float(q.dividend_yield or 0.0),
            as_of=q.as_of,
            provider=str(q.provider),
            stale=stale,
            age_s=age,
            market_state=q.market_state or (chain_state(chain) if chain is not None else ""),
        )

    @property
    def chain_inputs(self) -> MarketInputs:
        """Inputs for pricing strategies from the chain: the spot it was quoted at."""
        chain = self.chain
        if chain is None:
            raise ValueError("chain inputs need a chain")
        return MarketInputs(
            symbol=chain.symbol,
            spot=float(chain.spot),
            rate=self.rate,
            div_yield=float(chain.dividend_yield or 0.0),
            as_of=chain.as_of,
            provider=str(chain.provider),
            stale=bool(chain.stale),
            age_s=float(chain.age_s),
            market_state=chain_state(chain),
        )


def load(symbol: str, *, quote: bool = True, chain: bool = True) -> Snapshot:
    """The current snapshot of ``symbol`` (a normalised symbol).

    Raises :class:`market.errors.MarketDataError` subclasses when there is no data at all; stale
    data is served (and marked) when the provider fails after a success.
    """
    svc = market_service()
    return Snapshot(
        symbol=symbol,
        rate=float(settings.RISK_FREE_RATE),
        quote=svc.quote(symbol) if quote else None,
        chain=svc.chain(symbol) if chain else None,
    )


def valuation_block(mkt: MarketInputs, chain: OptionChain | None) -> dict[str, Any]:
    """The ``market`` block of a valuation: its inputs and the data's timestamps."""
    return {
        "symbol": mkt.symbol,
        "spot": mkt.spot,
        "prev_close": mkt.prev_close,
        "rate": mkt.rate,
        "div_yield": mkt.div_yield,
        "provider": mkt.provider,
        "as_of": mkt.as_of.isoformat(),
        "chain_as_of": chain.as_of.isoformat() if chain is not None else None,
        "chain_provider": chain.provider if chain is not None else None,
        "stale": mkt.stale,
        "age_s": round(mkt.age_s, 3),
        **market_status(mkt.market_state),
    }


def chain_block(ctx: MarketInputs) -> dict[str, Any]:
    """The ``inputs`` block of the chain and strategy APIs: what reproduces their numbers."""
    return {
        "symbol": ctx.symbol,
        "spot": ctx.spot,
        "rate": ctx.rate,
        "div_yield": ctx.div_yield,
        "as_of": ctx.as_of.isoformat(),
        "provider": ctx.provider,
        "stale": ctx.stale,
        "age_s": round(ctx.age_s, 3),
        **market_status(ctx.market_state),
        "day_count": DAY_COUNT,
        "model": STRATEGY_MODEL,
    }
