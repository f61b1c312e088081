"""Start-up warm-up (issue 16): the first page of a fresh process finds its work done, and a
provider that is down or hangs never keeps the server from starting."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from market.data import OptionChain, Quote
from market.errors import ProviderUnavailable
from market.providers.synthetic import SyntheticProvider
from market.service import MarketService
from strategies import services as strategies
from tests.support.market import DictCache, use_market_service
from tests.support.server import app_env, run_python
from vault_dash import warmup


class CountingProvider(SyntheticProvider):
    """The synthetic market, counting calls; ``hang`` blocks every call until released."""

    def __init__(self, *, fail: bool = False, hang: bool = False) -> None:
        super().__init__(seed=5)
        self.calls = 0
        self.fail = fail
        self.released = threading.Event()
        if not hang:
            self.released.set()

    def _called(self) -> None:
        self.calls += 1
        self.released.wait(30)
        if self.fail:
            raise ProviderUnavailable("provider down for the test")

    def quote(self, symbol: str) -> Quote:
        self._called()
        return super().quote(symbol)

    def chain(self, symbol: str) -> OptionChain:
        self._called()
        return super().chain(symbol)


def _service(provider: CountingProvider) -> MarketService:
    return MarketService(provider, DictCache(), chain_ttl=300, quote_ttl=300)


def test_warm_up_fetches_and_solves_the_default_chain_once(settings, monkeypatch) -> None:
    settings.DEFAULT_SYMBOL = "GLD"
    provider = CountingProvider()
    with use_market_service(_service(provider)):
        assert len(strategies._solved) == 0
        assert warmup.warm_up(timeout_s=30) is True
        assert provider.calls == 2  # one quote, one chain
        assert len(strategies._solved) == 1

        def no_second_solve(*args: object) -> None:
            raise AssertionError("the chain was solved again")

        # The first page's market load is now a memo hit: no provider call, no solve.
        monkeypatch.setattr(strategies.chainlib, "solve_chain", no_second_solve)
        market = strategies.load_market("GLD")
        assert provider.calls == 2
        assert strategies._solved.get("GLD", market.key) is market.solved


def test_warm_up_compiles_every_page_template_and_names_a_missing_one(caplog) -> None:
    # Every name in the list exists (a renamed page template would silently go cold).
    assert warmup.compile_templates() == len(warmup.PAGE_TEMPLATES)
    with caplog.at_level(logging.WARNING, "vault_dash"):
        assert warmup.compile_templates(("base.html", "portfolio/gone.html")) == 1
    assert "warm-up: template portfolio/gone.html does not exist" in caplog.text


def test_a_provider_that_is_down_does_not_stop_the_start(settings, caplog) -> None:
    settings.DEFAULT_SYMBOL = "GLD"
    provider = CountingProvider(fail=True)
    with use_market_service(_service(provider)), caplog.at_level(logging.WARNING, "vault_dash"):
        assert warmup.warm_up(timeout_s=30) is False
    assert "GLD market data unavailable (provider down for the test)" in caplog.text


def test_a_provider_that_hangs_is_waited_for_at_most_the_timeout(settings, caplog) -> None:
    settings.DEFAULT_SYMBOL = "GLD"
    provider = CountingProvider(hang=True)
    with use_market_service(_service(provider)), caplog.at_level(logging.WARNING, "vault_dash"):
        start = time.perf_counter()
        try:
            assert warmup.warm_up(timeout_s=0.3) is False
            assert time.perf_counter() - start < 5
        finally:
            provider.released.set()
    assert "GLD market data not ready after" in caplog.text


@pytest.mark.parametrize("raw", ["soon", "-1", "nan", "inf", "601"])
def test_serve_refuses_a_bad_warm_up_timeout_in_one_line(raw: str, tmp_path) -> None:
    env = app_env({"WARMUP_TIMEOUT_S": raw, "SKIP_MIGRATIONS": "1", "DATA_DIR": str(tmp_path)})
    done = run_python(env, "-m", "deploy.serve", check=False, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"WARMUP_TIMEOUT_S must be a number of seconds from 0 to 600, not {raw!r}"
    ]
