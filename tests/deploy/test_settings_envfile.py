"""Deploy settings validation and .env rendering (no SSH needed)."""

from __future__ import annotations

import io
import re
import secrets
from pathlib import Path
from typing import Any

import pytest

from deploy import envfile, settings
from deploy.remote import Redactor, Reporter

SECRET = secrets.token_urlsafe(48)


def base_env(**extra: str) -> dict[str, str]:
    env = {
        "DEPLOY_HOST": "10.8.0.5",
        "DEPLOY_USER": "deploy",
        "DEPLOY_SSH_PRIVATE_KEY": "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----\n",
        "DEPLOY_KNOWN_HOSTS": "10.8.0.5 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDkey",
        "APP_IMAGE": "registry.gitlab.com/group/vault-dash:0a1b2c3d",
        "NICEGUI_STORAGE_SECRET": SECRET,
        "ALLOWED_HOSTS": "vault.example.com",
    }
    env.update(extra)
    return env


def test_defaults_follow_the_seed() -> None:
    s = settings.load(base_env())
    assert (s.port, s.path, s.compose_file, s.compose_service) == (
        22,
        "/opt/vault-dash",
        "docker-compose.deploy.yml",
        "app",
    )
    assert s.healthcheck_url == "http://127.0.0.1:8000/health"
    assert s.remote_env_file == "/opt/vault-dash/.env"
    assert s.timeout == 120 and s.rollback_timeout == 120
    assert s.env_values["APP_ENV"] == "production"
    assert s.env_values["APP_BIND_ADDRESS"] == "127.0.0.1"


def test_image_from_registry_variables() -> None:
    env = base_env(CI_REGISTRY_IMAGE="registry.gitlab.com/g/vault", CI_COMMIT_SHORT_SHA="abc1234")
    del env["APP_IMAGE"]
    assert settings.load(env).image == "registry.gitlab.com/g/vault:abc1234"
    env["IMAGE_TAG"] = "v1.2.3"
    assert settings.load(env).image == "registry.gitlab.com/g/vault:v1.2.3"


def test_health_url_follows_app_port() -> None:
    assert (
        settings.load(base_env(APP_PORT="9000")).healthcheck_url == "http://127.0.0.1:9000/health"
    )


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"DEPLOY_HOST": ""}, "DEPLOY_HOST is not set"),
        ({"DEPLOY_HOST": "host; rm -rf /"}, "DEPLOY_HOST is not a host name"),
        ({"DEPLOY_PORT": "70000"}, "DEPLOY_PORT must be between"),
        ({"DEPLOY_PATH": "relative/dir"}, "DEPLOY_PATH must be an absolute path"),
        ({"DEPLOY_PATH": "/opt/$(id)"}, "DEPLOY_PATH must be an absolute path"),
        ({"DEPLOY_USER": "root;id"}, "DEPLOY_USER is not a valid user name"),
        ({"APP_IMAGE": "Bad Image!"}, "APP_IMAGE is not a valid image reference"),
        ({"DEPLOY_KNOWN_HOSTS": ""}, "must pin the server's host key"),
        ({"DEPLOY_SSH_PRIVATE_KEY": ""}, "DEPLOY_SSH_PRIVATE_KEY (key text) or"),
        ({"CI_REGISTRY_USER": "u"}, "must be set together"),
        ({"NICEGUI_STORAGE_SECRET": "short"}, "at least 50 random characters"),
        ({"ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS must list"),
        ({"DEBUG": "true"}, "DEBUG must be off"),
        ({"DEPLOY_TIMEOUT": "soon"}, "DEPLOY_TIMEOUT must be a whole number"),
        ({"HEALTHCHECK_URL": "file:///etc/passwd"}, "HEALTHCHECK_URL must be an http"),
        ({"COMPOSE_FILE": "../x.yml"}, "COMPOSE_FILE must be a file name"),
        ({"COMPOSE_PROFILES": "redis,Bad Profile"}, "COMPOSE_PROFILES must be"),
        ({"HEALTHCHECK_ACCEPT": "error"}, "HEALTHCHECK_ACCEPT"),
        ({"APP_ENV_FILE": "NOT A LINE"}, "APP_ENV_FILE: line 1"),
    ],
)
def test_bad_settings_are_reported_by_name(override: dict[str, str], message: str) -> None:
    with pytest.raises(settings.SettingsError) as info:
        settings.load(base_env(**override))
    assert message in str(info.value)


def test_errors_never_echo_secret_values() -> None:
    env = base_env(NICEGUI_STORAGE_SECRET="tooshort-secret-value", APP_ENV_FILE="")
    with pytest.raises(settings.SettingsError) as info:
        settings.load(env)
    assert "tooshort-secret-value" not in str(info.value)


def test_opt_out_of_host_keys_is_explicit() -> None:
    env = base_env(DEPLOY_KNOWN_HOSTS="")
    assert settings.load(env, require_host_keys=False).known_hosts == ""


def test_app_env_file_is_used_wholesale() -> None:
    text = f"APP_ENV=production\nALLOWED_HOSTS=a.example\nNICEGUI_STORAGE_SECRET='{SECRET}'\n"
    s = settings.load(base_env(APP_ENV_FILE=text, DEFAULT_SYMBOL="SPY"))
    assert s.env_values == {
        "APP_ENV": "production",
        "ALLOWED_HOSTS": "a.example",
        "NICEGUI_STORAGE_SECRET": SECRET,
    }


@pytest.mark.parametrize(
    "value",
    ["plain", "with space", "dollar$HOME", "hash # not comment", 'dq"x', "p@ss:w/rd=1,2", ""],
)
def test_env_values_round_trip(value: str) -> None:
    text = envfile.render({"KEY": value})
    assert envfile.parse(text) == {"KEY": value}


def test_values_compose_would_misread_are_refused() -> None:
    for bad in ("line\nbreak", "it's $x"):
        with pytest.raises(envfile.EnvFileError):
            envfile.render({"KEY": bad})


def test_secret_values_include_url_passwords() -> None:
    found = envfile.secret_values(
        {
            "DATABASE_URL": "postgres://vault:hunter2-long@db:5432/vault",
            "REDIS_URL": "redis://redis:6379/0",
            "POSTGRES_PASSWORD": "hunter2-long",
            "APP_NAME": "Vault",
        }
    )
    assert "hunter2-long" in found
    assert "redis://redis:6379/0" not in found and "Vault" not in found


def test_settings_secrets_cover_key_and_registry_password() -> None:
    s = settings.load(
        base_env(CI_REGISTRY="r.example", CI_REGISTRY_USER="u", CI_REGISTRY_PASSWORD="pw-123456")
    )
    assert {SECRET, "pw-123456"} <= s.secrets
    assert any("OPENSSH PRIVATE KEY" in x for x in s.secrets)
    assert SECRET not in repr(s) and "pw-123456" not in repr(s)


def test_redactor() -> None:
    redact = Redactor(["abc123secret", "abc123"])
    assert redact("x abc123secret y abc123") == "x [REDACTED] y [REDACTED]"


class FakeRemote:
    """Just enough of deploy.remote.Remote for the health poller."""

    def __init__(self, answers: list[Any], settings_: settings.DeploySettings) -> None:
        self.answers = answers
        self.settings = settings_
        self.commands: list[str] = []
        self.written: dict[str, bytes] = {}
        self.reporter = Reporter(Redactor([]), io.StringIO())

    def write_file(self, path: str, content: bytes, mode: str, what: str) -> None:
        self.written[path] = content

    def run(self, command: str, **_: Any) -> Any:
        from deploy.remote import Result

        self.commands.append(command)
        code, out = self.answers.pop(0) if self.answers else (7, "")
        return Result(command, code, out, "curl: (7) Failed to connect" if code else "")


def test_poll_health_backs_off_and_stops_at_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    from deploy import flow

    clock = [0.0]
    monkeypatch.setattr(flow.time, "monotonic", lambda: clock[0])
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock[0] += seconds

    s = settings.load(base_env())
    remote = FakeRemote([(7, ""), (0, '{"status": "degraded"}\n200')], s)
    ok, message = flow.poll_health(remote, timeout=10, sleep=sleep)  # type: ignore[arg-type]
    assert not ok and "not healthy within 10s" in message
    assert abs(sum(sleeps) - 10) < 1e-9  # never sleeps past the deadline
    assert sleeps[:-1] == sorted(sleeps[:-1])  # linear back-off; the last one is cut short
    assert remote.commands[0].startswith("curl -sS --max-time ")
    assert remote.commands[0].endswith(" http://127.0.0.1:8000/health")

    clock[0] = 0.0
    remote = FakeRemote([(7, ""), (0, '{"status": "ok"}\n200')], s)
    ok, message = flow.poll_health(remote, timeout=10, sleep=sleep)  # type: ignore[arg-type]
    assert ok and "after 2 attempt(s)" in message


def test_compose_command_quotes_everything() -> None:
    from deploy import flow

    s = settings.load(base_env(COMPOSE_PROFILES="redis,caddy"))
    command = flow.compose(s, "up", "-d", "--remove-orphans")
    assert command == (
        "cd /opt/vault-dash && REMOTE_ENV_FILE=/opt/vault-dash/.env "
        "docker compose -p vault-dash -f "
        "/opt/vault-dash/docker-compose.deploy.yml --env-file /opt/vault-dash/.env "
        "--profile redis --profile caddy up -d --remove-orphans"
    )
    assert "'{{.Image}}'" in flow.compose(s, "ps", "--format", "{{.Image}}")


def test_history_keeps_the_last_n_and_prunes_the_rest() -> None:
    from deploy import flow

    s = settings.load(base_env(DEPLOY_KEEP_IMAGES="3"))
    remote = FakeRemote([(0, "")] * 10, s)
    history = ["r.example/app:v1", "r.example/app:v2", "r.example/app:v3"]
    flow._record_success(remote, "r.example/app:v4", history)  # type: ignore[arg-type]
    assert remote.written["/opt/vault-dash/.image_history"].decode().split() == [
        "r.example/app:v2",
        "r.example/app:v3",
        "r.example/app:v4",
    ]
    assert remote.written["/opt/vault-dash/.last_successful_image"] == b"r.example/app:v4\n"
    assert remote.commands == ["docker image rm r.example/app:v1"]


def test_every_variable_the_compose_file_reads_reaches_the_env_file() -> None:
    """A variable the compose file interpolates but the .env assembly drops would silently
    take its default on the server (CADDY_HTTP_UPSTREAM once did)."""
    compose = (Path(__file__).resolve().parents[2] / "deploy/docker-compose.deploy.yml").read_text()
    used = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", compose))
    # Written by the deploy flow itself: the image it deploys and where the .env lives.
    set_by_flow = {"APP_IMAGE", "REMOTE_ENV_FILE"}
    assert used - set_by_flow <= set(envfile.APP_VARIABLES), used - set(envfile.APP_VARIABLES)
    assert {"CADDY_HTTP_UPSTREAM", "CADDY_WS_UPSTREAM", "WEB_CONCURRENCY"} <= used


def test_deploy_hosts_entries_and_their_overrides() -> None:
    from deploy.settings import SettingsError, parse_hosts

    hosts = parse_hosts(
        "web1.example.com, 10.0.0.6:2222 DEPLOY_PATH=/srv/b APP_PORT=8001\n[::1]:22"
    )
    assert hosts == [
        {"DEPLOY_HOST": "web1.example.com"},
        {
            "DEPLOY_HOST": "10.0.0.6",
            "DEPLOY_PORT": "2222",
            "DEPLOY_PATH": "/srv/b",
            "APP_PORT": "8001",
        },
        {"DEPLOY_HOST": "::1", "DEPLOY_PORT": "22"},
    ]
    with pytest.raises(SettingsError, match="NICEGUI_STORAGE_SECRET"):
        parse_hosts("a.example.com NICEGUI_STORAGE_SECRET=x")
    with pytest.raises(SettingsError, match="entry 2 is not host"):
        parse_hosts("a.example.com,bad!host")


def test_load_all_gives_each_host_its_settings() -> None:
    from deploy.settings import SettingsError, load_all

    env = dict(base_env())
    env.pop("DEPLOY_HOST")
    env["DEPLOY_HOSTS"] = (
        "a.example.com,b.example.com:2200 COMPOSE_PROJECT_NAME=vault-b APP_PORT=8001"
    )
    first, second = load_all(env)
    assert (first.host, first.port, first.compose_project) == ("a.example.com", 22, "vault-dash")
    assert (second.host, second.port, second.compose_project) == ("b.example.com", 2200, "vault-b")
    assert second.env_values["APP_PORT"] == "8001"
    assert second.healthcheck_url == "http://127.0.0.1:8001/health"
    with pytest.raises(SettingsError, match="not both"):
        load_all({**env, "DEPLOY_HOST": "c.example.com"})


def test_compose_command_is_one_of_the_two_compose_clis() -> None:
    from deploy.settings import SettingsError, load

    assert load(base_env()).compose_command == ("docker", "compose")
    v1 = load({**base_env(), "COMPOSE_COMMAND": "docker-compose"})
    assert v1.compose_command == ("docker-compose",)
    with pytest.raises(SettingsError, match="COMPOSE_COMMAND"):
        load({**base_env(), "COMPOSE_COMMAND": "rm -rf /"})
