"""The yfinance provider on recorded Yahoo answers, through the real yfinance library.

Only the HTTP round trip is replaced (:class:`tests.market.yahoo_http.RecordedYahoo`); yfinance
does its cookie/crumb dance, parses the JSON and swallows errors exactly as it does live. The
recorded answers and where they come from: ``fixtures/yahoo_http/README.md``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pytest

from market.analytics import analyze_chain
from market.calendar import monthly_expiry
from market.errors import InvalidSymbol, NoListedOptions, ProviderUnavailable, UnknownSymbol
from market.providers.base import Retry
from market.providers.yfinance_provider import (
    YFinanceClient,
    YFinanceProvider,
    choose_expiries,
    dividend_yield,
)
from market.session import two_sided_fraction
from tests.market.yahoo_http import (
    INVALID_CRUMB,
    TOO_MANY_REQUESTS,
    RecordedYahoo,
    recorded,
    status_for,
)

pytestmark = pytest.mark.usefixtures("yahoo")


def make(routes=None, clock=None):
    session = RecordedYahoo(routes)
    sleeps: list[float] = []
    client = YFinanceClient(timeout=20, retry=Retry(3, 0.5, sleeps.append), session=session)
    provider = YFinanceProvider(client, clock=clock)
    return provider, session, sleeps


def option_requests(session) -> list[str]:
    return session.data_requests("/v7/finance/options/")


# ---- in session --------------------------------------------------------------------------


def test_in_session_chain_one_request_per_expiry():
    provider, session, _ = make()
    chain = provider.chain("gld")
    assert chain.symbol == "GLD" and chain.provider == "yfinance" and chain.spot == 366.42
    assert chain.meta["market_state"] == "REGULAR"
    assert chain.expiries == (date(2026, 12, 4), date(2026, 12, 18), date(2027, 1, 15))
    assert chain.as_of == datetime.fromtimestamp(1795807800, tz=UTC)
    # one Ticker: the first request (no date) lists the expiries and carries the nearest one
    requests = option_requests(session)
    assert len(requests) == 3
    assert sum("date=" not in r for r in requests) == 1
    assert two_sided_fraction(chain) > 0.8
    front = chain.for_expiry(date(2026, 12, 4))
    calls, puts = front.is_call, ~front.is_call
    top = np.argmax(front.strike[calls])
    assert front.bid[calls][top] == 0.0 and front.ask[calls][top] == 0.03  # one-sided kept
    assert np.isnan(front.bid[calls][top - 1])  # no market at all
    assert np.isnan(front.bid[puts][3]) and np.isnan(front.ask[puts][3])  # crossed
    assert np.isnan(front.last[puts][5]) and chain.meta["stale_last"] == 1  # stale last trade
    solved = analyze_chain(chain, 0.04).iv_reason == ""
    assert solved.sum() > 0.7 * len(chain)


def test_in_session_quote():
    provider, _, _ = make()
    q = provider.quote("GLD")
    assert (q.spot, q.prev_close, q.bid, q.ask) == (366.42, 363.61, 366.38, 366.47)
    assert q.market_state == "REGULAR" and q.dividend_yield == 0.0


# ---- outside the session -----------------------------------------------------------------


@pytest.mark.parametrize(("symbol", "contracts", "two_sided"), [("QQQ", 180, 0), ("AAPL", 102, 1)])
def test_pre_market_chain_is_marked_and_nearly_unquoted(symbol, contracts, two_sided):
    provider, _, _ = make()
    chain = provider.chain(symbol)
    raw = recorded(f"options-{symbol}.json")["response"]["bodyJson"]["optionChain"]["result"][0]
    assert raw["quote"]["marketState"] == "PRE"
    assert chain.meta["market_state"] == "PRE"
    assert len(chain) == contracts
    assert round(two_sided_fraction(chain) * contracts) == two_sided
    # values are as of the last regular close (Friday 2025-02-21 16:00 New York)
    assert chain.as_of == datetime.fromtimestamp(raw["quote"]["regularMarketTime"], tz=UTC)
    assert chain.as_of.date() == date(2025, 2, 21)


def test_expiries_chosen_across_the_term_structure():
    provider, session, _ = make()
    provider.chain("QQQ")
    listed = recorded("options-QQQ.json")["response"]["bodyJson"]["optionChain"]["result"][0]
    listed_days = [datetime.fromtimestamp(e, tz=UTC).date() for e in listed["expirationDates"]]
    requests = option_requests(session)
    asked = {
        datetime.fromtimestamp(int(r.split("date=")[1].split("&")[0]), tz=UTC).date()
        for r in requests
        if "date=" in r
    } | {listed_days[0]}
    assert len(requests) == len(asked) == 16 < len(listed_days) == 30
    today = date(2025, 2, 21)
    assert max(asked) == max(listed_days)  # the farthest LEAPS
    assert any((d - today).days >= 365 for d in asked)
    assert sum((d - today).days <= 7 for d in asked) >= 3  # the weeklies near
    monthlies = {d for d in asked if d == monthly_expiry(d.year, d.month)}
    assert len(monthlies) >= 8 and date(2025, 3, 21) in monthlies  # then the monthlies


def test_choose_expiries_reaches_a_year_with_daily_expiries():
    today = date(2026, 1, 5)
    daily = [date.fromordinal(today.toordinal() + i) for i in range(0, 800)]
    chosen = choose_expiries(daily, today, 16)
    assert len(chosen) <= 16 and chosen == sorted(chosen)
    assert max(chosen) == daily[-1] and any((d - today).days >= 365 for d in chosen)
    assert set(daily[:5]) <= set(chosen)  # the near ones, then monthlies and LEAPS
    assert choose_expiries(daily[:10], today, 16) == daily[:10]
    assert choose_expiries([date(2025, 1, 3)], today, 16) == []  # expired


# ---- dividend yield ----------------------------------------------------------------------


def test_dividend_yield_prefers_the_current_dividend():
    provider, _, _ = make()
    chain = provider.chain("BABA")
    raw = recorded("options-BABA.json")["response"]["bodyJson"]["optionChain"]["result"][0]
    quote = raw["quote"]
    assert quote["trailingAnnualDividendYield"] == pytest.approx(0.0531, abs=1e-4)  # the trap
    assert chain.dividend_yield == pytest.approx(2 / 143.75)  # dividendRate / price = 1.39 %
    assert chain.dividend_yield == pytest.approx(quote["dividendYield"] / 100, abs=1e-4)


@pytest.mark.parametrize(
    ("info", "expected"),
    [
        ({"regularMarketPrice": 100.0, "dividendYield": 0.2}, 0.002),  # percent, even below 0.25
        ({"regularMarketPrice": 100.0, "dividendYield": 1.2}, 0.012),
        ({"regularMarketPrice": 50.0, "dividendRate": 1.0, "dividendYield": 9.0}, 0.02),
        ({"regularMarketPrice": 50.0, "trailingAnnualDividendYield": 0.05}, 0.0),
        ({"regularMarketPrice": 50.0}, 0.0),
    ],
)
def test_dividend_yield_rules(info, expected):
    assert dividend_yield(info) == pytest.approx(expected)


# ---- HTTP statuses -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body"), [(401, INVALID_CRUMB), (403, INVALID_CRUMB), (429, TOO_MANY_REQUESTS)]
)
def test_auth_and_rate_limit_answers_are_provider_unavailable_and_retried(status, body):
    provider, session, sleeps = make([status_for(status, body)])
    with pytest.raises(ProviderUnavailable, match=f"HTTP {status}"):
        provider.chain("GLD")
    assert len(sleeps) == 2  # retried with backoff (3 attempts)
    assert 0.5 <= sleeps[0] <= 0.63 and 1.0 <= sleeps[1] <= 1.26
    with pytest.raises(ProviderUnavailable):
        provider.quote("GLD")
    with pytest.raises(ProviderUnavailable):
        provider.history("GLD", 10)


def test_server_errors_are_provider_unavailable():
    provider, _, sleeps = make([status_for(503, "<html>Service Unavailable</html>")])
    with pytest.raises(ProviderUnavailable, match="HTTP 503"):
        provider.quote("GLD")
    assert len(sleeps) == 2


def test_404_is_an_unknown_symbol_and_not_retried():
    provider, session, sleeps = make()
    with pytest.raises(UnknownSymbol) as raised:
        provider.chain("ZZZZZ")
    assert not isinstance(raised.value, NoListedOptions)
    with pytest.raises(UnknownSymbol):
        provider.quote("ZZZZZ")
    assert sleeps == []
    with pytest.raises(InvalidSymbol):
        provider.quote("GLD; rm -rf")


def test_symbol_without_options_is_confirmed_with_a_quote():
    provider, session, _ = make()
    with pytest.raises(NoListedOptions, match="no listed options") as raised:
        provider.chain("EURUSD=X")
    assert "1.04899" in str(raised.value)  # the confirming quote's price
    assert session.data_requests("/v7/finance/quote")  # asked before calling it unknown


def test_empty_expiries_under_an_outage_are_not_called_unknown():
    # The options answer is empty (200) but the confirming quote fails: unavailable, not unknown.
    provider, _, _ = make([status_for(429, TOO_MANY_REQUESTS, path_part="/quote")])
    with pytest.raises(ProviderUnavailable, match="HTTP 429"):
        provider.chain("EURUSD=X")


def test_etf_whose_fundamentals_answer_404_still_quotes():
    fundamentals_404 = status_for(
        404,
        {"finance": {"result": None, "error": {"code": "Not Found", "description": "no data"}}},
        path_part="/fundamentals-timeseries/",
    )
    provider, session, sleeps = make([fundamentals_404])
    q = provider.quote("QQQ")
    assert q.spot == 538.15 and q.prev_close == 535.9 and q.market_state == "CLOSED"
    assert q.dividend_yield == pytest.approx(0.0054)
    assert session.data_requests("/v10/finance/quoteSummary/QQQ")  # answered 404 (recorded)
    assert session.data_requests("/fundamentals-timeseries/")
    assert sleeps == []


def test_history_through_the_chart_endpoint():
    provider, _, _ = make()
    h = provider.history("QQQ", 10)
    assert h.provider == "yfinance" and len(h.close) == 1  # the recording has one bar
    assert h.dates[0] == np.datetime64("2020-01-02") and h.close[0] == pytest.approx(216.16)


def test_one_ticker_per_chain_halves_the_requests():
    """Side by side on the same recording: a fresh Ticker per expiry (the old way) re-downloads
    the expiry list each time; one Ticker asks once per expiry."""
    import yfinance

    provider, ours, _ = make()
    provider.chain("QQQ")
    chosen = [r.split("date=")[1].split("&")[0] for r in option_requests(ours) if "date=" in r]

    naive = RecordedYahoo()
    by_date = {str(v): k for k, v in _expirations(yfinance.Ticker("QQQ", session=naive)).items()}
    first = min(by_date)
    for epoch in [first, *chosen]:
        yfinance.Ticker("QQQ", session=naive).option_chain(by_date[epoch])
    assert len(option_requests(ours)) == 16
    assert len(option_requests(naive)) == 1 + 2 * 16 == 33


def _expirations(ticker) -> dict[str, int]:
    ticker.options  # noqa: B018 (downloads the list)
    return dict(ticker._expirations)
