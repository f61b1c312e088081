"""``fab deploy`` end to end against a real OpenSSH server on loopback.

The remote ``docker`` is a stand-in (tests/deploy/fake_docker.py) that really starts the app
from the ``.env`` it was given, so every health check below hits a real daphne. Independent
references: the app's own ``/health`` body reports the ``APP_IMAGE`` it was started with, the
stand-in's call log says what ran on the host, and the sshd's ForceCommand log holds every
command line the client sent.
"""

from __future__ import annotations

import hashlib
import json
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from deploy import envfile
from tests.deploy.conftest import DeployEnv, FabResult
from tests.deploy.sshd import keygen

pytestmark = [pytest.mark.services, pytest.mark.slow, pytest.mark.timeout(180)]

V1 = "registry.example.test/vault/vault-dash:v1"
V2 = "registry.example.test/vault/vault-dash:v2"
BROKEN = "registry.example.test/vault/vault-dash:v3-broken"


def app_health(port: int) -> tuple[int, dict[str, object]]:
    url = f"http://127.0.0.1:{port}/health"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def remote_file(d: DeployEnv, name: str) -> str:
    return (d.deploy_path / name).read_text()


def deploy_ok(d: DeployEnv, image: str, **overrides: str) -> FabResult:
    result = d.fab("deploy", APP_IMAGE=image, **overrides)
    assert result.returncode == 0, result.output
    return result


def assert_no_secrets(d: DeployEnv, *outputs: str) -> None:
    """No secret in the fab output, any command line, any log on the 'host'."""
    texts = {
        "fab output": "\n".join(outputs),
        "ssh command lines": "\n".join(d.server.commands()),
        "docker calls": json.dumps(d.server.docker_calls()),
        "sshd log": d.server.sshd_log.read_text() if d.server.sshd_log.exists() else "",
        "app log": d.server.app_log(),
    }
    deploy_log = d.deploy_path / "deploy.log"
    texts["deploy.log"] = deploy_log.read_text() if deploy_log.exists() else ""
    key_lines = [
        line for line in d.secrets["DEPLOY_SSH_PRIVATE_KEY"].splitlines() if len(line) > 20
    ]
    needles = {
        "NICEGUI_STORAGE_SECRET": d.secrets["NICEGUI_STORAGE_SECRET"],
        "CI_REGISTRY_PASSWORD": d.secrets["CI_REGISTRY_PASSWORD"],
        **{f"private key line {i}": line for i, line in enumerate(key_lines)},
    }
    for where, text in texts.items():
        for name, secret in needles.items():
            assert secret not in text, f"{name} leaked into the {where}"


def test_first_deploy_then_dry_run(deploy_env: DeployEnv) -> None:
    d = deploy_env
    # A dry run on a fresh host: not even DEPLOY_PATH appears, no docker command runs.
    dry = d.fab("deploy", "--dry-run", APP_IMAGE=V1)
    assert dry.returncode == 0, dry.output
    assert not d.deploy_path.exists()
    assert d.server.docker_calls() == []

    external = f"http://127.0.0.1:{d.app_port}/health"
    result = deploy_ok(d, V1, EXTERNAL_HEALTHCHECK_URL=external)
    assert f"healthy: {external} reported status=ok" in result.stdout  # checked from the runner

    # The real app answers on the published port and reports the image it was started with.
    code, body = app_health(d.app_port)
    assert (code, body["status"], body["image"]) == (200, "ok", V1)

    assert remote_file(d, ".last_successful_image").strip() == V1
    assert remote_file(d, ".image_history").split() == [V1]
    env_path = d.deploy_path / ".env"
    assert stat.S_IMODE(env_path.stat().st_mode) == 0o600
    values = envfile.parse(env_path.read_text())
    assert values["APP_IMAGE"] == V1
    assert values["NICEGUI_STORAGE_SECRET"] == d.secrets["NICEGUI_STORAGE_SECRET"]
    repo_compose = Path(__file__).resolve().parents[2] / "deploy/docker-compose.deploy.yml"
    assert remote_file(d, "docker-compose.deploy.yml") == repo_compose.read_text()
    assert not (d.deploy_path / ".deploy.lock").exists()
    assert not [
        p.name for p in d.deploy_path.iterdir() if ".XXXXXX" in p.name or p.name.startswith(".env.")
    ]

    calls = [c["argv"] for c in d.server.docker_calls()]
    login = next(c for c in d.server.docker_calls() if c["argv"][1] == "login")
    password = d.secrets["CI_REGISTRY_PASSWORD"].encode()
    assert login["argv"] == [
        "docker",
        "login",
        "registry.example.test",
        "-u",
        "gitlab-ci-token",
        "--password-stdin",
    ]
    assert login["stdin_sha256"] == hashlib.sha256(password).hexdigest()
    assert ["docker", "pull", V1] in calls
    up = next(c for c in d.server.docker_calls() if "up" in c["argv"])
    assert up["argv"][-3:] == ["up", "-d", "--remove-orphans"]
    assert up["env_file_mode"] == "0o600"
    assert ["docker", "logout", "registry.example.test"] in calls
    kinds = [argv[-3] if argv[1] == "compose" else argv[1] for argv in calls]
    assert kinds.index("login") < kinds.index("pull") < kinds.index("up")

    log = remote_file(d, "deploy.log").splitlines()
    assert len(log) == 1 and f"deploy ok image={V1} previous=-" in log[0]
    assert "actor=tester" in log[0]

    # A dry run of the next release changes nothing on the host and shows every step.
    before = snapshot(d.deploy_path)
    calls_before = len(d.server.docker_calls())
    dry = d.fab("deploy", "--dry-run", APP_IMAGE=V2)
    assert dry.returncode == 0, dry.output
    assert snapshot(d.deploy_path) == before
    new_calls = [c["argv"] for c in d.server.docker_calls()[calls_before:]]
    assert all("ps" in argv or argv[1] == "inspect" for argv in new_calls), new_calls  # probes
    assert app_health(d.app_port)[1]["image"] == V1
    for expected in ("write .env", "registry login", "pull: docker pull", "up: cd", "on stdin"):
        assert expected in dry.stdout, expected
    assert f"would deploy {V2}" in dry.stdout
    assert_no_secrets(d, result.output, dry.output)


def snapshot(path: Path) -> dict[str, tuple[int, int, str]]:
    out = {}
    for p in sorted(path.rglob("*")):
        st = p.lstat()
        digest = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        out[str(p.relative_to(path))] = (st.st_mode, st.st_mtime_ns, digest)
    return out


def test_broken_image_rolls_back(deploy_env: DeployEnv) -> None:
    d = deploy_env
    deploy_ok(d, V1)
    started = time.monotonic()
    result = d.fab("deploy", APP_IMAGE=BROKEN, DEPLOY_TIMEOUT="5", DEPLOY_ROLLBACK_TIMEOUT="40")
    elapsed = time.monotonic() - started

    assert result.returncode != 0, result.output
    assert f"deploy of {BROKEN} failed" in result.stderr
    assert f"rolled back to {V1}, which is healthy again" in result.stderr
    assert elapsed >= 5  # it waited DEPLOY_TIMEOUT for the broken release
    # The previous image runs and is healthy; nothing recorded the broken one as good.
    code, body = app_health(d.app_port)
    assert (code, body["status"], body["image"]) == (200, "ok", V1)
    assert remote_file(d, ".last_successful_image").strip() == V1
    assert remote_file(d, ".image_history").split() == [V1]
    assert envfile.parse(remote_file(d, ".env"))["APP_IMAGE"] == V1
    assert stat.S_IMODE((d.deploy_path / ".env").stat().st_mode) == 0o600
    ups = [c for c in d.server.docker_calls() if "up" in c["argv"]]
    assert len(ups) == 3  # v1, broken, v1 again
    log = remote_file(d, "deploy.log").splitlines()
    assert f"deploy failed image={BROKEN} previous={V1}" in log[-1]
    assert "healthy again" in log[-1]
    assert not (d.deploy_path / ".deploy.lock").exists()
    assert_no_secrets(d, result.output)


def test_broken_first_deploy_stops_it_and_fails(deploy_env: DeployEnv) -> None:
    d = deploy_env
    result = d.fab("deploy", APP_IMAGE=BROKEN, DEPLOY_TIMEOUT="4")
    assert result.returncode == 1
    assert "no previous image" in result.stderr
    assert not (d.deploy_path / ".last_successful_image").exists()
    assert d.server.running() is None
    assert any("down" in c["argv"] for c in d.server.docker_calls())


def test_unknown_host_key_is_refused(deploy_env: DeployEnv, tmp_path: Path) -> None:
    d = deploy_env
    other = keygen(tmp_path / "other_host_key", "impostor").split()
    wrong = f"[127.0.0.1]:{d.server.port} {other[0]} {other[1]}\n"
    result = d.fab("deploy", DEPLOY_KNOWN_HOSTS=wrong)
    assert result.returncode == 1
    assert "does not match DEPLOY_KNOWN_HOSTS" in result.stderr

    unpinned = d.server.known_hosts_line.replace(f"]:{d.server.port} ", "]:1 ")
    result = d.fab("deploy", DEPLOY_KNOWN_HOSTS=unpinned)
    assert result.returncode == 1
    assert "not pinned in DEPLOY_KNOWN_HOSTS" in result.stderr

    result = d.fab("deploy", DEPLOY_KNOWN_HOSTS="")
    assert result.returncode == 2
    assert "must pin the server's host key" in result.stderr
    # Not one command reached the host.
    assert d.server.commands() == []
    assert not d.deploy_path.exists()

    # The explicit opt-out connects (and says so loudly).
    result = d.fab("deploy", "--dry-run", "--accept-any-host-key", DEPLOY_KNOWN_HOSTS="")
    assert result.returncode == 0, result.output
    assert "NOT verified" in result.stdout


def test_concurrent_deploy_is_refused_by_the_lock(deploy_env: DeployEnv) -> None:
    d = deploy_env
    gate = d.server.base / "up-gate"
    (d.server.base / "session.env").write_text(f"export FAKE_DOCKER_UP_GATE={gate}\n")
    first = d.start("deploy", APP_IMAGE=V1)
    try:
        # Wait until the first deploy is inside `compose up`, holding the lock.
        deadline = time.monotonic() + 60
        while not any("up" in c["argv"] for c in d.server.docker_calls()):
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline, "the first deploy never reached compose up"
            time.sleep(0.05)
        assert (d.deploy_path / ".deploy.lock" / "info").exists()
        second = d.fab("deploy", APP_IMAGE=V2)
        gate.touch()
        first_out, first_err = first.communicate(timeout=120)
    finally:
        gate.touch()
        if first.poll() is None:
            first.kill()
    assert first.returncode == 0, first_out + first_err
    assert second.returncode == 1
    assert "another deploy holds the lock" in second.stderr
    assert "action=deploy actor=tester" in second.stderr
    assert [c["argv"][-1] for c in d.server.docker_calls() if c["argv"][1] == "pull"] == [V1]
    assert remote_file(d, ".last_successful_image").strip() == V1
    assert app_health(d.app_port)[1]["image"] == V1
    assert not (d.deploy_path / ".deploy.lock").exists()


def test_stale_lock_refuses_until_unlocked(deploy_env: DeployEnv) -> None:
    d = deploy_env
    (d.deploy_path / ".deploy.lock").mkdir(parents=True)
    (d.deploy_path / ".deploy.lock" / "info").write_text("action=deploy actor=someone\n")
    result = d.fab("deploy", APP_IMAGE=V1)
    assert result.returncode == 1 and "actor=someone" in result.stderr
    assert d.server.docker_calls() == [] or all("ps" in c["argv"] for c in d.server.docker_calls())
    result = d.fab("unlock")
    assert result.returncode == 0, result.output
    assert not (d.deploy_path / ".deploy.lock").exists()


def test_second_deploy_records_previous_then_rollback(deploy_env: DeployEnv) -> None:
    d = deploy_env
    deploy_ok(d, V1)
    result = deploy_ok(d, V2)
    assert f"previous: {V1}" in result.stdout
    code, body = app_health(d.app_port)
    assert (code, body["image"]) == (200, V2)
    assert remote_file(d, ".last_successful_image").strip() == V2
    assert remote_file(d, ".image_history").split() == [V1, V2]
    log = remote_file(d, "deploy.log").splitlines()
    assert f"deploy ok image={V2} previous={V1}" in log[-1]
    # The running image was looked up on the host before changing anything.
    assert [c for c in d.server.docker_calls() if "ps" in c["argv"]]

    result = d.fab("rollback")
    assert result.returncode == 0, result.output
    assert f"rolled back to {V1}" in result.stdout
    assert app_health(d.app_port)[1]["image"] == V1
    assert remote_file(d, ".last_successful_image").strip() == V1
    assert f"rollback ok image={V1} previous={V2}" in remote_file(d, "deploy.log")

    health = d.fab("health")
    assert health.returncode == 0 and "status=ok" in health.stdout, health.output
    status = d.fab("status")
    assert status.returncode == 0, status.output
    assert f"last successful image: {V1}" in status.stdout
    assert "deploy lock:           free" in status.stdout
    logs = d.fab("logs", "--tail", "20")
    assert logs.returncode == 0, logs.output
    assert '"GET /health" 200' in logs.stdout
    assert_no_secrets(d, result.output, health.output, status.output, logs.output)

    d.server.stop_app()
    down = d.fab("health")
    assert down.returncode == 1 and "unreachable" in down.stderr


def test_bootstrap_checks_the_host(deploy_env: DeployEnv) -> None:
    d = deploy_env
    result = d.fab("bootstrap")
    assert result.returncode == 0, result.output
    assert "docker: 28.0.0-fake" in result.stdout
    assert stat.S_IMODE(d.deploy_path.stat().st_mode) == 0o750


def test_fab_help_for_every_task() -> None:
    root = Path(__file__).resolve().parents[2]
    for name in ("deploy", "rollback", "health", "status", "logs", "bootstrap", "unlock"):
        done = subprocess.run(
            [sys.executable, "-m", "fabric", name, "--help"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert f"[--core-opts] {name} [--options]" in done.stdout


V3 = "registry.example.test/vault/vault-dash:v3"


def test_rollback_walks_back_one_release_at_a_time(deploy_env: DeployEnv) -> None:
    """Three releases: each rollback goes to the one before (never straight to the oldest)."""
    d = deploy_env
    for image in (V1, V2, V3):
        deploy_ok(d, image)
    assert remote_file(d, ".image_history").split() == [V1, V2, V3]

    first = d.fab("rollback")
    assert first.returncode == 0, first.output
    assert app_health(d.app_port)[1]["image"] == V2
    assert remote_file(d, ".last_successful_image").strip() == V2
    assert f"rollback ok image={V2} previous={V3}" in remote_file(d, "deploy.log")

    second = d.fab("rollback")
    assert second.returncode == 0, second.output
    assert app_health(d.app_port)[1]["image"] == V1
    assert remote_file(d, ".last_successful_image").strip() == V1
    assert f"rollback ok image={V1} previous={V2}" in remote_file(d, "deploy.log")


def test_rollback_to_a_named_image_and_an_empty_one_is_refused(deploy_env: DeployEnv) -> None:
    d = deploy_env
    for image in (V1, V2, V3):
        deploy_ok(d, image)
    empty = d.fab("rollback", "--image", "")
    assert empty.returncode == 1
    assert "--image is empty" in empty.stderr
    assert app_health(d.app_port)[1]["image"] == V3
    assert not (d.deploy_path / ".deploy.lock").exists()

    named = d.fab("rollback", "--image", V1)
    assert named.returncode == 0, named.output
    assert app_health(d.app_port)[1]["image"] == V1
    assert remote_file(d, ".last_successful_image").strip() == V1
    assert ["docker", "pull", V1] in [c["argv"] for c in d.server.docker_calls()][-4:]


def test_failed_rollback_restores_the_running_image(deploy_env: DeployEnv) -> None:
    d = deploy_env
    deploy_ok(d, V1)
    deploy_ok(d, V2)
    result = d.fab("rollback", "--image", BROKEN, DEPLOY_ROLLBACK_TIMEOUT="10")
    assert result.returncode == 1, result.output
    assert f"rollback to {BROKEN} failed" in result.stderr
    assert f"rolled back to {V2}, which is healthy again" in result.stderr
    code, body = app_health(d.app_port)
    assert (code, body["image"]) == (200, V2)
    assert remote_file(d, ".last_successful_image").strip() == V2
    assert remote_file(d, ".image_history").split() == [V1, V2]
    assert envfile.parse(remote_file(d, ".env"))["APP_IMAGE"] == V2
    assert f"rollback failed image={BROKEN} previous={V2}" in remote_file(d, "deploy.log")


def test_rollback_waits_the_rollback_timeout_not_the_deploy_timeout(
    deploy_env: DeployEnv,
) -> None:
    """A manual rollback brings back a known-good image, like the automatic one: it waits
    DEPLOY_ROLLBACK_TIMEOUT. Here the app needs ~3 s to start and DEPLOY_TIMEOUT is 1 s."""
    d = deploy_env
    deploy_ok(d, V1)
    deploy_ok(d, V2)
    (d.server.base / "session.env").write_text("export FAKE_DOCKER_START_DELAY=3\n")
    result = d.fab("rollback", DEPLOY_TIMEOUT="1", DEPLOY_ROLLBACK_TIMEOUT="40")
    assert result.returncode == 0, result.output
    assert "waiting up to 40s" in result.stdout
    assert app_health(d.app_port)[1]["image"] == V1

    slow = d.fab("rollback", "--image", V2, DEPLOY_TIMEOUT="40", DEPLOY_ROLLBACK_TIMEOUT="1")
    assert slow.returncode == 1, slow.output
    assert "not healthy within 1s" in slow.stderr


def test_unknown_running_image_stops_the_deploy_loudly(deploy_env: DeployEnv) -> None:
    d = deploy_env
    deploy_ok(d, V1)
    (d.server.base / "session.env").write_text("export FAKE_DOCKER_PS_FAILS=1\n")
    result = d.fab("deploy", APP_IMAGE=V2)
    assert result.returncode == 1
    assert "cannot tell which image runs" in result.stderr
    assert not any(c["argv"][-1] == V2 for c in d.server.docker_calls())
    assert remote_file(d, ".last_successful_image").strip() == V1
    assert app_health(d.app_port)[1]["image"] == V1
