"""SSH to the deploy host with a pinned host key, run commands, feed content through stdin.

Secrets never go into a command line: file contents and the registry password travel on the
command's stdin. Every line this module prints passes through :class:`Redactor` as a second
guard. ``dry_run`` prints each changing command instead of running it; read-only probes still
run so the plan shows the real state.
"""

from __future__ import annotations

import io
import shlex
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TextIO

import paramiko
from fabric import Config, Connection

from deploy.settings import DeploySettings

REDACTED = "[REDACTED]"


class DeployError(RuntimeError):
    """The deploy (or another task) failed; ``str()`` says what happened and what was done."""


class Redactor:
    def __init__(self, secrets: Iterable[str]) -> None:
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def add(self, secret: str) -> None:
        if secret:
            self._secrets = sorted({*self._secrets, secret}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text


class Reporter:
    """Step-by-step output for a human reading a CI log."""

    def __init__(self, redact: Redactor, out: TextIO | None = None) -> None:
        self.redact = redact
        self.out = out or sys.stdout

    def say(self, message: str) -> None:
        self.out.write(self.redact(message) + "\n")
        self.out.flush()

    def step(self, message: str) -> None:
        self.say(f"==> {message}")


@dataclass(frozen=True)
class Result:
    command: str
    exit_code: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


def load_private_key(text: str, passphrase: str = "") -> paramiko.PKey:  # nosec B107
    """A key object from OpenSSH/PEM private key text (ed25519, ECDSA or RSA)."""
    text = text.strip().replace("\r\n", "\n") + "\n"
    errors = []
    key_classes: tuple[type[paramiko.PKey], ...] = (
        paramiko.Ed25519Key,
        paramiko.ECDSAKey,
        paramiko.RSAKey,
    )
    for cls in key_classes:
        try:
            return cls.from_private_key(io.StringIO(text), password=passphrase or None)
        except paramiko.PasswordRequiredException:
            raise DeployError(
                "the SSH private key is encrypted; set DEPLOY_SSH_KEY_PASSPHRASE"
            ) from None
        except (paramiko.SSHException, ValueError) as exc:
            errors.append(type(exc).__name__)
    raise DeployError("DEPLOY_SSH_PRIVATE_KEY is not an ed25519, ECDSA or RSA private key")


def pinned_host_keys(known_hosts: str) -> paramiko.HostKeys:
    keys = paramiko.HostKeys()
    for number, line in enumerate(known_hosts.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        entry = paramiko.hostkeys.HostKeyEntry.from_line(line, lineno=number)
        if entry is None or entry.key is None:
            raise DeployError(f"DEPLOY_KNOWN_HOSTS line {number} is not a known_hosts entry")
        for name in entry.hostnames:
            keys.add(name, entry.key.get_name(), entry.key)
    return keys


class Remote:
    """One SSH connection to the deploy host."""

    def __init__(
        self,
        settings: DeploySettings,
        reporter: Reporter,
        *,
        dry_run: bool = False,
        accept_any_host_key: bool = False,
        command_timeout: float = 600,
    ) -> None:
        self.settings = settings
        self.reporter = reporter
        self.dry_run = dry_run
        self.accept_any_host_key = accept_any_host_key
        self.command_timeout = command_timeout
        self.connection: Connection | None = None

    # -- connection --------------------------------------------------------------------------
    def connect(self) -> None:
        s = self.settings
        if s.private_key.strip():
            pkey = load_private_key(s.private_key, s.key_passphrase)
        else:
            with open(s.key_file, encoding="utf-8") as fh:
                pkey = load_private_key(fh.read(), s.key_passphrase)

        client = paramiko.SSHClient()
        if self.accept_any_host_key:
            self.reporter.say(
                "WARNING: --accept-any-host-key: the server's identity is NOT verified"
            )
            # Only behind the explicit --accept-any-host-key opt-out flag.
            client.set_missing_host_key_policy(paramiko.WarningPolicy())  # nosec B507
        else:
            client.set_missing_host_key_policy(paramiko.RejectPolicy())
        for name, key_types in pinned_host_keys(s.known_hosts).items():
            for key_type, key in key_types.items():
                client.get_host_keys().add(name, key_type, key)

        config = Config(overrides={"load_ssh_configs": False, "run": {"hide": True}})
        conn = Connection(
            s.host,
            user=s.user,
            port=s.port,
            config=config,
            connect_timeout=20,
            connect_kwargs={
                "pkey": pkey,
                "look_for_keys": False,
                "allow_agent": False,
                "banner_timeout": 20,
                "auth_timeout": 20,
            },
        )
        conn.client = client
        self.reporter.step(f"connecting to {s.target}")
        try:
            conn.open()
        except paramiko.BadHostKeyException as exc:
            raise DeployError(
                f"host key of {s.host}:{s.port} does not match DEPLOY_KNOWN_HOSTS "
                f"(got {exc.key.get_name()} {exc.key.fingerprint}); refusing to connect"
            ) from None
        except paramiko.SSHException as exc:
            if "not found in known_hosts" in str(exc):
                raise DeployError(
                    f"host key of {s.host}:{s.port} is not pinned in DEPLOY_KNOWN_HOSTS; "
                    "refusing to connect (strict host key checking)"
                ) from None
            raise DeployError(f"SSH to {s.target} failed: {exc}") from None
        except OSError as exc:
            raise DeployError(f"cannot reach {s.host}:{s.port}: {exc}") from None
        self.connection = conn

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    def __enter__(self) -> Remote:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- commands ----------------------------------------------------------------------------
    def run(
        self,
        command: str,
        *,
        stdin: bytes | None = None,
        changes: bool = True,
        describe: str = "",
        timeout: float | None = None,
    ) -> Result:
        """Run ``command`` on the host; ``changes=False`` marks a read-only probe."""
        if self.dry_run and changes:
            extra = "   [content on stdin, not shown]" if stdin is not None else ""
            self.reporter.say(f"[dry-run] {describe + ': ' if describe else ''}{command}{extra}")
            return Result(command, 0, "", "")
        if self.dry_run:
            self.reporter.say(f"[dry-run, read-only, runs] {command}")
        if self.connection is None:
            raise DeployError("not connected")
        transport = self.connection.client.get_transport()
        if transport is None or not transport.is_active():
            raise DeployError("the SSH connection was closed")
        limit = self.command_timeout if timeout is None else timeout
        channel = transport.open_session(timeout=20)
        try:
            channel.settimeout(limit)
            # callers shlex-quote every value
            channel.exec_command(command)  # nosec B601
            if stdin:
                channel.sendall(stdin)
            channel.shutdown_write()
            out, err = bytearray(), bytearray()
            deadline = time.monotonic() + limit
            while True:
                busy = False
                if channel.recv_ready():
                    out += channel.recv(65536)
                    busy = True
                if channel.recv_stderr_ready():
                    err += channel.recv_stderr(65536)
                    busy = True
                if not busy:
                    if channel.exit_status_ready():
                        while channel.recv_ready():
                            out += channel.recv(65536)
                        while channel.recv_stderr_ready():
                            err += channel.recv_stderr(65536)
                        break
                    if time.monotonic() > deadline:
                        raise DeployError(f"remote command timed out after {limit:g}s: {command}")
                    time.sleep(0.01)
            code = channel.recv_exit_status()
        finally:
            channel.close()
        return Result(command, code, out.decode(errors="replace"), err.decode(errors="replace"))

    def check(self, command: str, what: str, **kwargs: object) -> Result:
        """``run`` and raise DeployError with the (redacted) stderr when it fails."""
        result = self.run(command, **kwargs)  # type: ignore[arg-type]
        if not result.ok:
            detail = (result.stderr.strip() or result.stdout.strip()).splitlines()[-5:]
            raise DeployError(
                self.reporter.redact(
                    f"{what} failed (exit {result.exit_code}): " + " | ".join(detail)
                )
            )
        return result

    # -- helpers -----------------------------------------------------------------------------
    def write_file(self, path: str, content: bytes, mode: str, what: str) -> None:
        """Write ``content`` to ``path`` atomically (temp file + rename) with ``mode``."""
        directory, _, name = path.rpartition("/")
        q = shlex.quote
        command = (
            "set -eu; umask 077; "
            f"tmp=$(mktemp {q(directory + '/.' + name + '.XXXXXX')}); "
            "trap 'rm -f \"$tmp\"' EXIT; "
            f'cat > "$tmp"; chmod {mode} "$tmp"; mv -f "$tmp" {q(path)}; trap - EXIT'
        )
        self.check(command, f"writing {path}", stdin=content, describe=what)

    def read_file(self, path: str) -> str | None:
        """The file's content, or None when it does not exist (read-only)."""
        q = shlex.quote(path)
        result = self.run(f"if [ -f {q} ]; then cat {q}; else exit 3; fi", changes=False)
        if result.exit_code == 3:
            return None
        if not result.ok:
            raise DeployError(f"reading {path} failed: {result.stderr.strip()}")
        return result.stdout
