"""The built image on the real engine (tools/container-engine.sh): user, read-only root, the
image's own HEALTHCHECK, /health, static files, the migration lock across two replicas, and a
clean stop on SIGTERM. Run with ``pytest -m engine``."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator

import pytest

from tests.deploy.engine import Engine, http_get, wait_http
from tests.support.services import free_port

pytestmark = [pytest.mark.engine, pytest.mark.slow, pytest.mark.timeout(900)]

GRACE = 20  # the compose file's stop_grace_period


def app_env() -> list[str]:
    values = {
        "NICEGUI_STORAGE_SECRET": secrets.token_urlsafe(48),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "MARKET_DATA_PROVIDER": "synthetic",
    }
    return [f"--env={k}={v}" for k, v in values.items()]


def run_app(
    engine: Engine, image: str, name: str, port: int, *extra: str, health_interval: str = "1s"
) -> None:
    """Start the image as the compose file does: read-only root, tmpfs /tmp, no capabilities,
    no-new-privileges; the image's own HEALTHCHECK command, polled every ``health_interval``."""
    engine.run(
        "run",
        "-d",
        f"--name={name}",
        "--read-only",
        "--tmpfs=/tmp",
        "--cap-drop=ALL",
        "--security-opt=no-new-privileges:true",
        f"--health-interval={health_interval}",
        "--health-start-period=60s",
        f"--publish=127.0.0.1:{port}:8000",
        *app_env(),
        *extra,
        image,
    )


@pytest.fixture(scope="module")
def app(engine: Engine, app_image: str) -> Iterator[tuple[str, int]]:
    name = f"vault-ci-image-{secrets.token_hex(3)}"
    port = free_port()
    run_app(engine, app_image, name, port)
    try:
        engine.wait_healthy(name)
        yield name, port
    finally:
        engine.run("rm", "-f", "-v", name, check=False)


def test_runs_as_uid_10001_on_a_read_only_root(engine: Engine, app: tuple[str, int]) -> None:
    name, _ = app
    assert engine.run("exec", name, "id", "-u").stdout.strip() == "10001"
    assert engine.run("exec", name, "id", "-g").stdout.strip() == "10001"
    # The root file system refuses writes, even where uid 10001 would be allowed to write.
    refused = engine.run("exec", name, "sh", "-c", "touch /app/probe", check=False)
    assert refused.returncode != 0 and "Read-only file system" in refused.stderr
    refused = engine.run("exec", name, "sh", "-c", "touch /var/tmp/probe", check=False)
    assert refused.returncode != 0
    # Only the data volume and the tmpfs are writable.
    engine.run("exec", name, "sh", "-c", "touch /data/probe /tmp/probe && rm /data/probe")
    config = engine.inspect(name)["Config"]
    assert isinstance(config, dict) and config["User"] == "10001:10001"


def test_the_images_healthcheck_passes_and_health_is_ok(
    engine: Engine, app: tuple[str, int]
) -> None:
    name, port = app
    state = engine.inspect(name)["State"]
    assert isinstance(state, dict)
    assert state["Health"]["Status"] == "healthy"
    # The check that ran is the image's own (the Dockerfile's HEALTHCHECK), and it passed.
    last = state["Health"]["Log"][-1]
    assert last["ExitCode"] == 0
    test = engine.inspect(name)["Config"]["Healthcheck"]["Test"]  # type: ignore[index]
    assert "/health/live" in " ".join(test)
    status, _, body = http_get(f"http://127.0.0.1:{port}/health")
    assert status == 200
    assert b'"status": "ok"' in body


def test_static_files_are_served(app: tuple[str, int]) -> None:
    _, port = app
    status, _, page = http_get(f"http://127.0.0.1:{port}/")
    assert status == 200
    # The page links the hashed names the build's collectstatic wrote (whitenoise manifest).
    links = re.findall(rb'(?:href|src)="(/static/[^"]+\.(?:css|js))"', page)
    assert links, page[:2000]
    for link in links[:3]:
        code, headers, body = http_get(f"http://127.0.0.1:{port}{link.decode()}")
        assert code == 200, link
        assert body
        assert headers["Content-Type"].split(";")[0] in ("text/css", "text/javascript")
        # Hashed names are cached for good.
        assert "immutable" in headers.get("Cache-Control", "") or "max-age" in headers.get(
            "Cache-Control", ""
        )


def test_two_replicas_migrate_exactly_once(engine: Engine, app_image: str) -> None:
    """Two containers on one data volume start together: one applies the migrations under
    the lock, the other waits and finds nothing to apply."""
    volume = f"vault-ci-data-{secrets.token_hex(3)}"
    names = [f"vault-ci-replica-{i}-{secrets.token_hex(2)}" for i in (1, 2)]
    ports = [free_port(), free_port()]
    engine.run("volume", "create", volume)
    try:
        for name, port in zip(names, ports, strict=True):
            run_app(engine, app_image, name, port, f"--volume={volume}:/data")
        for name in names:
            engine.wait_healthy(name, timeout=120)
        logs = [engine.logs(name) for name in names]
        applied = [
            log.count("Applying portfolio.0001_squashed_0009_trade_source_demo... OK")
            for log in logs
        ]
        assert sorted(applied) == [0, 1], logs
        other = logs[applied.index(0)]
        assert "No migrations to apply" in other
        for port in ports:
            assert http_get(f"http://127.0.0.1:{port}/health")[0] == 200
    finally:
        engine.run("rm", "-f", *names, check=False)
        engine.run("volume", "rm", "-f", volume, check=False)


def test_sigterm_stops_cleanly_within_the_grace_period(engine: Engine, app_image: str) -> None:
    name = f"vault-ci-stop-{secrets.token_hex(3)}"
    port = free_port()
    run_app(engine, app_image, name, port)
    try:
        wait_http(f"http://127.0.0.1:{port}/health/live", timeout=120)
        started = time.monotonic()
        engine.run("stop", f"--time={GRACE}", name, timeout=GRACE + 30)
        elapsed = time.monotonic() - started
        state = engine.inspect(name)["State"]
        assert isinstance(state, dict)
        # Exit 0 by itself; a SIGKILL at the end of the grace period would show 137.
        assert state["ExitCode"] == 0, engine.logs(name)[-2000:]
        assert elapsed < GRACE
    finally:
        engine.run("rm", "-f", name, check=False)
