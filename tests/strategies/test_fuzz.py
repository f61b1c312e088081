"""No query string, however odd, makes the options/strategies endpoints or pages answer 5xx."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.django_db

VALUES = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        [
            "",
            "0",
            "-1",
            "1e309",
            "nan",
            "inf",
            "2025-07-18",
            "2025-02-30",
            "GLD",
            "mid",
            "ask_bid",
            "floor",
            "9" * 30,
            "<b>",
            "ZZZ",
            "1.5",
        ]
    ),
)
PARAMS = [
    "symbol",
    "expiry",
    "min_oi",
    "max_spread_pct",
    "portfolio",
    "max_cost_pct",
    "min_floor_pct",
    "price",
    "rank",
    "candidate",
    "days",
    "iv_shift",
    "selected",
    "compare",
    "side",
    "right",
    "strike",
    "qty",
    "add",
    "remove",
    "panel",
    "limit",
]
URLS = [
    "/api/options",
    "/api/strategies",
    "/api/strategies/payoff",
    "/options/",
    "/strategies/",
    "/strategies/builder/",
    "/strategies/adopt/",
]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    url=st.sampled_from(URLS), query=st.dictionaries(st.sampled_from(PARAMS), VALUES, max_size=5)
)
def test_no_5xx(client, fake_market, url, query) -> None:
    r = client.get(url, query)
    assert r.status_code < 500, (url, query, r.content[:300])
