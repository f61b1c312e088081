"""Pin glibc's mmap threshold so that large freed buffers go back to the operating system.

glibc serves blocks of at least ``M_MMAP_THRESHOLD`` bytes (128 KiB at start) with their own
``mmap`` and unmaps them on free. But each time such a block is freed it raises the threshold
to that block's size (up to 32 MiB): from then on blocks of that size come from the heap, whose
freed space is kept for reuse and fragments. Every chain refresh allocates and frees numpy
arrays of a few hundred KiB to a few MiB (solving the chain's implied vols, its Greeks), so a
long-running server's RSS climbed about 5 MiB per refresh (docs/reliability.md, "Memory").
Setting the threshold explicitly turns that adjustment off; the trim threshold (how much free
space at the heap's top is kept rather than returned), which glibc raised alongside to twice
the mmap threshold, is set back to its starting value too.

The long-running processes (``vault_dash.asgi``, ``vault_dash.wsgi``, ``run_publisher``) call
:func:`pin_mmap_threshold` before serving. An operator's ``MALLOC_MMAP_THRESHOLD_`` in the
environment (read by glibc at start-up) wins; on a C library without ``mallopt`` (musl's is a no-op, macOS has none)
nothing happens.
"""

from __future__ import annotations

import ctypes
import os
import sys

# From glibc's <malloc.h>.
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
DEFAULT_THRESHOLD = 128 * 1024  # glibc's starting value for both


def pin_mmap_threshold(threshold: int = DEFAULT_THRESHOLD) -> bool:
    """Fix the mmap and trim thresholds (bytes); True when the C library accepted both."""
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, threshold)) & bool(mallopt(M_TRIM_THRESHOLD, threshold))
