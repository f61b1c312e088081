"""deploy/healthcheck.py (stdlib only) and `manage.py healthcheck` against a live server."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from tests.support.server import ROOT, app_env, manage, server_command
from tests.support.services import free_port

pytestmark = pytest.mark.slow

SCRIPT = str(ROOT / "deploy" / "healthcheck.py")


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    # -I: isolated mode, proving the script needs nothing but the standard library.
    return subprocess.run(
        [sys.executable, "-I", SCRIPT, *args], capture_output=True, text=True, timeout=timeout
    )


def test_ok_against_a_live_server(app_server) -> None:
    result = run_cli(f"{app_server.url}/health", "--timeout", "20", "--expect-status", "ok")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith("healthcheck: healthy")
    assert len(result.stdout.strip().splitlines()) == 1


def test_wrong_status_times_out_with_one_line_reason(app_server) -> None:
    start = time.monotonic()
    result = run_cli(
        f"{app_server.url}/health",
        "--timeout",
        "2",
        "--interval",
        "0.2",
        "--expect-status",
        "degraded",
    )
    elapsed = time.monotonic() - start
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "status=ok" in lines[0] and "within 2s" in lines[0]
    assert 1.5 <= elapsed < 10


def test_connection_refused_reports_unreachable() -> None:
    url = f"http://127.0.0.1:{free_port()}/health"
    result = run_cli(url, "--timeout", "1", "--interval", "0.2")
    assert result.returncode == 1
    assert "unreachable" in result.stderr and url in result.stderr


def test_timeout_when_server_never_answers() -> None:
    # A listening socket that never accepts/answers: each request times out.
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(0)
        port = sock.getsockname()[1]
        start = time.monotonic()
        result = run_cli(
            f"http://127.0.0.1:{port}/health", "--timeout", "2", "--request-timeout", "0.5"
        )
        elapsed = time.monotonic() - start
    assert result.returncode == 1
    assert "did not report status=ok within 2s" in result.stderr
    assert elapsed < 8


def test_waits_for_a_server_that_starts_late(tmp_path) -> None:
    port = free_port()
    env = app_env({"DATA_DIR": str(tmp_path)})
    manage(env, "migrate", "-v0")
    checker = subprocess.Popen(
        [
            sys.executable,
            "-I",
            SCRIPT,
            f"http://127.0.0.1:{port}/health",
            "--timeout",
            "40",
            "--interval",
            "0.3",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.5)
    server = subprocess.Popen(
        server_command("daphne", port),
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        out, err = checker.communicate(timeout=60)
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert checker.returncode == 0, err
    assert "healthy" in out


def test_bad_arguments_exit_2() -> None:
    assert run_cli("ftp://example/health").returncode == 2
    assert run_cli("http://127.0.0.1:1/health", "--timeout", "0").returncode == 2
    assert run_cli("http://127.0.0.1:1/health", "--expect-status", "great").returncode == 2


def test_manage_py_healthcheck_command(app_server) -> None:
    url = f"{app_server.url}/health"
    ok = manage(app_server.env, "healthcheck", url, "--timeout", "10", check=False, timeout=60)
    assert ok.returncode == 0, ok.stderr
    expect_error = ("--timeout", "1", "--interval", "0.2", "--expect-status", "error")
    bad = manage(app_server.env, "healthcheck", url, *expect_error, check=False, timeout=60)
    assert bad.returncode == 1
    assert "did not report status=error" in bad.stderr
