"""Property-based fuzzing of every /api/* query parameter, read from the served OpenAPI schema.

Whatever a client sends, the API answers < 500; every 4xx is the JSON error shape, and a 400
names the offending field.
"""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vault_dash.api import api

pytestmark = pytest.mark.django_db


def operations() -> list[tuple[str, list[str]]]:
    schema = api.get_openapi_schema()
    found = []
    for path, item in schema["paths"].items():
        get = item.get("get")
        if get is None:
            continue
        params = [p["name"] for p in get.get("parameters", []) if p.get("in") == "query"]
        found.append((path, params))
    return found


OPERATIONS = operations()

# Values that are plausible, hostile or plain odd, for any parameter.
values = st.one_of(
    st.sampled_from(
        [
            "GLD",
            "SLV",
            "gld",
            "ZZZZ",
            "",
            " ",
            "-1",
            "0",
            "1e309",
            "NaN",
            "inf",
            "2026-13-45",
            "2099-01-01",
            "1970-01-01",
            "9" * 40,
            "../../etc/passwd",
            "<script>",
            "'; DROP TABLE",
            "%00",
            "\u202e",
            "1" * 5000,
            "true",
            "mid",
            "ask_bid",
            "[]",
            "{}",
            "0x10",
        ]
    ),
    st.text(max_size=50),
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
)


def test_schema_lists_the_api() -> None:
    paths = {path for path, _ in OPERATIONS}
    assert {"/api/portfolio", "/api/options", "/api/strategies"} <= paths


@pytest.mark.parametrize(("path", "params"), OPERATIONS, ids=[p for p, _ in OPERATIONS])
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_no_input_causes_a_server_error(client, path, params, data) -> None:
    chosen = data.draw(st.lists(st.sampled_from(params), unique=True) if params else st.just([]))
    query = {name: data.draw(values, label=name) for name in chosen}
    query = {k: v.replace("\x00", "") for k, v in query.items()}
    response = client.get(f"{path}?{urlencode(query)}")
    assert response.status_code < 500, (path, query, response.content[:500])
    if 400 <= response.status_code < 500:
        body = response.json()
        assert set(body["error"]) >= {"code", "message", "field"}, body
        if response.status_code == 400:
            assert body["error"]["field"] in params, (query, body)
