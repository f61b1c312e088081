"""Yahoo Finance's HTTP layer, played back from recorded responses, under the real yfinance.

:class:`RecordedYahoo` is the provider's own :class:`ObservedSession` (a curl_cffi session, the
kind yfinance uses) with only its network round trip replaced: yfinance, its cookie/crumb dance,
its JSON parsing and our status checks all run for real. Answers come from
``fixtures/yahoo_http`` (see the README there for where each file comes from).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from market.providers.yfinance_provider import observed_session_class

FIXTURES = Path(__file__).parent / "fixtures" / "yahoo_http"

# Yahoo's error bodies (shapes as quoted in yfinance's issue tracker; see the fixtures README).
INVALID_CRUMB = {
    "finance": {"result": None, "error": {"code": "Unauthorized", "description": "Invalid Crumb"}}
}
TOO_MANY_REQUESTS = "Too Many Requests\r\n"

Answer = tuple[int, Any]  # (HTTP status, JSON-able body or text)
Route = Callable[[str, str, dict[str, list[str]]], Answer | None]


def recorded(name: str) -> dict[str, Any]:
    """A recorded exchange: ``{"request": {...}, "response": {"status", "headers", "bodyJson"}}``."""
    return json.loads((FIXTURES / name).read_text())


def answer_of(name: str) -> Answer:
    response = recorded(name)["response"]
    body = response.get("bodyJson")
    return int(response["status"]), body if body is not None else response.get("bodyText", "")


def _response(url: str, status: int, body: Any) -> Any:
    from curl_cffi.requests import Response
    from curl_cffi.requests.headers import Headers

    r = Response()
    r.url = url
    r.status_code = status
    r.ok = status < 400
    r.reason = {200: "OK", 401: "Unauthorized", 404: "Not Found", 429: "Too Many Requests"}.get(
        status, "Error"
    )
    if isinstance(body, str):
        r.content = body.encode()
        r.headers = Headers({"content-type": "text/html;charset=utf-8"})
    else:
        r.content = json.dumps(body).encode()
        r.headers = Headers({"content-type": "application/json;charset=utf-8"})
    return r


def empty_expiry(symbol: str, date: str) -> Answer:
    """What a ``?date=`` request answers when no recording exists for that expiry: the result
    block with no contracts (yfinance then returns no frames; the chain skips that expiry)."""
    return 200, {
        "optionChain": {
            "result": [{"underlyingSymbol": symbol, "expirationDates": [int(date)], "options": []}],
            "error": None,
        }
    }


class RecordedYahoo(observed_session_class()):  # type: ignore[misc]
    """Serves Yahoo's endpoints from recordings; ``routes`` are tried first (for faults)."""

    def __init__(self, routes: list[Route] | None = None, **session_options: Any) -> None:
        super().__init__()
        self.routes = list(routes or [])
        self.requests: list[str] = []

    def _send(self, method: Any, url: str, *args: Any, **kwargs: Any) -> Any:
        params = kwargs.get("params") or {}
        full = url + ("&" if "?" in url else "?") + urlencode(params) if params else url
        self.requests.append(full)
        parts = urlsplit(full)
        query = parse_qs(parts.query)
        for route in self.routes:
            hit = route(parts.hostname or "", parts.path, query)
            if hit is not None:
                return _response(full, *hit)
        return _response(full, *self.default(parts.hostname or "", parts.path, query))

    def data_requests(self, path_part: str) -> list[str]:
        return [u for u in self.requests if path_part in u]

    @staticmethod
    def default(host: str, path: str, query: dict[str, list[str]]) -> Answer:
        if host == "fc.yahoo.com":
            return 404, ""  # Yahoo's cookie endpoint answers 404 (with the cookie)
        if "consent" in host:
            return 200, "<html><body>no consent form</body></html>"
        if path == "/v1/test/getcrumb":
            status, body = answer_of("getCrumb-getcrumb.json")
            return status, body if isinstance(body, str) else json.dumps(body)
        parts = path.strip("/").split("/")
        symbol = parts[-1] if parts else ""
        if path.startswith("/v7/finance/options/"):
            name = f"options-{symbol}.json"
            if not (FIXTURES / name).exists():
                return 404, {"finance": {"result": None, "error": {"code": "Not Found"}}}
            wanted = query.get("date", [None])[0]
            if wanted is not None and (FIXTURES / f"options-{symbol}-{wanted}.json").exists():
                return answer_of(f"options-{symbol}-{wanted}.json")
            status, body = answer_of(name)
            if wanted is not None:
                options = body["optionChain"]["result"][0].get("options") or [{}]
                if str(options[0].get("expirationDate")) != wanted:
                    return empty_expiry(symbol, wanted)
            return status, body
        if path == "/v7/finance/quote":
            symbol = query.get("symbols", [""])[0]
            name = f"quote-{symbol}.json"
            if (FIXTURES / name).exists():
                return answer_of(name)
            return 200, {"quoteResponse": {"result": [], "error": None}}
        if path.startswith("/v10/finance/quoteSummary/"):
            name = f"quoteSummary-balanceSheetHistory-{symbol}.json"
            if (FIXTURES / name).exists():
                return answer_of(name)
            return 404, {
                "quoteSummary": {
                    "result": None,
                    "error": {"code": "Not Found", "description": f"Quote not found for {symbol}"},
                }
            }
        if path.startswith("/v8/finance/chart/"):
            return answer_of(f"chart-{symbol}-2020-01-01-to-2020-01-03.json")
        return 404, {"finance": {"result": None, "error": {"code": "Not Found"}}}


def status_for(status: int, body: Any, *, path_part: str = "") -> Route:
    """A route answering every Yahoo data request (containing ``path_part``) with ``status``."""

    def route(host: str, path: str, query: dict[str, list[str]]) -> Answer | None:
        if host.startswith("query") and path != "/v1/test/getcrumb" and path_part in path:
            return status, body
        return None

    return route
