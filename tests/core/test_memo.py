"""The per-process memos: LRU order and bound, snapshot-scoped eviction."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from core.memo import LRU, SnapshotMemo


def test_lru_evicts_the_least_recently_used() -> None:
    memo = LRU(2)
    memo.put("a", 1)
    memo.put("b", 2)
    assert memo.get("a") == 1  # "a" is now the most recent
    memo.put("c", 3)
    assert memo.get("b") is None
    assert (memo.get("a"), memo.get("c"), len(memo)) == (1, 3, 2)


def test_snapshot_memo_serves_only_the_current_snapshot() -> None:
    memo = SnapshotMemo(per_snapshot=4)
    memo.put("GLD", "chain-1", ("2027-01-15", None), b"old")
    assert memo.get("GLD", "chain-1", ("2027-01-15", None)) == b"old"
    memo.put("GLD", "chain-2", ("2027-01-15", None), b"new")
    assert memo.get("GLD", "chain-1", ("2027-01-15", None)) is None
    assert memo.get("GLD", "chain-2", ("2027-01-15", None)) == b"new"
    assert len(memo) == 1  # the older snapshot's entries were dropped, not kept until evicted


def test_snapshot_memo_keeps_scopes_apart_and_bounded() -> None:
    memo = SnapshotMemo(per_snapshot=2, scopes=2)
    memo.put("GLD", 1, "a", "gld-a")
    memo.put("SLV", 7, "a", "slv-a")
    assert memo.get("GLD", 1, "a") == "gld-a"
    assert memo.get("SLV", 7, "a") == "slv-a"
    for key in "bcd":
        memo.put("GLD", 1, key, key)
    assert memo.get("GLD", 1, "a") is None  # per-snapshot bound
    memo.put("IAU", 3, "a", "iau-a")  # third scope: the least recently used (SLV) goes
    assert memo.get("SLV", 7, "a") is None
    assert len(memo) == 3


def test_many_refreshes_leave_one_snapshot_per_scope() -> None:
    memo = SnapshotMemo(per_snapshot=64)
    for refresh in range(500):
        for variant in range(10):
            memo.put("GLD", refresh, variant, bytes(100))
    assert len(memo) == 10


def test_snapshot_memo_is_safe_across_threads() -> None:
    memo = SnapshotMemo(per_snapshot=8)
    errors: list[BaseException] = []

    def hammer(offset: int) -> None:
        try:
            for i in range(2000):
                snapshot = (i + offset) // 50
                memo.put("GLD", snapshot, i % 8, i)
                memo.get("GLD", snapshot, i % 8)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=hammer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(memo) <= 8


def test_concurrent_misses_compute_once() -> None:
    memo = SnapshotMemo(per_snapshot=4)
    calls: list[int] = []
    started, release = threading.Event(), threading.Event()

    def compute() -> str:
        calls.append(1)
        started.set()
        assert release.wait(5)
        return "valued"

    with ThreadPoolExecutor(max_workers=16) as pool:
        first = pool.submit(memo.get_or_compute, "GLD", "tick-1", "demo", compute)
        assert started.wait(5)
        rest = [
            pool.submit(memo.get_or_compute, "GLD", "tick-1", "demo", compute) for _ in range(15)
        ]
        release.set()
        results = [first.result(5)] + [f.result(5) for f in rest]
    assert results == ["valued"] * 16
    assert len(calls) == 1
    assert len(memo._flights) == 0  # no lock left behind


def test_a_failed_compute_raises_for_its_caller_and_the_next_one_retries() -> None:
    memo = SnapshotMemo(per_snapshot=4)
    attempts: list[int] = []

    def flaky() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("provider hiccup")
        return "ok"

    with pytest.raises(RuntimeError):
        memo.get_or_compute("GLD", 1, "k", flaky)
    assert memo.get_or_compute("GLD", 1, "k", flaky) == "ok"
    assert memo.get_or_compute("GLD", 1, "k", flaky) == "ok"
    assert len(attempts) == 2
