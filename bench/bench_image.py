"""The container image on the real engine: build time, size, start-to-healthy.

    python -m bench image        (needs tools/container-engine.sh; skips without an engine)

Start-to-healthy is timed from `docker start` to the first `/health` answering `ok`, for a
first start (empty data volume: migrations run) and a restart (nothing to migrate). Side by
side, the same image started the way the entrypoint used to (`python -m deploy.migrate`, then
a second interpreter for daphne) against `serve` (one interpreter, deploy/serve.py).
"""

from __future__ import annotations

import secrets
import statistics
import time

from tests.deploy.engine import (
    APP_IMAGE,
    BASE_IMAGE,
    ROOT,
    Engine,
    docker_binary,
    engine_problem,
    http_get,
)
from tests.support.services import free_port

RUNS = 3
TWO_PROCESSES = (
    "python -m deploy.migrate && exec python -m daphne --proxy-headers -b 0.0.0.0 -p 8000 "
    "vault_dash.asgi:application"
)


def healthy_after(engine: Engine, name: str, port: int, started: float) -> float:
    while time.monotonic() - started < 120:
        try:
            if http_get(f"http://127.0.0.1:{port}/health", timeout=2)[0] == 200:
                return time.monotonic() - started
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{name} not healthy within 120s:\n{engine.logs(name)[-2000:]}")


def start_times(engine: Engine, *command: str) -> tuple[float, float]:
    """(first start, restart) seconds to healthy, medians of RUNS."""
    first: list[float] = []
    again: list[float] = []
    for _ in range(RUNS):
        name, port = f"vault-ci-bench-{secrets.token_hex(3)}", free_port()
        entrypoint = ["--entrypoint", "sh"] if command else []
        engine.run(
            "create",
            f"--name={name}",
            "--read-only",
            "--tmpfs=/tmp",
            "--cap-drop=ALL",
            f"--publish=127.0.0.1:{port}:8000",
            f"--env=NICEGUI_STORAGE_SECRET={secrets.token_urlsafe(48)}",
            "--env=ALLOWED_HOSTS=127.0.0.1",
            "--env=SECURE_SSL_REDIRECT=false",
            "--env=MARKET_DATA_PROVIDER=synthetic",
            *entrypoint,
            APP_IMAGE,
            *(("-c", *command) if command else ()),
        )
        try:
            for times in (first, again):
                started = time.monotonic()
                engine.run("start", name)
                times.append(healthy_after(engine, name, port, started))
                engine.run("stop", "--time=20", name, timeout=60)
        finally:
            engine.run("rm", "-f", "-v", name, check=False)
    return statistics.median(first), statistics.median(again)


def main() -> None:
    problem = engine_problem()
    if problem is not None:
        print(f"skipped: {problem}")
        return
    docker = docker_binary()
    assert docker is not None
    engine = Engine(docker)
    seconds = engine.build(ROOT, APP_IMAGE, f"PYTHON_IMAGE={BASE_IMAGE}")
    size = int(str(engine.inspect(APP_IMAGE)["Size"]))
    base = int(str(engine.inspect(BASE_IMAGE)["Size"]))
    print(f"build (layer cache as left by earlier builds): {seconds:.1f}s")
    print(f"image {APP_IMAGE}: {size / 1e6:.0f} MB (base {BASE_IMAGE}: {base / 1e6:.0f} MB)")
    one = start_times(engine)
    two = start_times(engine, TWO_PROCESSES)
    print(f"start-to-healthy, median of {RUNS}   first start   restart")
    print(f"  serve (one interpreter)         {one[0]:6.1f}s  {one[1]:7.1f}s")
    print(f"  migrate, then daphne            {two[0]:6.1f}s  {two[1]:7.1f}s")
    print(f"  ratio                           {two[0] / one[0]:6.2f}x  {two[1] / one[1]:7.2f}x")
