"""Retry: the providers' one retry policy (exponential backoff with up to 25 % jitter)."""

from __future__ import annotations

import pytest

from market.providers.base import Retry


def test_sleeps_double_before_each_retry_within_the_jitter():
    sleeps: list[float] = []
    assert list(Retry(4, 0.5, sleeps.append)) == [0, 1, 2, 3]
    assert len(sleeps) == 3  # none before the first try
    for slept, base in zip(sleeps, (0.5, 1.0, 2.0), strict=True):
        assert base <= slept <= 1.25 * base


@pytest.mark.parametrize("attempts", [0, -2])
def test_at_least_one_attempt_and_no_sleep(attempts):
    sleeps: list[float] = []
    assert list(Retry(attempts, 0.5, sleeps.append)) == [0]
    assert sleeps == []
