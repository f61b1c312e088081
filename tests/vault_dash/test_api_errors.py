"""Every error under /api/ is JSON ``{"error": {"code", "message", "field"}}`` (issue 13, item 9).

Django's own error pages are HTML: a 3 MB body (RequestDataTooBig), an unknown path, a method
the route does not take. Each is checked here through the whole middleware stack.
"""

from __future__ import annotations

import json

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

EVALUATE = "/api/strategies/evaluate"


def _error(response) -> dict:
    assert response["Content-Type"].startswith("application/json"), response.content[:200]
    body = json.loads(response.content)
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "field"}
    assert body["error"]["message"]
    return body["error"]


def test_oversize_json_body_is_413_json(client, settings) -> None:
    body = json.dumps({"symbol": "GLD", "legs": [], "pad": "x" * 3_000_000})
    assert len(body) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    response = client.post(EVALUATE, body, content_type="application/json")
    assert response.status_code == 413
    error = _error(response)
    assert error["code"] == "payload_too_large"
    assert str(settings.DATA_UPLOAD_MAX_MEMORY_SIZE) in error["message"]


def test_malformed_json_is_400_json(client) -> None:
    response = client.post(EVALUATE, '{"symbol": "GLD", ', content_type="application/json")
    assert response.status_code == 400
    error = _error(response)
    assert error["code"] == "invalid_json"
    assert "line 1" in error["message"]  # the decoder says where


@pytest.mark.parametrize("path", ["/api/nope", "/api/portfolio/extra", "/api/options/"])
def test_unknown_api_path_is_404_json(client, path) -> None:
    response = client.get(path)
    assert response.status_code == 404
    error = _error(response)
    assert error["code"] == "not_found"
    assert path in error["message"]


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [("post", "/api/options?symbol=GLD", "GET"), ("get", EVALUATE, "POST")],
)
def test_wrong_method_is_405_json_with_allow(client, method, path, allowed) -> None:
    response = getattr(client, method)(path)
    assert response.status_code == 405
    assert allowed in response["Allow"]
    error = _error(response)
    assert error["code"] == "method_not_allowed"
    assert allowed in error["message"]


def test_unexpected_exception_is_500_json(monkeypatch) -> None:
    from strategies import api as strategies_api

    def boom(request):
        raise RuntimeError("secret detail")

    monkeypatch.setattr(strategies_api, "ensure_allowed", boom)
    client = Client(raise_request_exception=False)
    response = client.get("/api/options?symbol=GLD")
    assert response.status_code == 500
    error = _error(response)
    assert error["code"] == "server_error"
    assert "secret detail" not in response.content.decode()


def test_view_errors_keep_their_own_code_and_field(client) -> None:
    response = client.get("/api/portfolio?symbol=gl$d")
    assert response.status_code == 400
    assert _error(response) | {"message": ""} == {
        "code": "invalid_symbol",
        "message": "",
        "field": "symbol",
    }


def test_errors_outside_the_api_stay_html(client) -> None:
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
