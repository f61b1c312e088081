"""The malloc tuning that keeps RSS from creeping across chain refreshes (core.allocator).

Each case runs in a fresh interpreter, since the allocator's state is per process. After a large
block is freed, glibc alone serves a 1 MiB block from the heap (where freed space fragments);
tuned, it maps the block on its own, so it is returned to the system when freed. Threads each
get an arena of their own by default; tuned, they share two.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import ctypes, sys
from core.allocator import tune_allocator

def in_heap(buf):
    addr = ctypes.addressof((ctypes.c_char * len(buf)).from_buffer(buf))
    for line in open("/proc/self/maps"):
        if line.rstrip().endswith("[heap]"):
            lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
            if lo <= addr < hi:
                return True
    return False

tuned = tune_allocator() if sys.argv[1] == "tune" else None
big = bytearray(8 << 20)  # mapped on its own; freeing it raises glibc's dynamic threshold
del big
block = bytearray(1 << 20)
print(tuned, in_heap(block))
"""

glibc = pytest.mark.skipif(
    platform.libc_ver()[0] != "glibc", reason="mallopt thresholds are glibc's"
)


def python(code: str, arg: str, env: dict[str, str]) -> str:
    """Run ``code`` in a fresh interpreter; its stripped standard output."""
    out = subprocess.run(
        [sys.executable, "-c", code, arg],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def probe(mode: str, **env: str) -> str:
    environ = {k: v for k, v in os.environ.items() if k != "MALLOC_MMAP_THRESHOLD_"}
    return python(PROBE, mode, {**environ, **env})


@glibc
def test_without_the_pin_a_freed_large_block_moves_the_next_ones_onto_the_heap() -> None:
    assert probe("none") == "None True"


@glibc
def test_tuned_large_blocks_stay_mapped_on_their_own() -> None:
    assert probe("tune") == "True False"


@glibc
def test_an_operators_environment_setting_wins() -> None:
    # glibc reads the variable at start-up; the tuning then leaves it alone.
    assert probe("tune", MALLOC_MMAP_THRESHOLD_=str(16 << 20)) == "True True"


ENTRY_POINT = """
import importlib, sys
import core.allocator as allocator

calls = []
allocator.tune_allocator = lambda *args: calls.append(args) or True
importlib.import_module(sys.argv[1])
print(len(calls))
"""


@pytest.mark.parametrize("entry_point", ["vault_dash.asgi", "vault_dash.wsgi"])
def test_server_entry_points_tune_the_allocator(entry_point, tmp_path) -> None:
    env = {**os.environ, "DATA_DIR": str(tmp_path)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    assert python(ENTRY_POINT, entry_point, env) == "1"


ARENAS = """
import ctypes, os, re, sys, tempfile, threading
from core.allocator import tune_allocator

if sys.argv[1] == "tune":
    tune_allocator()
keep = []
together = threading.Barrier(8)

def allocate():
    keep.append([bytearray(4096) for _ in range(64)])  # above pymalloc's limit: malloc
    # Stay alive until all have allocated: an exited thread's arena is handed to the next.
    together.wait()

threads = [threading.Thread(target=allocate) for _ in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
libc = ctypes.CDLL(None)
libc.fopen.restype = ctypes.c_void_p
libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
libc.fclose.argtypes = [ctypes.c_void_p]
path = tempfile.mktemp()
stream = libc.fopen(path.encode(), b"w")
libc.malloc_info(0, stream)
libc.fclose(stream)
print(len(re.findall(r"<heap nr=", open(path).read())))
os.unlink(path)
"""


@glibc
def test_threads_share_two_arenas_once_tuned() -> None:
    environ = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    assert int(python(ARENAS, "none", environ)) > 2  # a new arena per thread, up to 8 per core
    assert int(python(ARENAS, "tune", environ)) <= 2
