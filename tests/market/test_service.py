"""MarketService: caching, stale fallback with age, circuit breaker, health."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from market.data import Quote
from market.errors import CircuitOpen, InvalidSymbol, ProviderUnavailable, UnknownSymbol
from market.providers.synthetic import SyntheticProvider
from market.service import CLOSED, HALF_OPEN, OPEN, MarketService
from tests.support.market import Clock, DictCache, clocked_service


class FlakyProvider:
    name = "flaky"

    def __init__(self) -> None:
        self.calls = 0
        self.fail = False
        self.spot = 100.0

    def quote(self, symbol):
        self.calls += 1
        if symbol == "NOPE":
            raise UnknownSymbol("no such symbol")
        if self.fail:
            raise TimeoutError("provider timed out")
        return Quote(symbol, self.spot, 99.0, None, None, datetime.now(UTC), self.name)

    def chain(self, symbol):
        raise ProviderUnavailable("no chains here")

    def history(self, symbol, days=30):
        raise ProviderUnavailable("no history")


@pytest.fixture
def setup():
    clock = Clock()
    prov = FlakyProvider()
    svc = clocked_service(prov, clock, chain_ttl=60, quote_ttl=5)
    return clock, prov, svc


def test_quotes_are_cached_for_their_ttl(setup):
    clock, prov, svc = setup
    assert svc.quote("gld").spot == 100.0 and prov.calls == 1
    prov.spot = 101.0
    clock.t += 4
    q = svc.quote("GLD")
    assert q.spot == 100.0 and prov.calls == 1 and not q.stale and q.age_s == pytest.approx(4)
    clock.t += 2
    assert svc.quote("GLD").spot == 101.0 and prov.calls == 2


def test_failure_serves_last_good_value_as_stale_with_age(setup):
    clock, prov, svc = setup
    svc.quote("GLD")
    prov.fail = True
    clock.t += 65
    q = svc.quote("GLD")
    assert q.stale and q.age_s == pytest.approx(65) and q.spot == 100.0
    h = svc.health()
    assert h["ok"] is False and h["stale"] is True and h["stale_age_s"] == pytest.approx(65)
    assert "timed out" in h["last_error"]


def test_failure_without_fallback_raises_provider_unavailable(setup):
    _, prov, svc = setup
    prov.fail = True
    with pytest.raises(ProviderUnavailable):
        svc.quote("GLD")


def test_circuit_breaker_opens_half_opens_and_closes(setup):
    clock, prov, svc = setup
    svc.quote("GLD")
    prov.fail = True
    for _ in range(3):
        clock.t += 10
        assert svc.quote("GLD").stale
    assert svc.breaker.state == OPEN and prov.calls == 4
    clock.t += 10
    assert svc.quote("GLD").stale and prov.calls == 4  # open: provider not called
    assert svc.health()["breaker"] == OPEN and svc.health()["ok"] is False
    clock.t += 25  # > reset_timeout since opening
    assert svc.breaker.state == HALF_OPEN
    assert svc.quote("GLD").stale and prov.calls == 5  # one trial call, failed
    assert svc.breaker.state == OPEN
    clock.t += 31
    prov.fail = False
    prov.spot = 105.0
    q = svc.quote("GLD")
    assert not q.stale and q.spot == 105.0 and svc.breaker.state == CLOSED
    h = svc.health()
    assert h["ok"] is True and h["breaker"] == CLOSED and h["consecutive_failures"] == 0


def test_open_breaker_without_fallback_raises_circuit_open(setup):
    clock, prov, svc = setup
    prov.fail = True
    for _ in range(3):
        with pytest.raises(ProviderUnavailable):
            svc.quote("SLV")
    with pytest.raises(CircuitOpen):
        svc.quote("SLV")
    assert prov.calls == 3


def test_input_errors_do_not_trip_the_breaker(setup):
    _, prov, svc = setup
    for _ in range(5):
        with pytest.raises(UnknownSymbol):
            svc.quote("NOPE")
        with pytest.raises(InvalidSymbol):
            svc.quote("bad symbol!")
    assert svc.breaker.state == CLOSED


def test_health_probe_and_shape():
    clock = Clock()
    svc = MarketService(
        SyntheticProvider(seed=3), DictCache(clock), probe_symbol="GLD", wall_clock=clock
    )
    h = svc.health()
    assert h["ok"] is True and h["provider"] == "synthetic" and h["breaker"] == CLOSED
    assert h["last_success"] is not None and h["stale"] is False
    assert svc.chain("GLD").provider == "synthetic"


def test_broken_cache_is_tolerated(setup):
    class Broken:
        def get(self, *a, **k):
            raise ConnectionError("cache down")

        def set(self, *a, **k):
            raise ConnectionError("cache down")

    clock, prov, _ = setup
    svc = MarketService(prov, Broken(), wall_clock=clock, monotonic=clock)
    assert svc.quote("GLD").spot == 100.0
    prov.fail = True
    assert svc.quote("GLD").stale  # falls back to the in-process copy


def test_analytics_are_memoised_per_chain_snapshot():
    clock = Clock()
    svc = MarketService(SyntheticProvider(seed=3), DictCache(clock), chain_ttl=60, wall_clock=clock)
    chain, a = svc.analytics("GLD", 0.04)
    chain2, a2 = svc.analytics("GLD", 0.04)
    assert a2 is a and len(a.iv) == len(chain)
    assert svc.analytics("GLD", 0.05)[1] is not a


def test_health_probe_never_blocks_long_on_a_hanging_provider():
    import threading
    import time as _time

    release = threading.Event()

    class Hangs(FlakyProvider):
        def quote(self, symbol):
            self.calls += 1
            release.wait(5)
            raise TimeoutError("too slow")

    prov = Hangs()
    svc = MarketService(prov, None, probe_symbol="GLD", probe_timeout=0.2)
    start = _time.monotonic()
    h = svc.health()
    h2 = svc.health()
    assert _time.monotonic() - start < 3.0  # two probes of 0.2 s each, never the 5 s hang
    assert h["ok"] is False and "still running" in h["last_error"]
    assert h2["ok"] is False and prov.calls == 1  # the running probe is not started twice
    release.set()


class SlowProvider(FlakyProvider):
    """Counts calls and holds each one until released, so threads pile up behind it."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()

    def quote(self, symbol):
        self.entered.set()
        assert self.release.wait(5)
        return super().quote(symbol)


def test_concurrent_misses_fetch_once():
    clock = Clock()
    prov = SlowProvider()
    svc = clocked_service(prov, clock, quote_ttl=5)
    with ThreadPoolExecutor(max_workers=12) as pool:
        first = pool.submit(svc.quote, "GLD")
        assert prov.entered.wait(5)
        others = [pool.submit(svc.quote, "GLD") for _ in range(11)]
        prov.release.set()
        quotes = [first.result(5)] + [f.result(5) for f in others]
    assert prov.calls == 1
    assert {q.spot for q in quotes} == {100.0} and not any(q.stale for q in quotes)
    clock.t += 6  # expired: the next miss fetches again
    svc.quote("GLD")
    assert prov.calls == 2


def test_waiters_behind_a_failing_fetch_fall_back_without_queueing_more_calls():
    clock = Clock()
    prov = SlowProvider()
    prov.release.set()
    svc = clocked_service(prov, clock, quote_ttl=5)
    svc.quote("GLD")  # a last good value
    clock.t += 6
    prov.fail, prov.calls = True, 0
    prov.entered.clear()
    prov.release.clear()
    with ThreadPoolExecutor(max_workers=6) as pool:
        first = pool.submit(svc.quote, "GLD")
        assert prov.entered.wait(5)
        others = [pool.submit(svc.quote, "GLD") for _ in range(5)]
        deadline = time.monotonic() + 5
        while svc._fetching.waiting(svc._key("quote", "GLD")) < 6:  # all queued behind it
            assert time.monotonic() < deadline
            time.sleep(0.01)
        prov.release.set()
        quotes = [first.result(5)] + [f.result(5) for f in others]
    assert prov.calls == 1  # one timeout, not six in a row
    assert all(q.stale and q.spot == 100.0 for q in quotes)
