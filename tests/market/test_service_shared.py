"""MarketService over a cache shared by several processes: each decodes an entry once."""

from __future__ import annotations

import pickle
from collections import Counter
from datetime import UTC, datetime

import numpy as np
import pytest

from market.providers.synthetic import SyntheticProvider
from market.service import STAMP, MarketService


class SharedCache:
    """A cache as Redis is one: every value crosses it pickled, and reads are counted."""

    def __init__(self, clock) -> None:
        self.clock = clock
        self.data: dict[str, tuple[bytes, float | None]] = {}
        self.reads: Counter[str] = Counter()

    def get(self, key, default=None):
        self.reads[key] += 1
        raw, expires = self.data.get(key, (None, None))
        if raw is None or (expires is not None and self.clock() >= expires):
            return default
        return pickle.loads(raw)  # noqa: S301 - the test's own data

    def set(self, key, value, timeout=None):
        expires = None if timeout is None else self.clock() + timeout
        self.data[key] = (pickle.dumps(value), expires)


class Clock:
    def __init__(self) -> None:
        self.t = datetime(2026, 12, 2, 15, 0, tzinfo=UTC).timestamp()

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def world():
    clock = Clock()
    cache = SharedCache(clock)
    provider = SyntheticProvider(clock=lambda: datetime.fromtimestamp(clock.t, UTC))

    def process() -> MarketService:
        return MarketService(provider, cache, chain_ttl=60, quote_ttl=5, wall_clock=clock)

    return clock, cache, process


def test_a_process_decodes_a_shared_chain_once_while_its_stamp_holds(world) -> None:
    clock, cache, process = world
    fetcher, reader = process(), process()
    fetched = fetcher.chain("GLD")
    key = fetcher._key("chain", "GLD")
    cache.reads.clear()

    first = reader.chain("GLD")
    assert cache.reads[key] == 1
    np.testing.assert_array_equal(first.strike, fetched.strike)
    for _ in range(3):
        clock.t += 10
        again = reader.chain("GLD")
        # Ages move with the clock although the entry is not read again.
        assert again.age_s == pytest.approx(clock.t - fetched.as_of.timestamp(), abs=1)
    assert cache.reads[key] == 1
    assert cache.reads[key + STAMP] == 4


def test_a_newer_fetch_by_another_process_is_seen_at_once(world) -> None:
    clock, cache, process = world
    fetcher, reader = process(), process()
    fetcher.quote("GLD")
    old = reader.quote("GLD")
    clock.t += 6  # past the quote's ttl: the fetcher fetches anew
    new = fetcher.quote("GLD")
    assert new.as_of != old.as_of
    seen = reader.quote("GLD")
    assert seen.as_of == new.as_of and seen.spot == new.spot


def test_an_entry_without_its_stamp_is_still_read(world) -> None:
    _, cache, process = world
    fetcher, reader = process(), process()
    fetcher.quote("GLD")
    key = fetcher._key("quote", "GLD")
    del cache.data[key + STAMP]  # e.g. written by a release before the stamp existed
    cache.reads.clear()
    reader.quote("GLD")
    reader.quote("GLD")
    assert cache.reads[key] == 2


def test_a_shared_chain_cannot_be_changed_in_place(world) -> None:
    _, _, process = world
    fetcher, reader = process(), process()
    fetcher.chain("GLD")
    chain = reader.chain("GLD")
    with pytest.raises(ValueError, match="read-only"):
        chain.bid[0] = 0.0
