"""``fab deploy`` on the real engine over the loopback sshd: images pulled from a real
registry on loopback (Debian's docker-registry), started by docker-compose, health polled
with curl on the "host". Run with ``pytest -m engine``.

A first deploy, an upgrade, a broken image rolled back automatically, ``fab rollback``,
``fab status/logs/health``; then a rolling deploy to two hosts (two sshd, each its own
DEPLOY_PATH, compose project and port on the one engine).
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy import envfile
from tests.deploy.conftest import DeployEnv, make_deploy_env
from tests.deploy.engine import Engine, Registry, http_get, remove_project, start_registry
from tests.deploy.sshd import SSHServer, sshd_problem, start_sshd
from tests.support.services import free_port

pytestmark = [pytest.mark.engine, pytest.mark.slow, pytest.mark.timeout(1200)]

BROKEN_DOCKERFILE = """FROM {base}
# A release that cannot reach its database: the app never starts serving.
ENV DATABASE_URL=postgres://broken@127.0.0.1:9/broken?connect_timeout=1
"""


@pytest.fixture(scope="module")
def images(engine: Engine, app_image: str, tmp_path_factory) -> Iterator[dict[str, str]]:
    """v1, v2 (the built image under two tags) and v3-broken, pushed to a loopback registry;
    the local tags are removed so that each deploy really pulls."""
    registry: Registry = start_registry(tmp_path_factory.mktemp("registry"), free_port())
    repo = f"{registry.address}/vault/vault-dash"
    tags = {"v1": f"{repo}:v1", "v2": f"{repo}:v2", "broken": f"{repo}:v3-broken"}
    try:
        engine.run("tag", app_image, tags["v1"])
        engine.run("tag", app_image, tags["v2"])
        context = tmp_path_factory.mktemp("broken")
        (context / "Dockerfile").write_text(BROKEN_DOCKERFILE.format(base=app_image))
        engine.build(context, tags["broken"])
        for tag in tags.values():
            engine.run("push", tag, timeout=600)
            engine.run("image", "rm", tag)
        yield tags
    finally:
        for tag in tags.values():
            engine.run("image", "rm", tag, check=False)
        registry.stop()


def real_engine_sshd(base: Path) -> SSHServer:
    problem = sshd_problem()
    if problem is not None:
        from tests.conftest import _require

        _require("OpenSSH server", problem)
    return start_sshd(base, fake_docker=False)


def engine_env(server: SSHServer, tmp_path: Path, image: str) -> DeployEnv:
    d = make_deploy_env(server, tmp_path)
    for name in ("CI_REGISTRY", "CI_REGISTRY_USER", "CI_REGISTRY_PASSWORD"):
        d.env.pop(name)
    d.env.update(
        {
            "APP_IMAGE": image,
            "COMPOSE_COMMAND": "docker-compose",
            "COMPOSE_PROJECT_NAME": f"vault-ci-deploy-{secrets.token_hex(3)}",
            "DEPLOY_TIMEOUT": "120",
            "DEPLOY_ROLLBACK_TIMEOUT": "120",
            # The host reaches the app through the engine's port mapping, not from loopback
            # inside the container: /health gives details to the health token only.
            "HEALTH_TOKEN": HEALTH_TOKEN,
        }
    )
    return d


HEALTH_TOKEN = secrets.token_urlsafe(32)


def health_body(port: int) -> dict[str, object]:
    status, _, body = http_get(
        f"http://127.0.0.1:{port}/health", headers={"X-Health-Token": HEALTH_TOKEN}
    )
    data = json.loads(body)
    assert isinstance(data, dict)
    data["http_status"] = status
    return data


def running_container(engine: Engine, project: str) -> tuple[str, str]:
    """(container id, image) of the project's app service, from the engine itself."""
    ids = engine.run(
        "ps",
        "-q",
        "--filter",
        f"label=com.docker.compose.project={project}",
        "--filter",
        "label=com.docker.compose.service=app",
    ).stdout.split()
    assert len(ids) == 1, ids
    return ids[0], engine.inspect(ids[0])["Config"]["Image"]  # type: ignore[index]


def test_deploy_upgrade_broken_rollback_and_the_read_only_tasks(
    engine: Engine, images: dict[str, str], tmp_path: Path
) -> None:
    server = real_engine_sshd(tmp_path / "sshd")
    d = engine_env(server, tmp_path, images["v1"])
    project = d.env["COMPOSE_PROJECT_NAME"]
    try:
        bootstrap = d.fab("bootstrap")
        assert bootstrap.returncode == 0, bootstrap.output
        assert re.search(r"^docker: \d+\.\d+", bootstrap.stdout, re.M), bootstrap.stdout
        assert "docker-compose: 1." in bootstrap.stdout

        first = d.fab("deploy")
        assert first.returncode == 0, first.output
        body = health_body(d.app_port)
        assert (body["http_status"], body["status"], body["image"]) == (200, "ok", images["v1"])
        assert running_container(engine, project)[1] == images["v1"]
        assert (d.deploy_path / ".last_successful_image").read_text().strip() == images["v1"]

        upgrade = d.fab("deploy", APP_IMAGE=images["v2"])
        assert upgrade.returncode == 0, upgrade.output
        assert f"previous: {images['v1']}" in upgrade.stdout
        v2_container, image = running_container(engine, project)
        assert image == images["v2"]
        assert health_body(d.app_port)["image"] == images["v2"]
        history = (d.deploy_path / ".image_history").read_text().split()
        assert history == [images["v1"], images["v2"]]

        broken = d.fab("deploy", APP_IMAGE=images["broken"], DEPLOY_TIMEOUT="15")
        assert broken.returncode == 1, broken.output
        assert f"deploy of {images['broken']} failed" in broken.stderr
        assert f"rolled back to {images['v2']}, which is healthy again" in broken.stderr
        assert running_container(engine, project)[1] == images["v2"]
        assert health_body(d.app_port)["image"] == images["v2"]
        assert (d.deploy_path / ".last_successful_image").read_text().strip() == images["v2"]
        values = envfile.parse((d.deploy_path / ".env").read_text())
        assert values["APP_IMAGE"] == images["v2"]

        rollback = d.fab("rollback")
        assert rollback.returncode == 0, rollback.output
        assert f"rolled back to {images['v1']}" in rollback.stdout
        assert running_container(engine, project)[1] == images["v1"]
        assert health_body(d.app_port)["image"] == images["v1"]
        assert (d.deploy_path / ".last_successful_image").read_text().strip() == images["v1"]

        status = d.fab("status")
        assert status.returncode == 0, status.output
        assert f"running image:         {images['v1']}" in status.stdout
        assert f"last successful image: {images['v1']}" in status.stdout
        assert "deploy lock:           free" in status.stdout
        assert f"rollback ok image={images['v1']} previous={images['v2']}" in status.stdout
        assert re.search(r"_app_1 .* Up", status.stdout), status.stdout  # compose ps
        logs = d.fab("logs", "--tail", "50")
        assert logs.returncode == 0, logs.output
        assert '"GET /health' in logs.stdout
        health = d.fab("health")
        assert health.returncode == 0 and "status=ok" in health.stdout, health.output

        container, _ = running_container(engine, project)
        engine.run("stop", container, timeout=60)
        down = d.fab("health")
        assert down.returncode == 1
        assert "unreachable" in down.stderr
        assert "running image:         none" in d.fab("status").stdout
        assert v2_container != container
    finally:
        server.stop()
        remove_project(engine, project)


def test_rolling_deploy_to_two_hosts_stops_at_the_first_failure(
    engine: Engine, images: dict[str, str], tmp_path: Path
) -> None:
    servers = [real_engine_sshd(tmp_path / f"sshd{i}") for i in (1, 2)]
    d = engine_env(servers[0], tmp_path, images["v1"])
    hosts = []
    projects = []
    ports = []
    paths = []
    for number, server in enumerate(servers, start=1):
        project = f"vault-ci-host{number}-{secrets.token_hex(3)}"
        port = free_port()
        path = tmp_path / f"host{number}" / "vault-dash"
        hosts.append(
            f"127.0.0.1:{server.port} DEPLOY_PATH={path} COMPOSE_PROJECT_NAME={project} "
            f"APP_PORT={port}"
        )
        projects.append(project)
        ports.append(port)
        paths.append(path)
    d.env.pop("DEPLOY_HOST")
    d.env.pop("DEPLOY_PORT")
    d.env["DEPLOY_HOSTS"] = ",".join(hosts)
    d.env["DEPLOY_KNOWN_HOSTS"] = "\n".join(s.known_hosts_line for s in servers) + "\n"
    d.env["DEPLOY_SSH_PRIVATE_KEY"] = servers[0].client_key.read_text()
    # One deployer key for both hosts, as in real life.
    servers[1].base.joinpath("authorized_keys").write_text(
        servers[0].base.joinpath("authorized_keys").read_text()
    )
    try:
        first = d.fab("deploy")
        assert first.returncode == 0, first.output
        assert first.stdout.index("host 1/2") < first.stdout.index("host 2/2")
        for port, project in zip(ports, projects, strict=True):
            assert health_body(port)["image"] == images["v1"]
            assert running_container(engine, project)[1] == images["v1"]

        host2_before = running_container(engine, projects[1])[0]

        broken = d.fab("deploy", APP_IMAGE=images["broken"], DEPLOY_TIMEOUT="15")
        assert broken.returncode == 1, broken.output
        assert f"127.0.0.1:{servers[0].port}; already done: none" in broken.stderr
        assert f"not touched: {d.env.get('DEPLOY_USER')}@127.0.0.1:{servers[1].port}" in (
            broken.stderr
        )
        # Host 1 was rolled back to v1 and is healthy; host 2 was never touched.
        assert health_body(ports[0])["image"] == images["v1"]
        assert running_container(engine, projects[0])[1] == images["v1"]
        assert running_container(engine, projects[1]) == (host2_before, images["v1"])
        assert health_body(ports[1])["image"] == images["v1"]
        for path in paths:
            assert (path / ".last_successful_image").read_text().strip() == images["v1"]
        assert "host 2/2" not in broken.stdout
        assert images["broken"] not in (paths[1] / "deploy.log").read_text()
    finally:
        for server in servers:
            server.stop()
        for project in projects:
            remove_project(engine, project)
