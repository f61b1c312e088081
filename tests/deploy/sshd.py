"""A throw-away OpenSSH server on loopback for the deploy tests.

Generated host and client keys, ``AuthorizedKeysFile`` and everything else under one temp
directory. A ``ForceCommand`` wrapper logs every command line the client sends (so tests can
prove no secret was ever on one), puts the fake ``docker`` first in ``PATH`` (unless
``fake_docker=False``: then the host's real engine answers) and runs the command with
``/bin/sh -c``. The login user is the one running the tests.
"""

from __future__ import annotations

import getpass
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.server import stop_pid_group, stop_process
from tests.support.services import free_port

SSHD = "/usr/sbin/sshd"
ROOT = Path(__file__).resolve().parents[2]
COMMAND_SEPARATOR = "\n--- end of command ---\n"


def sshd_problem() -> str | None:
    if not Path(SSHD).exists():
        return f"{SSHD} is not installed (Debian package openssh-server; see tools/system-deps.sh)"
    for tool in ("ssh-keygen", "curl"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    return None


def keygen(path: Path, comment: str) -> str:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True,
        capture_output=True,
    )
    return Path(f"{path}.pub").read_text().strip()


@dataclass
class SSHServer:
    base: Path
    port: int
    user: str
    host_public_key: str
    client_key: Path
    state: Path
    data_dir: Path
    process: subprocess.Popen[bytes] | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def known_hosts_line(self) -> str:
        key_type, key = self.host_public_key.split()[:2]
        return f"[127.0.0.1]:{self.port} {key_type} {key}"

    @property
    def command_log(self) -> Path:
        return self.base / "commands.log"

    @property
    def sshd_log(self) -> Path:
        return self.base / "sshd.log"

    def commands(self) -> list[str]:
        if not self.command_log.exists():
            return []
        text = self.command_log.read_text()
        return [c for c in text.split(COMMAND_SEPARATOR) if c.strip()]

    def docker_calls(self) -> list[dict[str, Any]]:
        path = self.state / "calls.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def app_log(self) -> str:
        path = self.state / "app.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def running(self) -> dict[str, object] | None:
        path = self.state / "running.json"
        if not path.exists():
            return None
        state = dict(json.loads(path.read_text()))
        try:
            os.kill(int(state["pid"]), 0)
        except ProcessLookupError:
            return None
        return state

    def stop_app(self) -> None:
        state = self.running()
        if state is not None:
            stop_pid_group(int(str(state["pid"])), timeout=10)

    def stop(self) -> None:
        self.stop_app()
        if self.process is not None and self.process.poll() is None:
            stop_process(self.process)


def start_sshd(base: Path, *, fake_docker: bool = True) -> SSHServer:
    base.mkdir(parents=True, exist_ok=True)
    user = getpass.getuser()
    host_key = base / "ssh_host_ed25519_key"
    host_pub = keygen(host_key, "test-host")
    client_key = base / "client_ed25519"
    client_pub = keygen(client_key, "test-deployer")
    (base / "authorized_keys").write_text(client_pub + "\n")
    (base / "authorized_keys").chmod(0o600)

    state = base / "docker-state"
    data_dir = base / "app-data"
    bin_dir = base / "bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    docker.write_text(
        f'#!/bin/sh\nexec {sys.executable} {ROOT / "tests/deploy/fake_docker.py"} "$@"\n'
    )
    docker.chmod(0o755)

    wrapper = base / "session.sh"
    wrapper.write_text(
        "#!/bin/sh\n"
        f"printf '%s{COMMAND_SEPARATOR.encode('unicode_escape').decode()}' "
        f'"$SSH_ORIGINAL_COMMAND" >> {base / "commands.log"}\n'
        f"export PATH={str(bin_dir) + ':' if fake_docker else ''}"
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
        f"export FAKE_DOCKER_STATE={state} FAKE_APP_ROOT={ROOT} "
        f"FAKE_APP_PYTHON={sys.executable} FAKE_DATA_DIR={data_dir}\n"
        f"[ -f {base / 'session.env'} ] && . {base / 'session.env'}\n"
        'exec /bin/sh -c "$SSH_ORIGINAL_COMMAND"\n'
    )
    wrapper.chmod(0o755)

    port = free_port()
    config = base / "sshd_config"
    config.write_text(
        f"""Port {port}
ListenAddress 127.0.0.1
HostKey {host_key}
PidFile {base / "sshd.pid"}
AuthorizedKeysFile {base / "authorized_keys"}
AllowUsers {user}
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
X11Forwarding no
AllowTcpForwarding no
AllowAgentForwarding no
PermitTTY no
ForceCommand {wrapper}
LogLevel VERBOSE
MaxSessions 50
MaxStartups 20
"""
    )
    # sshd insists on its privilege-separation directory even for a private instance.
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    sshd_log = base / "sshd.log"
    process = subprocess.Popen(
        [SSHD, "-D", "-e", "-f", str(config), "-E", str(sshd_log)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = SSHServer(base, port, user, host_pub, client_key, state, data_dir, process)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = sshd_log.read_text() if sshd_log.exists() else ""
            raise RuntimeError(f"sshd exited with {process.returncode}: {log[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                if sock.recv(64).startswith(b"SSH-"):
                    return server
        except OSError:
            time.sleep(0.05)
    server.stop()
    raise RuntimeError("sshd did not answer within 10s")
