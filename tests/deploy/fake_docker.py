"""A ``docker`` stand-in for the deploy tests (no Docker engine runs on these machines).

It is placed first in the SSH session's PATH on the test sshd. It records each call (argv, cwd,
and for ``login`` a hash of what arrived on stdin — never the password itself) as JSON lines in
``$FAKE_DOCKER_STATE/calls.jsonl`` and emulates just enough of the CLI:

- ``version``, ``info``, ``compose version``: print versions.
- ``login --password-stdin``, ``logout``, ``pull IMAGE`` (an image containing ``missing``
  fails like an unknown manifest).
- ``compose ... up -d``: stops the running "container" and really starts the app from the
  ``--env-file`` it was given, through the project's own ``deploy/entrypoint.sh`` (migrations
  + daphne on ``APP_BIND_ADDRESS:APP_PORT``, as the published port would be). An image whose
  name contains ``broken`` starts the app against an unreachable database, so ``/health``
  answers 503 ``status=error``. With ``FAKE_DOCKER_UP_GATE`` set, ``up`` waits until that file
  exists, like a slow start.
- ``compose ... ps [-q]`` (``-q``: the running "container" id, ``fake-<pid>``) and
  ``inspect --format '{{.State.Running}} {{.Config.Image}}' ID``, ``logs``, ``down``. ``compose ps --format`` is
  refused, as Compose v1 refuses it. ``FAKE_DOCKER_PS_FAILS`` makes ``compose ps`` fail, to
  show that an unknown running image stops the flow. ``FAKE_DOCKER_START_DELAY`` (seconds)
  holds the app back after ``up``, like a slow start.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

# Run as a script: the repository root goes on the path for the shared test helpers.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.support.server import stop_pid_group  # noqa: E402

STATE = Path(os.environ["FAKE_DOCKER_STATE"])
APP_ROOT = Path(os.environ["FAKE_APP_ROOT"])
APP_PYTHON = os.environ["FAKE_APP_PYTHON"]
DATA_DIR = Path(os.environ["FAKE_DATA_DIR"])


def record(argv: list[str], **extra: object) -> None:
    STATE.mkdir(parents=True, exist_ok=True)
    entry = {"argv": argv, "cwd": os.getcwd(), "ts": time.time(), **extra}
    with (STATE / "calls.jsonl").open("a") as fh:
        fh.write(json.dumps(entry) + "\n")


def parse_env_file(path: str) -> dict[str, str]:
    values = {}
    for raw in Path(path).read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def running() -> dict[str, object] | None:
    try:
        state = json.loads((STATE / "running.json").read_text())
    except (FileNotFoundError, ValueError):
        return None
    try:
        os.kill(int(state["pid"]), 0)
    except (ProcessLookupError, PermissionError):
        return None
    return dict(state)


def stop() -> None:
    state = running()
    if state is None:
        return
    stop_pid_group(int(str(state["pid"])), timeout=5)
    (STATE / "running.json").unlink(missing_ok=True)


def up(env_file: str) -> int:
    values = parse_env_file(env_file)
    image = values.get("APP_IMAGE", "")
    gate = os.environ.get("FAKE_DOCKER_UP_GATE", "")
    if gate:
        # Hold `up` (as a slow pull/start would) until the test opens the gate.
        deadline = time.monotonic() + 60
        while not Path(gate).exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    stop()
    env = {
        # What the image's ENV would provide.
        "PATH": f"{Path(APP_PYTHON).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(DATA_DIR),
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "DJANGO_SETTINGS_MODULE": "vault_dash.settings.base",
        "DATA_DIR": str(DATA_DIR),
        "ENV_FILE": "/nonexistent/.env",
        **values,
    }
    if (DATA_DIR / "vault_dash.sqlite3").exists():
        # Same code, same database: the entrypoint's migrate step would be a no-op; skipping it
        # keeps the suite fast (the first start of every test still runs it).
        env["SKIP_MIGRATIONS"] = "1"
    if "broken" in image:
        env["DATABASE_URL"] = "postgres://broken@127.0.0.1:9/broken?connect_timeout=1"
        env["SKIP_MIGRATIONS"] = "1"
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    delay = os.environ.get("FAKE_DOCKER_START_DELAY", "")
    command = ["/bin/sh", str(APP_ROOT / "deploy" / "entrypoint.sh"), "serve"]
    if delay:
        command = ["/bin/sh", "-c", f'sleep {float(delay)}; exec "$0" "$@"', *command]
    log = (STATE / "app.log").open("ab")
    log.write(f"--- fake container for {image}\n".encode())
    log.flush()
    process = subprocess.Popen(
        command,
        cwd=APP_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    (STATE / "running.json").write_text(json.dumps({"pid": process.pid, "image": image}))
    return 0


def compose(args: list[str]) -> int:
    env_file = ""
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("-p", "-f", "--profile", "--project-name", "--file"):
            i += 2
            continue
        if arg == "--env-file":
            env_file = args[i + 1]
            i += 2
            continue
        rest = args[i:]
        break
    if not rest:
        print("fake docker compose: no command", file=sys.stderr)
        return 1
    command = rest[0]
    if command == "version":
        print("2.30.0-fake" if "--short" in rest else "Docker Compose version v2.30.0-fake")
        return 0
    if command == "up":
        mode = oct(os.stat(env_file).st_mode & 0o777) if env_file else ""
        record(["docker", "compose", *args], env_file_mode=mode)
        return up(env_file)
    record(["docker", "compose", *args])
    if command == "ps":
        if os.environ.get("FAKE_DOCKER_PS_FAILS"):
            print("fake docker compose: cannot connect to the engine", file=sys.stderr)
            return 1
        if "--format" in rest:
            print("No such option: --format", file=sys.stderr)
            return 1
        state = running()
        if "-q" in rest:
            if state is not None:
                print(f"fake-{state['pid']}")
            return 0
        print("NAME            IMAGE   STATUS")
        if state is not None:
            print(f"vault-dash-app-1  {state['image']}  Up")
        return 0
    if command == "logs":
        log = STATE / "app.log"
        if log.exists():
            sys.stdout.write("\n".join(log.read_text(errors="replace").splitlines()[-50:]) + "\n")
        return 0
    if command in ("down", "stop"):
        stop()
        return 0
    if command == "pull":
        return 0
    print(f"fake docker compose: unsupported {command}", file=sys.stderr)
    return 1


def main(argv: list[str]) -> int:
    if not argv:
        return 1
    command = argv[0]
    if command == "compose":
        return compose(argv[1:])
    if command == "login":
        if "--password-stdin" not in argv:
            record(["docker", *argv])
            print("fake docker: refusing a password on the command line", file=sys.stderr)
            return 1
        secret = sys.stdin.buffer.read()
        record(["docker", *argv], stdin_sha256=hashlib.sha256(secret.strip()).hexdigest())
        print("Login Succeeded")
        return 0
    record(["docker", *argv])
    if command == "version":
        print("28.0.0-fake")
        return 0
    if command in ("info", "logout"):
        return 0
    if command == "inspect":
        state = running()
        if state is None or argv[-1] != f"fake-{state['pid']}":
            print(f"Error: No such object: {argv[-1]}", file=sys.stderr)
            return 1
        print(f"true {state['image']}")
        return 0
    if command == "image" and argv[1:2] == ["rm"]:
        print(f"Untagged: {argv[-1]}")
        return 0
    if command == "pull":
        if "missing" in argv[-1]:
            print(f"Error response from daemon: manifest for {argv[-1]} not found", file=sys.stderr)
            return 1
        print(f"Status: Downloaded newer image for {argv[-1]}")
        return 0
    print(f"fake docker: unsupported {command}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
