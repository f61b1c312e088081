"""Put a market service of the test's own in place of the process-wide one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from marketdata import service as marketdata


@contextmanager
def use_market_service(service: Any) -> Iterator[Any]:
    """Every caller of the process-wide service gets ``service`` until the block ends.

    The memos of computed results are cleared on the way in and out, so no result computed
    from another market leaks into or out of the block.
    """
    from portfolio.services import clear_memos as clear_portfolio
    from strategies import ranked
    from strategies import services as strategies

    def clear_memos() -> None:
        clear_portfolio()
        for memo in (strategies._solved, strategies._bodies, ranked._evaluated, ranked._bodies):
            memo.clear()

    saved = marketdata._service
    marketdata._service = service
    clear_memos()
    try:
        yield service
    finally:
        marketdata._service = saved
        clear_memos()
