"""KeyedLock: one lock per key, exclusive per key, independent across keys, nothing left over."""

from __future__ import annotations

import contextlib
import threading
import time

from market.keyedlock import KeyedLock


def test_same_key_is_exclusive_and_other_keys_are_not_blocked() -> None:
    locks = KeyedLock()
    inside: list[str] = []
    overlap: list[bool] = []
    entered = threading.Event()

    def hold(key: str, seconds: float) -> None:
        with locks.hold(key):
            overlap.append(key in inside)
            inside.append(key)
            entered.set()
            time.sleep(seconds)
            inside.remove(key)

    holder = threading.Thread(target=hold, args=("GLD", 0.3))
    holder.start()
    assert entered.wait(5)
    t0 = time.monotonic()
    with locks.hold("SLV"):  # another key: not blocked by the holder of GLD
        other_key_wait = time.monotonic() - t0
    same = threading.Thread(target=hold, args=("GLD", 0.0))
    same.start()
    holder.join()
    same.join()
    assert other_key_wait < 0.2
    assert overlap == [False, False]  # the second GLD holder never ran beside the first
    assert len(locks) == 0


def test_lock_is_released_when_the_body_raises() -> None:
    locks = KeyedLock()
    with contextlib.suppress(ValueError), locks.hold("GLD"):
        raise ValueError("boom")
    assert len(locks) == 0
    done = threading.Event()

    def take_again() -> None:
        with locks.hold("GLD"):
            done.set()

    threading.Thread(target=take_again, daemon=True).start()
    assert done.wait(2)
