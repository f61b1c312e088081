"""The yfinance provider against recorded response fixtures (no network)."""

from __future__ import annotations

import json
from collections import namedtuple
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from market.analytics import analyze_chain
from market.errors import InvalidSymbol, ProviderUnavailable, UnknownSymbol
from market.providers.yfinance_provider import YFinanceClient, YFinanceProvider

FIXTURES = Path(__file__).parent / "fixtures" / "yfinance"
Options = namedtuple("Options", ["calls", "puts", "underlying"])


def _load(name):
    return json.loads((FIXTURES / name).read_text())


class RecordedTicker:
    """Stands in for ``yfinance.Ticker``, answering from the fixture files."""

    def __init__(self, symbol, log):
        self.symbol = symbol
        self.log = log

    @property
    def info(self):
        self.log.append(("info", self.symbol))
        return (
            _load(f"{self.symbol}_info.json")
            if (FIXTURES / f"{self.symbol}_info.json").exists()
            else _load("UNKNOWN_info.json")
        )

    @property
    def options(self):
        path = FIXTURES / f"{self.symbol}_options.json"
        return tuple(_load(path.name)) if path.exists() else ()

    def option_chain(self, expiry):
        self.log.append(("chain", expiry))
        raw = _load(f"{self.symbol}_chain_{expiry}.json")

        def frame(records):
            df = pd.DataFrame.from_records(records)
            df["lastTradeDate"] = pd.to_datetime(df["lastTradeDate"], utc=True)
            return df

        return Options(frame(raw["calls"]), frame(raw["puts"]), raw["underlying"])

    def history(self, period, interval, auto_adjust):
        raw = _load(f"{self.symbol}_history.json")
        idx = pd.DatetimeIndex(pd.to_datetime(raw["index"])).tz_localize("America/New_York")
        return pd.DataFrame({"Close": raw["Close"]}, index=idx)


@pytest.fixture
def provider():
    log: list = []
    client = YFinanceClient(
        timeout=5, sleep=lambda s: None, ticker_factory=lambda s: RecordedTicker(s, log)
    )
    p = YFinanceProvider(client, clock=lambda: datetime(2026, 11, 27, 20, 0, tzinfo=UTC))
    p.log = log  # type: ignore[attr-defined]
    return p


def test_quote_maps_info(provider):
    q = provider.quote("gld")
    assert q.symbol == "GLD" and q.spot == 366.42 and q.prev_close == 363.61
    assert q.bid == 366.38 and q.ask == 366.47 and q.provider == "yfinance"
    assert q.as_of == datetime.fromtimestamp(1795807800, tz=UTC) and q.dividend_yield == 0.0


def test_chain_normalises_defects(provider):
    c = provider.chain("GLD")
    assert c.expiries == (date(2026, 12, 4), date(2026, 12, 18), date(2027, 1, 15))
    assert c.spot == 366.42 and c.meta["stale_last"] == 1
    front = c.for_expiry(date(2026, 12, 4))
    calls = front.is_call
    k_calls = front.strike[calls]
    # one-sided quote kept with a zero bid; no-market quote -> nan; crossed -> nan
    top = np.argmax(k_calls)
    assert front.bid[calls][top] == 0.0 and front.ask[calls][top] == 0.03
    assert np.isnan(front.bid[calls][top - 1]) and np.isnan(front.ask[calls][top - 1])
    puts = ~front.is_call
    assert np.isnan(front.bid[puts][0]) and np.isnan(front.last[puts][0])
    assert front.volume[puts][0] == 0 and front.open_interest[puts][0] == 0
    assert np.isnan(front.bid[puts][3]) and np.isnan(front.ask[puts][3])  # crossed market
    assert np.isnan(front.last[puts][5])  # stale last trade dropped
    assert np.isnan(front.bid[puts][6])
    assert np.all(np.isnan(c.bid) | (c.bid <= c.ask))


def test_chain_analytics_on_recorded_data(provider):
    c = provider.chain("GLD")
    a = analyze_chain(c, 0.04)
    solved = a.iv_reason == ""
    assert solved.sum() > 0.7 * len(c)
    assert np.all((a.iv[solved] > 0.1) & (a.iv[solved] < 0.4))
    assert set(a.iv_reason) <= {"", "no_price", "below_intrinsic"}


def test_history(provider):
    h = provider.history("GLD", 10)
    assert len(h.close) == 9  # the null close is dropped
    assert h.close[-1] == 366.42 and h.dates[-1] == np.datetime64("2026-11-27")


def test_unknown_and_invalid_symbols(provider):
    with pytest.raises(UnknownSymbol):
        provider.quote("ZZZZZ")
    with pytest.raises(UnknownSymbol):
        provider.chain("ZZZZZ")
    with pytest.raises(InvalidSymbol):
        provider.quote("GLD; rm -rf")


def test_retries_with_backoff_then_succeeds():
    sleeps: list[float] = []
    attempts = []

    class Flaky:
        def __init__(self, symbol):
            pass

        @property
        def info(self):
            attempts.append(1)
            if len(attempts) < 3:
                raise ConnectionError("HTTP 502")
            return _load("GLD_info.json")

    client = YFinanceClient(retries=3, backoff=0.5, sleep=sleeps.append, ticker_factory=Flaky)
    assert YFinanceProvider(client).quote("GLD").spot == 366.42
    assert len(sleeps) == 2 and 0.5 <= sleeps[0] <= 0.63 and 1.0 <= sleeps[1] <= 1.26


def test_timeouts_and_persistent_failures_become_provider_unavailable():
    import threading

    release = threading.Event()

    class Hangs:
        def __init__(self, symbol):
            pass

        @property
        def info(self):
            release.wait(5)
            return {}

    client = YFinanceClient(timeout=0.05, retries=2, sleep=lambda s: None, ticker_factory=Hangs)
    with pytest.raises(ProviderUnavailable, match="timed out"):
        YFinanceProvider(client).quote("GLD")
    release.set()

    class Broken:
        def __init__(self, symbol):
            pass

        @property
        def options(self):
            raise ValueError("Expecting value: line 1 column 1 (char 0)")

    client = YFinanceClient(retries=2, sleep=lambda s: None, ticker_factory=Broken)
    with pytest.raises(ProviderUnavailable, match="Expecting value"):
        YFinanceProvider(client).chain("GLD")


def test_not_found_answers_are_unknown_symbols_not_retried():
    calls = []

    class NotFound:
        def __init__(self, symbol):
            pass

        @property
        def info(self):
            calls.append(1)
            raise RuntimeError("HTTP Error 404: Quote not found for symbol: ZZZZ")

    client = YFinanceClient(retries=3, sleep=lambda s: None, ticker_factory=NotFound)
    with pytest.raises(UnknownSymbol):
        YFinanceProvider(client).quote("ZZZZ")
    assert len(calls) == 1
