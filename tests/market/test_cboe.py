"""The CBOE delayed-quotes provider on a recorded answer (CLX, see fixtures/cboe/README.md).

Only the HTTP round trip (the ``transport``) is replaced; parsing, status mapping, retries and
the memo are the provider's own.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pytest

from market.analytics import analyze_chain
from market.errors import InvalidSymbol, ProviderUnavailable, UnknownSymbol
from market.providers.base import Retry
from market.providers.cboe import CboeClient, CboeProvider, document_url
from market.session import two_sided_fraction

FIXTURES = Path(__file__).parent / "fixtures" / "cboe"
SATURDAY = datetime(2026, 7, 25, 14, 0, tzinfo=UTC)
FRIDAY_SESSION = datetime(2026, 7, 24, 17, 0, tzinfo=UTC)  # 13:00 New York


class Transport:
    def __init__(self, *answers: tuple[int, bytes]) -> None:
        self.answers = list(answers)
        self.urls: list[str] = []

    def __call__(self, url: str, timeout: float) -> tuple[int, bytes]:
        self.urls.append(url)
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def recorded(symbol: str = "CLX") -> tuple[int, bytes]:
    return 200, (FIXTURES / f"{symbol}.json").read_bytes()


def make(*answers, clock=SATURDAY, refresh_s=30.0):
    transport = Transport(*answers)
    sleeps: list[float] = []
    client = CboeClient(transport=transport, retry=Retry(sleep=sleeps.append), refresh_s=refresh_s)
    return CboeProvider(client, clock=lambda: clock), transport, sleeps


def test_quote_from_the_recorded_document():
    provider, transport, _ = make(recorded())
    q = provider.quote("clx")
    assert (q.symbol, q.spot, q.prev_close, q.bid, q.ask) == ("CLX", 95.55, 93.8, 95.15, 95.7)
    assert q.provider == "cboe" and q.dividend_yield == 0.0
    # as of the underlying's last trade, 15:59:59 New York (EDT) on Friday 2026-07-24
    assert q.as_of == datetime(2026, 7, 24, 19, 59, 59, tzinfo=UTC)
    assert q.market_state == "CLOSED"  # a Saturday
    assert transport.urls == ["https://cdn.cboe.com/api/global/delayed_quotes/options/CLX.json"]


def test_chain_parses_occ_symbols_and_normalises_quotes():
    provider, _, _ = make(recorded(), clock=FRIDAY_SESSION)
    c = provider.chain("CLX")
    assert c.provider == "cboe" and c.meta["market_state"] == "REGULAR"
    assert c.expiries == (date(2026, 8, 21), date(2028, 1, 21)) and len(c) == 24
    assert c.meta["cboe_timestamp"] == "2026-07-25 00:43:14" and c.meta["delayed_minutes"] == 15
    aug = c.for_expiry(date(2026, 8, 21))
    puts = ~aug.is_call
    assert list(aug.strike[aug.is_call][:3]) == [55.0, 60.0, 65.0]
    assert aug.bid[puts][0] == 0.0 and aug.ask[puts][0] == 0.25  # nobody bids: kept as 0
    p115 = (aug.strike == 115.0) & puts
    assert math.isnan(aug.last[p115][0])  # never traded (last_trade_time null)
    assert aug.open_interest[(aug.strike == 90.0) & puts][0] == 8053
    assert c.meta["stale_last"] >= 1  # last trades weeks old are dropped
    assert two_sided_fraction(c) > 0.5  # after the close CBOE still carries the closing quotes


def test_our_ivs_agree_with_cboes_near_the_money():
    """An independent check of the parsing: our IV from the mid against CBOE's own IV."""
    provider, _, _ = make(recorded())
    c = provider.chain("CLX")
    a = analyze_chain(c, 0.04)
    aug = (c.expiry == np.datetime64("2026-08-21")) & (np.abs(c.strike - 95.0) < 0.1)
    cboe_iv = {True: 0.3642, False: 0.3905}  # CLX260821C00095000 / P00095000 in the recording
    ours = {}
    for is_call in (True, False):
        i = np.flatnonzero(aug & (c.is_call == is_call))[0]
        assert a.iv_reason[i] == ""
        ours[is_call] = a.iv[i]
    # Each side alone differs by a few points: CBOE's document has no dividend (we use q = 0,
    # CLX yields ~5 %) and other time/rate conventions. The call/put average cancels the
    # carry to first order, so it checks that strikes, rights and quotes were read right.
    assert abs((ours[True] + ours[False]) / 2 - (cboe_iv[True] + cboe_iv[False]) / 2) < 0.02


def test_index_documents_have_an_underscore():
    assert document_url("SPX").endswith("/options/_SPX.json")
    assert document_url("GLD").endswith("/options/GLD.json")


def test_404_is_unknown_and_not_retried():
    provider, transport, sleeps = make((404, b""))
    with pytest.raises(UnknownSymbol):
        provider.chain("ZZZZ")
    assert sleeps == [] and len(transport.urls) == 1
    with pytest.raises(InvalidSymbol):
        provider.quote("../etc")


@pytest.mark.parametrize("answer", [(403, b""), (429, b""), (503, b""), (200, b"<html>")])
def test_outages_are_unavailable_after_retries(answer):
    provider, transport, sleeps = make(answer)
    with pytest.raises(ProviderUnavailable):
        provider.quote("CLX")
    assert len(transport.urls) == 3 and len(sleeps) == 2


def test_a_transient_failure_is_retried_then_served():
    provider, transport, sleeps = make((503, b""), recorded())
    assert provider.quote("CLX").spot == 95.55 and len(sleeps) == 1


def test_quote_and_chain_share_one_download():
    provider, transport, _ = make(recorded())
    provider.quote("CLX")
    provider.chain("CLX")
    assert len(transport.urls) == 1
    provider, transport, _ = make(recorded(), refresh_s=0)
    provider.quote("CLX")
    provider.chain("CLX")
    assert len(transport.urls) == 2


def test_no_history():
    provider, _, _ = make(recorded())
    assert provider.has_history is False
    with pytest.raises(ProviderUnavailable):
        provider.history("CLX")
