"""Shared fixtures: real services (PostgreSQL, Redis) and a served app in a subprocess.

A test that needs a service asks for its fixture. When the service is unreachable the test is
skipped, unless ``VAULT_REQUIRE_SERVICES=1`` (set by ``.ci/run``), where it fails instead.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest

from tests.support import services
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, chromium_problem
from tests.support.server import AppServer, run_app_server


def _require(name: str, problem: str | None) -> None:
    if problem is None:
        return
    message = f"{name} is not reachable: {problem}"
    if services.REQUIRE_SERVICES:
        pytest.fail(f"{message} (VAULT_REQUIRE_SERVICES=1)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def redis_url() -> str:
    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    _require("Redis", services.redis_problem(url))
    return url


@pytest.fixture(scope="session")
def postgres_url() -> str:
    url = os.environ.get("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    _require("PostgreSQL", services.postgres_problem(url))
    return url


@pytest.fixture
def concurrent_db(transactional_db: None) -> None:
    """Database access for transactions that really run at once: PostgreSQL only (SQLite
    serialises whole transactions), so these tests run in the PostgreSQL pass."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("concurrent transactions: run in the PostgreSQL pass (DATABASE_URL)")


@pytest.fixture
def scratch_db(postgres_url: str) -> Iterator[str]:
    """A new, empty PostgreSQL database of the test's own (dropped after it): its URL."""
    from tests.support.postgres import scratch_database

    with scratch_database(postgres_url, f"vault_test_{secrets.token_hex(4)}") as url:
        yield url


@pytest.fixture
def app_server(tmp_path) -> Iterator[AppServer]:
    """The app served by daphne on a free loopback port, embedded defaults, its own data dir."""
    with run_app_server({"DATA_DIR": str(tmp_path / "data")}) as server:
        yield server


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium for the browser tests (required, not skipped, under CI).

    Module-scoped: Playwright's sync API runs an event loop of its own, which must be gone
    before the asyncio tests of other modules run.
    """
    _require("Chromium", chromium_problem())
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def fake_market(monkeypatch):
    """The deterministic QuantLib-checked market of tests/portfolio/fakes.py in place of the
    process-wide market service, with the computed-result memos cleared around the test."""
    from portfolio import services
    from tests.portfolio.fakes import FakeMarket

    market = FakeMarket()
    monkeypatch.setattr("marketdata.service.get_market_service", lambda: market)
    services.clear_memos()
    yield market
    services.clear_memos()
