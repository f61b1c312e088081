"""Deploy settings, read and validated from the environment (GitLab CI variables or a shell).

Every problem is collected and reported at once, naming the variable, never its value.
"""

from __future__ import annotations

import getpass
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from deploy import envfile

# A Docker image reference: [registry[:port]/]path[:tag][@sha256:digest], lower-case path.
IMAGE_RE = re.compile(
    r"^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?/)?"
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$"
)
HOST_RE = re.compile(r"^[A-Za-z0-9._:\-\[\]]+$")
USER_RE = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}$")
PATH_RE = re.compile(r"^/[A-Za-z0-9._/\-]*$")
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
# Compose v2 (the docker CLI plugin, production) or v1 (`docker-compose`, Debian's package).
COMPOSE_COMMANDS = (("docker", "compose"), ("docker-compose",))
# What one entry of DEPLOY_HOSTS may set for its host besides the address.
HOST_OVERRIDES = frozenset(
    {
        "DEPLOY_USER",
        "DEPLOY_PATH",
        "COMPOSE_PROJECT_NAME",
        "APP_PORT",
        "HEALTHCHECK_URL",
        "EXTERNAL_HEALTHCHECK_URL",
        "REMOTE_ENV_FILE",
    }
)


class SettingsError(ValueError):
    """One or more deploy variables are missing or invalid; ``str()`` lists them."""


@dataclass(frozen=True)
class DeploySettings:
    host: str
    port: int
    user: str
    path: str
    image: str
    private_key: str = field(repr=False)
    key_file: str
    key_passphrase: str = field(repr=False)
    known_hosts: str
    registry: str
    registry_user: str
    registry_password: str = field(repr=False)
    compose_file: str
    compose_command: tuple[str, ...]
    compose_service: str
    compose_project: str
    compose_profiles: tuple[str, ...]
    remote_env_file: str
    timeout: float
    rollback_timeout: float
    healthcheck_url: str
    healthcheck_accept: tuple[str, ...]
    external_healthcheck_url: str
    env_values: dict[str, str] = field(repr=False)
    keep_images: int
    actor: str
    commit: str

    @property
    def secrets(self) -> set[str]:
        """Values that must never appear in output, logs or command lines."""
        found = envfile.secret_values(self.env_values)
        for value in (self.private_key, self.key_passphrase, self.registry_password):
            if value:
                found.add(value)
                found.update(line for line in value.splitlines() if len(line) > 16)
        return {s for s in found if len(s) >= 4}

    @property
    def target(self) -> str:
        return f"{self.user}@{self.host}:{self.port}"

    def remote(self, name: str) -> str:
        """A path inside DEPLOY_PATH."""
        return f"{self.path.rstrip('/')}/{name}"


def _int(
    env: Mapping[str, str], name: str, default: int, lo: int, hi: int, errors: list[str]
) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        errors.append(f"{name} must be a whole number")
        return default
    if not lo <= value <= hi:
        errors.append(f"{name} must be between {lo} and {hi}")
    return value


def _url(env: Mapping[str, str], name: str, default: str, errors: list[str]) -> str:
    value = env.get(name, "").strip() or default
    if value and not re.match(r"^https?://[^\s'\"\\]+$", value):
        errors.append(f"{name} must be an http:// or https:// URL without spaces or quotes")
    return value


def _read_file(path: str, name: str, errors: list[str]) -> str:
    try:
        return Path(path).expanduser().read_text()
    except OSError as exc:
        errors.append(f"{name}: cannot read the file ({exc.strerror})")
        return ""


def resolve_image(env: Mapping[str, str]) -> str:
    """APP_IMAGE, else CI_REGISTRY_IMAGE:IMAGE_TAG (IMAGE_TAG defaults to the commit SHA)."""
    image = env.get("APP_IMAGE", "").strip()
    if image:
        return image
    repo = env.get("CI_REGISTRY_IMAGE", "").strip()
    tag = (
        env.get("IMAGE_TAG", "").strip()
        or env.get("CI_COMMIT_SHORT_SHA", "").strip()
        or env.get("CI_COMMIT_SHA", "").strip()[:12]
    )
    return f"{repo}:{tag}" if repo and tag else ""


def load(
    env: Mapping[str, str] | None = None,
    *,
    require_image: bool = True,
    require_host_keys: bool = True,
) -> DeploySettings:
    env = os.environ if env is None else env
    errors: list[str] = []

    host = env.get("DEPLOY_HOST", "").strip()
    if not host:
        errors.append("DEPLOY_HOST is not set (the VPN address or name of the server)")
    elif not HOST_RE.match(host):
        errors.append("DEPLOY_HOST is not a host name or IP address")
    port = _int(env, "DEPLOY_PORT", 22, 1, 65535, errors)
    user = env.get("DEPLOY_USER", "").strip() or "deploy"
    if not USER_RE.match(user):
        errors.append("DEPLOY_USER is not a valid user name")
    path = env.get("DEPLOY_PATH", "").strip() or "/opt/vault-dash"
    if not PATH_RE.match(path) or "/../" in f"{path}/" or path.rstrip("/") == "":
        errors.append("DEPLOY_PATH must be an absolute path of letters, digits, '._-/'")
    path = path.rstrip("/")

    image = resolve_image(env)
    if require_image and not image:
        errors.append("APP_IMAGE is not set (nor CI_REGISTRY_IMAGE with IMAGE_TAG/CI_COMMIT_SHA)")
    elif image and not IMAGE_RE.match(image):
        errors.append("APP_IMAGE is not a valid image reference")

    private_key = env.get("DEPLOY_SSH_PRIVATE_KEY", "")
    key_file = env.get("DEPLOY_SSH_KEY_FILE", "").strip()
    if private_key.strip() and key_file:
        errors.append("set only one of DEPLOY_SSH_PRIVATE_KEY and DEPLOY_SSH_KEY_FILE")
    if not private_key.strip() and not key_file:
        errors.append("DEPLOY_SSH_PRIVATE_KEY (key text) or DEPLOY_SSH_KEY_FILE (path) is required")
    if key_file and not Path(key_file).expanduser().is_file():
        errors.append("DEPLOY_SSH_KEY_FILE does not name a readable file")

    known_hosts = env.get("DEPLOY_KNOWN_HOSTS", "")
    known_hosts_file = env.get("DEPLOY_KNOWN_HOSTS_FILE", "").strip()
    if known_hosts_file:
        known_hosts += "\n" + _read_file(known_hosts_file, "DEPLOY_KNOWN_HOSTS_FILE", errors)
    if require_host_keys and not known_hosts.strip():
        errors.append(
            "DEPLOY_KNOWN_HOSTS (or DEPLOY_KNOWN_HOSTS_FILE) must pin the server's host key; "
            "get it with `ssh-keyscan -p PORT HOST` over a trusted network and compare "
            "fingerprints, or pass --accept-any-host-key to opt out explicitly"
        )

    registry = env.get("CI_REGISTRY", "").strip()
    registry_user = env.get("CI_REGISTRY_USER", "").strip()
    registry_password = env.get("CI_REGISTRY_PASSWORD", "")
    if registry and not HOST_RE.match(registry):
        errors.append("CI_REGISTRY is not a registry host name")
    if registry_user and not re.match(r"^[A-Za-z0-9._@+\-]+$", registry_user):
        errors.append("CI_REGISTRY_USER contains characters not allowed in a user name")
    if bool(registry_user) != bool(registry_password):
        errors.append("CI_REGISTRY_USER and CI_REGISTRY_PASSWORD must be set together")

    compose_file = env.get("COMPOSE_FILE", "").strip() or "docker-compose.deploy.yml"
    if not re.match(r"^[A-Za-z0-9._-]+\.ya?ml$", compose_file):
        errors.append("COMPOSE_FILE must be a file name ending in .yml inside DEPLOY_PATH")
    compose_command = tuple((env.get("COMPOSE_COMMAND", "").strip() or "docker compose").split())
    if compose_command not in COMPOSE_COMMANDS:
        errors.append("COMPOSE_COMMAND must be 'docker compose' or 'docker-compose'")
    service = env.get("COMPOSE_SERVICE", "").strip() or "app"
    project = env.get("COMPOSE_PROJECT_NAME", "").strip() or "vault-dash"
    profiles = tuple(p.strip() for p in env.get("COMPOSE_PROFILES", "").split(",") if p.strip())
    for label, value in (("COMPOSE_SERVICE", service), ("COMPOSE_PROJECT_NAME", project)):
        if not NAME_RE.match(value):
            errors.append(f"{label} must be lower-case letters, digits, '._-'")
    if any(not NAME_RE.match(p) for p in profiles):
        errors.append("COMPOSE_PROFILES must be a comma-separated list of profile names")

    remote_env = env.get("REMOTE_ENV_FILE", "").strip() or f"{path}/.env"
    if not PATH_RE.match(remote_env):
        errors.append("REMOTE_ENV_FILE must be an absolute path")

    timeout = float(_int(env, "DEPLOY_TIMEOUT", 120, 1, 3600, errors))
    rollback_timeout = float(_int(env, "DEPLOY_ROLLBACK_TIMEOUT", int(timeout), 1, 3600, errors))

    # The .env: APP_ENV_FILE wholesale, or assembled from the individual variables.
    env_values: dict[str, str] = {}
    raw_env_file = env.get("APP_ENV_FILE", "")
    try:
        env_values = envfile.parse(raw_env_file) if raw_env_file.strip() else envfile.assemble(env)
        envfile.render(env_values)
    except envfile.EnvFileError as exc:
        source = "APP_ENV_FILE" if raw_env_file.strip() else "app variables"
        errors.append(f"{source}: {exc}")
    if require_image:
        errors.extend(envfile.production_problems(env_values))

    app_port = env_values.get("APP_PORT", "8000")
    if not app_port.isdigit():
        errors.append("APP_PORT must be a port number")
    health_url = _url(env, "HEALTHCHECK_URL", f"http://127.0.0.1:{app_port}/health", errors)
    external_url = _url(env, "EXTERNAL_HEALTHCHECK_URL", "", errors)
    accept = tuple(
        s.strip() for s in (env.get("HEALTHCHECK_ACCEPT", "") or "ok").split(",") if s.strip()
    )
    if not set(accept) <= {"ok", "degraded"}:
        errors.append("HEALTHCHECK_ACCEPT must be 'ok' or 'ok,degraded'")

    keep = _int(env, "DEPLOY_KEEP_IMAGES", 5, 2, 100, errors)

    if errors:
        raise SettingsError("deploy settings are incomplete:\n  - " + "\n  - ".join(errors))

    actor = env.get("GITLAB_USER_LOGIN") or env.get("USER") or _safe_getuser()
    job = env.get("CI_JOB_ID", "")
    return DeploySettings(
        host=host,
        port=port,
        user=user,
        path=path,
        image=image,
        private_key=private_key,
        key_file=key_file,
        key_passphrase=env.get("DEPLOY_SSH_KEY_PASSPHRASE", ""),
        known_hosts=known_hosts,
        registry=registry,
        registry_user=registry_user,
        registry_password=registry_password,
        compose_file=compose_file,
        compose_command=compose_command,
        compose_service=service,
        compose_project=project,
        compose_profiles=profiles,
        remote_env_file=remote_env,
        timeout=timeout,
        rollback_timeout=rollback_timeout,
        healthcheck_url=health_url,
        healthcheck_accept=accept,
        external_healthcheck_url=external_url,
        env_values=env_values,
        keep_images=keep,
        actor=re.sub(r"[^A-Za-z0-9._@/-]", "_", f"{actor}{'/job-' + job if job else ''}"),
        commit=re.sub(r"[^0-9a-f]", "", env.get("CI_COMMIT_SHA", ""))[:40],
    )


def _safe_getuser() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def parse_hosts(raw: str) -> list[dict[str, str]]:
    """DEPLOY_HOSTS: entries separated by commas or new lines, each ``host[:port]`` optionally
    followed by ``NAME=value`` overrides for that host (names in :data:`HOST_OVERRIDES`).

    Returns one dict of variables per host (DEPLOY_HOST, DEPLOY_PORT when given, overrides).
    """
    hosts: list[dict[str, str]] = []
    errors: list[str] = []
    for number, entry in enumerate(re.split(r"[,\n]", raw), start=1):
        words = entry.split()
        if not words:
            continue
        address, overrides = words[0], words[1:]
        host, port = address, ""
        match = re.match(r"^(\[[0-9a-fA-F:]+\]|[^:]+)(?::([0-9]+))?$", address)
        if match is None or not HOST_RE.match(address):
            errors.append(f"DEPLOY_HOSTS entry {number} is not host[:port]")
            continue
        host, port = match.group(1).strip("[]"), match.group(2) or ""
        values = {"DEPLOY_HOST": host}
        if port:
            values["DEPLOY_PORT"] = port
        for word in overrides:
            name, sep, value = word.partition("=")
            if not sep or name not in HOST_OVERRIDES:
                errors.append(
                    f"DEPLOY_HOSTS entry {number}: {name!r} is not NAME=value with NAME one of "
                    + ", ".join(sorted(HOST_OVERRIDES))
                )
                continue
            values[name] = value
        hosts.append(values)
    if errors:
        raise SettingsError("deploy settings are incomplete:\n  - " + "\n  - ".join(errors))
    return hosts


def load_all(
    env: Mapping[str, str] | None = None,
    *,
    require_image: bool = True,
    require_host_keys: bool = True,
) -> list[DeploySettings]:
    """The settings of every target: DEPLOY_HOSTS (in order) or the one DEPLOY_HOST."""
    env = os.environ if env is None else env
    raw = env.get("DEPLOY_HOSTS", "")
    if not raw.strip():
        return [load(env, require_image=require_image, require_host_keys=require_host_keys)]
    if env.get("DEPLOY_HOST", "").strip():
        raise SettingsError(
            "deploy settings are incomplete:\n  - set DEPLOY_HOST or DEPLOY_HOSTS, not both"
        )
    return [
        load({**env, **host}, require_image=require_image, require_host_keys=require_host_keys)
        for host in parse_hosts(raw)
    ]
