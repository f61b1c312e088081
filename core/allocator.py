"""Tune glibc's malloc for a long-running server whose RSS must not creep.

Two glibc behaviours kept freed memory from going back to the operating system:

* The mmap threshold. glibc serves blocks of at least ``M_MMAP_THRESHOLD`` bytes (128 KiB at
  start) with their own ``mmap`` and unmaps them on free. But each time such a block is freed it
  raises the threshold to that block's size (up to 32 MiB), and the trim threshold to twice
  that: from then on blocks of that size come from the heap, whose freed space is kept for
  reuse and fragments. Every chain refresh allocates and frees numpy arrays of a few hundred
  KiB to a few MiB (the chain's implied vols and Greeks), so RSS climbed 3–8 MiB per refresh.
  Setting both thresholds explicitly turns the adjustment off.
* Arenas. Each new thread gets its own malloc arena, up to eight per core, and memory freed in
  one arena serves only that arena's threads. Under daphne every request runs in a fresh thread
  (Django's ``ThreadSensitiveContext``), so a refresh's temporaries land in a different arena
  each time. Two arenas are plenty: Python code holds the GIL while it allocates.

Measured in docs/reliability.md ("Memory") and ``python -m bench memory``, which runs with and
without these settings side by side.

The long-running processes (``vault_dash.asgi``, ``vault_dash.wsgi``, ``run_publisher``) call
:func:`tune_allocator` before serving. An operator's ``MALLOC_MMAP_THRESHOLD_`` or
``MALLOC_ARENA_MAX`` in the environment (read by glibc at start-up) wins; on a C library
without ``mallopt`` (musl's is a no-op, macOS has none) nothing happens.
"""

from __future__ import annotations

import ctypes
import os
import sys

# From glibc's <malloc.h>.
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
DEFAULT_THRESHOLD = 128 * 1024  # glibc's starting value for both thresholds
ARENA_MAX = 2


def tune_allocator(threshold: int = DEFAULT_THRESHOLD, arena_max: int = ARENA_MAX) -> bool:
    """Fix the mmap and trim thresholds (bytes) and cap the arenas; True when glibc took them."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    accepted = True
    if "MALLOC_MMAP_THRESHOLD_" not in os.environ:
        accepted &= bool(mallopt(M_MMAP_THRESHOLD, threshold))
        accepted &= bool(mallopt(M_TRIM_THRESHOLD, threshold))
    if "MALLOC_ARENA_MAX" not in os.environ:
        accepted &= bool(mallopt(M_ARENA_MAX, arena_max))
    return accepted
