"""Fixtures for the deploy tests: a real sshd on loopback and a way to run ``fab``.

The sshd fixture skips when OpenSSH's server is absent, or fails under
``VAULT_REQUIRE_SERVICES=1`` (as the other service fixtures do).
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.deploy.engine import (
    APP_IMAGE,
    BASE_IMAGE,
    SERVICE_IMAGES,
    Engine,
    docker_binary,
    engine_problem,
)
from tests.deploy.sshd import ROOT, SSHServer, sshd_problem, start_sshd
from tests.support import services
from tests.support.services import free_port


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[SSHServer]:
    problem = sshd_problem()
    if problem is not None:
        message = f"OpenSSH server is not available: {problem}"
        if services.REQUIRE_SERVICES:
            pytest.fail(f"{message} (VAULT_REQUIRE_SERVICES=1)")
        pytest.skip(message)
    server = start_sshd(tmp_path / "sshd")
    try:
        yield server
    finally:
        server.stop()


@dataclass
class FabResult:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@dataclass
class DeployEnv:
    """The deploy variables a CI job would set, pointed at the test sshd."""

    server: SSHServer
    deploy_path: Path
    env: dict[str, str]

    @property
    def secrets(self) -> dict[str, str]:
        return {
            name: self.env[name]
            for name in ("NICEGUI_STORAGE_SECRET", "CI_REGISTRY_PASSWORD", "DEPLOY_SSH_PRIVATE_KEY")
        }

    @property
    def app_port(self) -> int:
        return int(self.env["APP_PORT"])

    def fab(self, *args: str, **overrides: str) -> FabResult:
        """``fab args`` to its end (3 minutes at most)."""
        process = self.start(*args, **overrides)
        try:
            stdout, stderr = process.communicate(timeout=180)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise
        return FabResult(process.returncode, stdout, stderr)

    def start(self, *args: str, **overrides: str) -> subprocess.Popen[str]:
        """``fab args`` started, its output piped, not waited for."""
        env = {**self.env, **overrides}
        return subprocess.Popen(
            [sys.executable, "-m", "fabric", *args],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


@pytest.fixture
def deploy_env(sshd: SSHServer, tmp_path: Path) -> DeployEnv:
    return make_deploy_env(sshd, tmp_path)


def make_deploy_env(sshd: SSHServer, tmp_path: Path) -> DeployEnv:
    deploy_path = tmp_path / "srv" / "vault-dash"
    base_env = {
        k: v
        for k, v in os.environ.items()
        if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
    }
    env = {
        **base_env,
        "PYTHONUNBUFFERED": "1",
        "DEPLOY_HOST": "127.0.0.1",
        "DEPLOY_PORT": str(sshd.port),
        "DEPLOY_USER": sshd.user,
        "DEPLOY_PATH": str(deploy_path),
        "DEPLOY_SSH_PRIVATE_KEY": sshd.client_key.read_text(),
        "DEPLOY_KNOWN_HOSTS": sshd.known_hosts_line + "\n",
        "DEPLOY_TIMEOUT": "40",
        "CI_REGISTRY": "registry.example.test",
        "CI_REGISTRY_USER": "gitlab-ci-token",
        "CI_REGISTRY_PASSWORD": "glcbt-" + secrets.token_urlsafe(24),
        "APP_IMAGE": "registry.example.test/vault/vault-dash:v1",
        "APP_ENV": "production",
        "APP_PORT": str(free_port()),
        "APP_BIND_ADDRESS": "127.0.0.1",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "NICEGUI_STORAGE_SECRET": secrets.token_urlsafe(48),
        "SECURE_SSL_REDIRECT": "false",
        "MARKET_DATA_PROVIDER": "synthetic",
        "CI_COMMIT_SHA": "0123456789abcdef0123456789abcdef01234567",
        "GITLAB_USER_LOGIN": "tester",
    }
    return DeployEnv(sshd, deploy_path, env)


# -- the real container engine (tests marked `engine`) ---------------------------------------
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Engine tests build images and start containers: they run only when asked for with a
    marker expression naming them (`-m engine`, as .ci/run's engine step does)."""
    if "engine" in (config.getoption("markexpr") or ""):
        return
    kept = [item for item in items if item.get_closest_marker("engine") is None]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept


@pytest.fixture(scope="session")
def engine() -> Engine:
    from tests.conftest import _require

    _require("container engine", engine_problem())
    docker = docker_binary()
    assert docker is not None
    return Engine(docker)


@pytest.fixture(scope="session")
def app_image(engine: Engine) -> str:
    """The app image, built once per session from the working tree on the local base."""
    engine.build(ROOT, APP_IMAGE, f"PYTHON_IMAGE={BASE_IMAGE}")
    return APP_IMAGE


@pytest.fixture(scope="session")
def service_images(engine: Engine) -> dict[str, str]:
    """The Redis, PostgreSQL and Caddy stand-ins of deploy/images/ (built once, cached)."""
    for variable, tag in SERVICE_IMAGES.items():
        name = variable.removesuffix("_IMAGE").lower()
        engine.build(ROOT / "deploy" / "images" / name, tag, f"BASE_IMAGE={BASE_IMAGE}")
    return dict(SERVICE_IMAGES)
