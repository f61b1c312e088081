"""Run the real app (daphne, migrations applied) in a subprocess for end-to-end tests."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.services import free_port

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class AppServer:
    host: str
    port: int
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def app_env(overrides: Mapping[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO_SETTINGS"))}
    env.update(
        {
            "APP_ENV": "development",
            "DJANGO_SETTINGS_MODULE": "vault_dash.settings.base",
            "REDIS_URL": "",
            "PYTHONUNBUFFERED": "1",
        }
    )
    for key in ("DATABASE_URL", "MARKET_DATA_PROVIDER", "NICEGUI_MOUNT_PATH"):
        env.pop(key, None)
    env.update(overrides)
    return env


def stop_process(process: subprocess.Popen[bytes], timeout: float = 10) -> None:
    """SIGTERM, then SIGKILL if it has not exited within ``timeout`` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def stop_group(process: subprocess.Popen[bytes], timeout: float = 15) -> None:
    """SIGTERM to the session ``process`` leads (started with ``start_new_session``), so what
    it started stops too; SIGKILL if it has not exited within ``timeout`` seconds."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def stop_pid_group(pid: int, timeout: float = 10) -> None:
    """Like :func:`stop_group` for a group leader known only by its pid (not our child, so it
    cannot be waited for): SIGTERM to its group, poll, SIGKILL after ``timeout`` seconds."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def server_command(program: str, port: int, *, workers: int = 2, quiet: bool = False) -> list[str]:
    """The command line serving the app on loopback: daphne (ASGI, HTTP and WebSocket) or
    gunicorn (``workers`` sync WSGI workers, HTTP only). ``quiet`` drops gunicorn's access log
    and info lines, as benchmarks want."""
    if program == "daphne":
        # The first WebSocket handshake of a fresh server imports and warms the market data
        # path; on a loaded 2-core CI machine that passed daphne's 5 s connect timeout and the
        # socket got a 403. Tests allow 30 s; production keeps daphne's default.
        argv = ["daphne", "-b", "127.0.0.1", "-p", str(port), "--websocket_connect_timeout", "30"]
        argv.append("vault_dash.asgi:application")
    elif program == "gunicorn":
        argv = ["gunicorn", "-b", f"127.0.0.1:{port}", "-w", str(workers)]
        argv += ["--log-level", "warning"] if quiet else ["--access-logfile", "-"]
        argv.append("vault_dash.wsgi:application")
    else:
        raise ValueError(f"unknown server {program!r}")
    return [sys.executable, "-m", *argv]


def wait_for_http(url: str, timeout: float, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout}s")


def run_python(
    env: Mapping[str, str], *args: str, check: bool = True, **options: Any
) -> subprocess.CompletedProcess[str]:
    """``python args`` from the repository root in ``env``, its output captured as text; a
    non-zero exit raises unless ``check`` is False. ``options``: ``input``, ``timeout``."""
    argv = [sys.executable, *args]
    return subprocess.run(
        argv, cwd=ROOT, env=dict(env), check=check, capture_output=True, text=True, **options
    )


def manage(env: Mapping[str, str], *args: str, **options: Any) -> subprocess.CompletedProcess[str]:
    """``manage.py args`` against ``env``'s settings and database (``options``: :func:`run_python`'s)."""
    return run_python(env, "manage.py", *args, **options)


@contextlib.contextmanager
def serving(
    argv: list[str],
    env: Mapping[str, str],
    log_path: Path,
    ready_url: str | None,
    timeout: float = 60,
    *,
    group: bool = False,
) -> Iterator[subprocess.Popen[bytes]]:
    """``argv`` started from the repository root, its output in ``log_path``; yielded once
    ``ready_url`` answers (at once when None), stopped on the way out. ``group``: in a session
    of its own, stopped with all it started (for wrappers such as ``make``)."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=dict(env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=group,
        )
    try:
        if ready_url is not None:
            wait_for_http(ready_url, timeout, process)
        yield process
    finally:
        if group:
            stop_group(process)
        else:
            stop_process(process)


@contextlib.contextmanager
def run_app_server(
    overrides: Mapping[str, str],
    migrate: bool = True,
    seed: bool = False,
    timeout: float = 60,
    program: str = "daphne",
) -> Iterator[AppServer]:
    """daphne (the ASGI app) or, with ``program="gunicorn"``, two WSGI workers."""
    env = app_env(overrides)
    data_dir = Path(env.setdefault("DATA_DIR", str(ROOT / "data" / "test-server")))
    data_dir.mkdir(parents=True, exist_ok=True)
    if migrate:
        manage(env, "migrate", "--noinput", "-v0")
    if seed:
        manage(env, "seed_demo")
    port = int(env.get("APP_PORT") or free_port())
    env["APP_PORT"] = str(port)
    log_path = data_dir / f"{program}-{port}.log"
    ready = f"http://127.0.0.1:{port}/health/live"
    with serving(server_command(program, port), env, log_path, ready, timeout) as process:
        yield AppServer("127.0.0.1", port, env, process, log_path)
