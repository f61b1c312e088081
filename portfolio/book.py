"""The whole book across symbols: each held symbol valued on its own, then added up.

Values are in the portfolio's currency (every listed symbol here is quoted in USD). A symbol
whose market data is unavailable is shown with its error and the total says it is incomplete,
rather than counting it as zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from market.errors import MarketDataError
from portfolio import ledger, services
from portfolio.models import Portfolio

SUMMED = ("value", "cost", "pnl", "day_change")


@dataclass
class SymbolSection:
    symbol: str
    positions: int = 0
    totals: dict[str, float] = field(default_factory=dict)
    realised: float = 0.0
    error: str = ""


@dataclass
class BookSummary:
    sections: list[SymbolSection]
    total: dict[str, float]
    realised_total: float
    complete: bool
    default_symbol_held: bool


def held_symbols(portfolio: Portfolio) -> list[str]:
    symbols = set(portfolio.open_positions().values_list("symbol", flat=True))
    # The portfolio's own symbol first, then the others alphabetically.
    return sorted(symbols, key=lambda s: (s != portfolio.default_symbol, s))


def summarise(portfolio: Portfolio) -> BookSummary:
    realised = ledger.realised_block(portfolio, portfolio.default_symbol)
    by_symbol = ledger.realised_by_symbol(portfolio)
    sections: list[SymbolSection] = []
    total = dict.fromkeys(SUMMED, 0.0)
    complete = True
    for symbol in held_symbols(portfolio):
        section = SymbolSection(symbol, realised=float(by_symbol.get(symbol, 0)))
        try:
            result = services.value_portfolio(portfolio, symbol, with_scenarios=False)
        except MarketDataError as exc:
            section.error = f"market data unavailable: {exc}"
            complete = False
        else:
            section.positions = len(result["positions"])
            section.totals = {k: float(result["totals"].get(k) or 0.0) for k in SUMMED}
            for k in SUMMED:
                total[k] += section.totals[k]
        sections.append(section)
    return BookSummary(
        sections=sections,
        total=total,
        realised_total=realised["total_pnl"],
        complete=complete,
        default_symbol_held=any(s.symbol == portfolio.default_symbol for s in sections),
    )
