"""The real container engine for the ``engine`` tests (tools/container-engine.sh sets it up).

Images are built once per session with the engine's layer cache (a rebuild with nothing
changed takes seconds) and shared by every test. Containers, volumes and networks a test
creates carry the label/project prefix ``vault-ci`` and are removed by the test.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tests.support.server import stop_process

ROOT = Path(__file__).resolve().parents[2]
BASE_IMAGE = os.environ.get("VAULT_BASE_IMAGE", "vault-dash/python-base:trixie")
APP_IMAGE = "vault-dash:ci"
SERVICE_IMAGES = {
    "REDIS_IMAGE": "vault-dash/redis:ci",
    "POSTGRES_IMAGE": "vault-dash/postgres:ci",
    "CADDY_IMAGE": "vault-dash/caddy:ci",
}
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def docker_binary() -> str | None:
    # Debian's CLI first: its `build` drives the daemon's BuildKit without the buildx plugin.
    return "/usr/bin/docker" if Path("/usr/bin/docker").exists() else shutil.which("docker")


def engine_problem() -> str | None:
    """Why the engine tests cannot run here, or None."""
    docker = docker_binary()
    if docker is None:
        return "no docker CLI (bash tools/container-engine.sh installs Debian's docker.io)"
    if shutil.which("docker-compose") is None:
        return "no docker-compose (bash tools/container-engine.sh installs it)"
    info = subprocess.run([docker, "info"], capture_output=True, text=True, timeout=30)
    if info.returncode != 0:
        return f"dockerd is not running ({info.stderr.strip()[:200]}); tools/container-engine.sh"
    base = subprocess.run([docker, "image", "inspect", BASE_IMAGE], capture_output=True)
    if base.returncode != 0:
        return f"the base image {BASE_IMAGE} is missing (bash tools/base-image.sh)"
    return None


@dataclass
class Engine:
    docker: str

    def run(
        self, *args: str, check: bool = True, timeout: float = 120, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [self.docker, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            input=input,
            env={**os.environ, "DOCKER_BUILDKIT": "1"},
        )
        if check and done.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} failed: {done.stderr[-3000:]}")
        return done

    def build(self, context: Path, tag: str, *build_args: str) -> float:
        """Build ``context`` as ``tag``; the seconds it took."""
        secret = [f"--secret=id=build_ca,src={CA_BUNDLE}"] if CA_BUNDLE.exists() else []
        args = [f"--build-arg={a}" for a in build_args]
        started = time.monotonic()
        self.run("build", "-q", *secret, *args, "-t", tag, str(context), timeout=1800)
        return time.monotonic() - started

    def inspect(self, name: str) -> dict[str, object]:
        data = json.loads(self.run("inspect", name).stdout)
        assert isinstance(data, list) and data
        return dict(data[0])

    def health(self, container: str) -> str:
        out = self.run(
            "inspect", "-f", "{{if .State.Health}}{{.State.Health.Status}}{{end}}", container
        )
        return out.stdout.strip()

    def wait_healthy(self, container: str, timeout: float = 90) -> float:
        """Seconds until the engine's own health check reports ``healthy``."""
        started = time.monotonic()
        while True:
            status = self.health(container)
            if status == "healthy":
                return time.monotonic() - started
            state = self.inspect(container)["State"]
            assert isinstance(state, dict)
            if time.monotonic() - started > timeout or state.get("Status") == "exited":
                logs = self.run("logs", "--tail", "40", container, check=False)
                raise AssertionError(
                    f"{container} is {status or state.get('Status')} after "
                    f"{time.monotonic() - started:.0f}s:\n{logs.stdout}{logs.stderr}"
                )
            time.sleep(0.5)

    def logs(self, container: str) -> str:
        done = self.run("logs", container, check=False)
        return done.stdout + done.stderr


def http_get(
    url: str,
    *,
    timeout: float = 10,
    headers: dict[str, str] | None = None,
    **more_headers: str,
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers={**(headers or {}), **more_headers})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def wait_http(url: str, timeout: float = 60, **headers: str) -> float:
    """Seconds until ``url`` answers 200."""
    started = time.monotonic()
    last = ""
    while time.monotonic() - started < timeout:
        try:
            if http_get(url, timeout=5, headers=dict(headers))[0] == 200:
                return time.monotonic() - started
        except OSError as exc:
            last = str(exc)
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer 200 within {timeout:g}s ({last})")


def remove_project(engine: Engine, project: str) -> None:
    """Remove every container, volume and network of a compose project (test clean-up)."""
    label = f"label=com.docker.compose.project={project}"
    for kind, listing in (
        ("container", ("ps", "-aq")),
        ("volume", ("volume", "ls", "-q")),
        ("network", ("network", "ls", "-q")),
    ):
        ids = engine.run(*listing, "--filter", label, check=False).stdout.split()
        if ids:
            remove = ("rm", "-f", "-v") if kind == "container" else (kind, "rm")
            engine.run(*remove, *ids, check=False, timeout=120)


@dataclass
class Registry:
    """Debian's docker-registry (distribution 2.8) on a loopback port, storage in a temp dir."""

    address: str
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        stop_process(self.process)


def start_registry(directory: Path, port: int) -> Registry:
    binary = shutil.which("docker-registry")
    assert binary, "docker-registry is missing (bash tools/container-engine.sh installs it)"
    config = directory / "registry.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {directory / 'storage'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    log = (directory / "registry.log").open("wb")
    process = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    registry = Registry(f"127.0.0.1:{port}", process)
    try:
        wait_http(f"http://127.0.0.1:{port}/v2/", timeout=30)
    except AssertionError:
        registry.stop()
        raise
    return registry
