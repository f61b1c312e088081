"""The live providers on recorded answers, with switches for outages and the session state."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from market.providers.base import Retry
from market.providers.cboe import CboeClient, CboeProvider
from market.providers.yfinance_provider import YFinanceClient, YFinanceProvider
from tests.market.yahoo_http import Answer, RecordedYahoo, answer_of

CBOE_FIXTURES = Path(__file__).parent / "fixtures" / "cboe"


class Switch:
    """``down``: every Yahoo data request answers 503. ``pre_market``: GLD's answers look the
    way Yahoo sends them before the open (marketState PRE, bid = ask = 0 on every contract, as
    in the recorded QQQ/AAPL pre-market chains)."""

    def __init__(self) -> None:
        self.down = False
        self.pre_market = False

    def route(self, host: str, path: str, query: dict[str, list[str]]) -> Answer | None:
        if not host.startswith("query") or path == "/v1/test/getcrumb":
            return None
        if self.down:
            return 503, "<html><body>Service Unavailable</body></html>"
        if self.pre_market and path == "/v7/finance/options/GLD":
            date = query.get("date", [None])[0]
            name = (
                "options-GLD.json" if date in (None, "1796342400") else f"options-GLD-{date}.json"
            )
            return 200, pre_market(answer_of(name)[1])
        return None


def pre_market(body: dict[str, Any]) -> dict[str, Any]:
    body = copy.deepcopy(body)
    result = body["optionChain"]["result"][0]
    result["quote"]["marketState"] = "PRE"
    for options in result.get("options", []):
        for contract in options["calls"] + options["puts"]:
            contract["bid"] = contract["ask"] = 0.0
    return body


def yahoo(switch: Switch) -> tuple[YFinanceProvider, RecordedYahoo]:
    session = RecordedYahoo([switch.route])
    client = YFinanceClient(timeout=20, retry=Retry(2, 0.0, lambda s: None), session=session)
    return YFinanceProvider(client), session


class CboeTransport:
    def __init__(self, symbol: str = "GLD") -> None:
        self.body = (CBOE_FIXTURES / f"{symbol}.json").read_bytes()
        self.down = False
        self.calls = 0

    def __call__(self, url: str, timeout: float) -> tuple[int, bytes]:
        self.calls += 1
        return (503, b"") if self.down else (200, self.body)


def cboe(transport: CboeTransport | None = None) -> tuple[CboeProvider, CboeTransport]:
    transport = transport or CboeTransport()
    client = CboeClient(transport=transport, retry=Retry(1, sleep=lambda s: None), refresh_s=0)
    return CboeProvider(client), transport
