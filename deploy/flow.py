"""What the fab tasks do, as plain functions over a :class:`~deploy.remote.Remote`.

``deploy`` follows the seed's ``scripts/deploy.sh`` in Kamal's order: lock, remember what runs,
write ``.env`` (0600, atomically) and the compose file, log in with the password on stdin, pull,
``compose up -d --remove-orphans``, poll health until ``DEPLOY_TIMEOUT``; on success record
``.last_successful_image`` and the deploy log, on failure put the previous ``.env`` (with the
previous image) back, bring it up, check it, and raise :class:`DeployError`.

Remote layout under ``DEPLOY_PATH``::

    docker-compose.deploy.yml  Caddyfile  .env (0600)
    .last_successful_image     .image_history (newest last)     deploy.log
    .deploy.lock/info          (while a deploy or rollback runs)
"""

from __future__ import annotations

import secrets
import shlex
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from deploy import envfile
from deploy.healthcheck import poll, status_of, wait_for_status
from deploy.remote import DeployError, Remote, Reporter
from deploy.settings import IMAGE_RE, DeploySettings

DEPLOY_DIR = Path(__file__).resolve().parent
UPLOADS = ("docker-compose.deploy.yml", "Caddyfile")
LOCK_DIR = ".deploy.lock"
LAST_IMAGE = ".last_successful_image"
HISTORY = ".image_history"
DEPLOY_LOG = "deploy.log"

q = shlex.quote


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- compose ---------------------------------------------------------------------------------
def compose(s: DeploySettings, *args: str) -> str:
    """A ``docker compose`` command line for the deployed project (no secrets in it)."""
    parts = [
        *s.compose_command,
        "-p",
        s.compose_project,
        "-f",
        s.remote(s.compose_file),
        "--env-file",
        s.remote_env_file,
    ]
    for profile in s.compose_profiles:
        parts += ["--profile", profile]
    parts += list(args)
    # The compose file's `env_file:` reads REMOTE_ENV_FILE (default .env beside it).
    return f"cd {q(s.path)} && REMOTE_ENV_FILE={q(s.remote_env_file)} " + " ".join(
        q(p) for p in parts
    )


def running_image(remote: Remote) -> str:
    """The image the app service's container runs: '' only when the host has no deployment
    yet or the service has no running container. Anything that cannot be read is a DeployError: the
    rollback bookkeeping depends on this answer, so it is never a silent empty value.

    ``compose ps -q`` (container ids) and ``docker inspect`` exist in every Compose and Docker
    release, unlike ``compose ps --format``.
    """
    s = remote.settings
    if not remote.run(
        f"[ -f {q(s.remote(s.compose_file))} ] && [ -f {q(s.remote_env_file)} ]", changes=False
    ).ok:
        return ""
    listed = remote.run(compose(s, "ps", "-q", s.compose_service), changes=False)
    if not listed.ok:
        raise DeployError(
            f"cannot tell which image runs: `compose ps -q {s.compose_service}` failed "
            f"(exit {listed.exit_code}): {_last_line(listed)}"
        )
    ids = listed.stdout.split()
    if not ids:
        return ""
    inspected = remote.run(
        f"docker inspect --format '{{{{.State.Running}}}} {{{{.Config.Image}}}}' {q(ids[0])}",
        changes=False,
    )
    running, _, image = inspected.stdout.strip().partition(" ")
    if not inspected.ok or running not in ("true", "false") or not IMAGE_RE.match(image):
        raise DeployError(
            f"cannot tell which image runs: `docker inspect {ids[0]}` gave "
            f"{inspected.stdout.strip()[:200]!r} (exit {inspected.exit_code}): "
            f"{_last_line(inspected)}"
        )
    # A stopped container (Compose v1 lists those too) runs nothing.
    return image if running == "true" else ""


def _last_line(result: object) -> str:
    stderr = str(getattr(result, "stderr", "")).strip().splitlines()
    return stderr[-1] if stderr else "no error output"


def read_last_image(remote: Remote) -> str:
    text = remote.read_file(remote.settings.remote(LAST_IMAGE)) or ""
    image = text.strip()
    return image if IMAGE_RE.match(image) else ""


def read_history(remote: Remote) -> list[str]:
    text = remote.read_file(remote.settings.remote(HISTORY)) or ""
    return [line.strip() for line in text.splitlines() if IMAGE_RE.match(line.strip())]


# -- health ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Probe:
    status: str | None
    detail: str


def probe_health(remote: Remote, url: str, request_timeout: float = 5) -> Probe:
    """One GET of the health URL from the host itself (curl), parsed here."""
    command = (
        f"curl -sS --max-time {int(max(1, request_timeout))} -o - -w '\\n%{{http_code}}' {q(url)}"
    )
    result = remote.run(command, changes=False, timeout=request_timeout + 10)
    if result.exit_code == 127:
        raise DeployError("curl is not installed on the deploy host (see `fab bootstrap`)")
    if not result.ok:
        reason = result.stderr.strip().splitlines()[-1:] or [f"curl exit {result.exit_code}"]
        return Probe(None, f"unreachable ({reason[0]})")
    body, _, code = result.stdout.rpartition("\n")
    return Probe(*status_of(code, body))


def poll_health(
    remote: Remote,
    timeout: float,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[bool, str]:
    """Poll until an accepted status or ``timeout``; a gentle linear back-off (capped at 3s,
    as Kamal's poller), never sleeping past the deadline."""
    s = remote.settings

    def probe(remaining: float) -> tuple[bool, str]:
        got = probe_health(remote, s.healthcheck_url, max(1.0, min(5.0, remaining)))
        return got.status in s.healthcheck_accept, got.detail

    ok, attempts, detail = poll(probe, timeout, lambda a: min(0.5 + 0.25 * a, 3.0), sleep)
    if ok:
        return True, f"{s.healthcheck_url} healthy after {attempts} attempt(s) ({detail})"
    return False, (
        f"{s.healthcheck_url} not healthy within {timeout:g}s "
        f"({attempts} attempt(s); last: {detail})"
    )


# -- lock ------------------------------------------------------------------------------------
class Lock:
    """``mkdir`` lock in DEPLOY_PATH: atomic on every POSIX file system, visible to humans."""

    def __init__(self, remote: Remote, action: str) -> None:
        self.remote = remote
        self.action = action
        self.token = secrets.token_hex(8)
        self.held = False

    @property
    def path(self) -> str:
        return self.remote.settings.remote(LOCK_DIR)

    def describe_holder(self) -> str:
        info = self.remote.read_file(f"{self.path}/info")
        return (info or "no details recorded").strip()

    def acquire(self) -> None:
        s = self.remote.settings
        info = (
            f"action={self.action} actor={s.actor} image={s.image or '-'} "
            f"since={now()} from={socket.gethostname()} token={self.token}\n"
        )
        if self.remote.dry_run:
            exists = self.remote.run(f"test -e {q(self.path)}", changes=False).ok
            if exists:
                raise DeployError(
                    f"another deploy holds the lock {self.path} ({self.describe_holder()})"
                )
            self.remote.run(f"mkdir {q(self.path)}", describe="take the deploy lock")
            return
        result = self.remote.run(f"mkdir {q(self.path)}")
        if not result.ok:
            if self.remote.run(f"test -d {q(self.path)}", changes=False).ok:
                raise DeployError(
                    f"another deploy holds the lock {self.path} ({self.describe_holder()}); "
                    "refusing to run concurrently. If no deploy is running, release it with "
                    "`fab unlock`."
                )
            raise DeployError(f"cannot create the lock {self.path}: {result.stderr.strip()}")
        self.held = True
        self.remote.write_file(f"{self.path}/info", info.encode(), "600", "lock details")

    def release(self) -> None:
        if not self.held:
            if self.remote.dry_run:
                self.remote.run(f"rm -rf {q(self.path)}", describe="release the deploy lock")
            return
        # Only remove the lock we took (the token proves it).
        command = (
            f"grep -q {q('token=' + self.token)} {q(self.path + '/info')} && rm -rf {q(self.path)}"
        )
        self.remote.run(command)
        self.held = False


# -- steps -----------------------------------------------------------------------------------
def _log_line(remote: Remote, message: str) -> None:
    s = remote.settings
    line = remote.reporter.redact(f"{now()} {message} actor={s.actor}")
    if s.commit:
        line += f" commit={s.commit[:12]}"
    path = s.remote(DEPLOY_LOG)
    command = f"umask 027; cat >> {q(path)}"
    remote.run(command, stdin=(line + "\n").encode(), describe="append to the deploy log")


def _record_success(remote: Remote, image: str, history: list[str]) -> None:
    s = remote.settings
    remote.write_file(s.remote(LAST_IMAGE), f"{image}\n".encode(), "644", "record the image")
    kept = [i for i in history if i != image][-(s.keep_images - 1) :] + [image]
    remote.write_file(s.remote(HISTORY), ("\n".join(kept) + "\n").encode(), "644", "history")
    # Keep the last DEPLOY_KEEP_IMAGES images for rollbacks; remove the ones this tool pulled
    # that fell out of the window (best effort: an image still in use stays).
    for old in [i for i in history if i not in kept]:
        removed = remote.run(f"docker image rm {q(old)}", describe="prune an old image")
        if not removed.ok:
            remote.reporter.say(f"note: could not remove old image {old} (still in use?)")


def _upload_files(remote: Remote) -> None:
    s = remote.settings
    for name in UPLOADS:
        target = s.remote(s.compose_file) if name == UPLOADS[0] else s.remote(name)
        content = (DEPLOY_DIR / name).read_bytes()
        remote.write_file(target, content, "644", f"upload {name}")


def _env_bytes(values: dict[str, str], image: str, why: str) -> bytes:
    header = f"Written by `fab {why}` at {now()}. Mode 0600: it holds secrets."
    return envfile.render(envfile.with_image(values, image), header=header).encode()


def _login_and_pull(remote: Remote, image: str) -> None:
    s = remote.settings
    if s.registry and s.registry_user:
        remote.reporter.step(f"logging in to {s.registry} as {s.registry_user} (password on stdin)")
        remote.check(
            f"docker login {q(s.registry)} -u {q(s.registry_user)} --password-stdin",
            "registry login",
            stdin=s.registry_password.encode(),
            describe="registry login",
        )
    remote.reporter.step(f"pulling {image}")
    try:
        remote.check(f"docker pull {q(image)}", f"pulling {image}", describe="pull")
    finally:
        if s.registry and s.registry_user:
            # Do not leave the short-lived CI token in the host's docker config.
            remote.run(f"docker logout {q(s.registry)}", describe="registry logout")


def _up(remote: Remote) -> None:
    s = remote.settings
    remote.reporter.step("docker compose up -d --remove-orphans")
    remote.check(compose(s, "up", "-d", "--remove-orphans"), "docker compose up", describe="up")


def _external_check(remote: Remote) -> tuple[bool, str]:
    s = remote.settings
    if not s.external_healthcheck_url:
        return True, ""
    remote.reporter.step(f"checking {s.external_healthcheck_url} from this runner")
    if remote.dry_run:
        return True, "skipped in dry run"
    return wait_for_status(
        s.external_healthcheck_url, "ok", timeout=min(s.timeout, 120), interval=2
    )


def _ensure_path(remote: Remote) -> None:
    s = remote.settings
    remote.check(
        f"mkdir -p {q(s.path)} && chmod 750 {q(s.path)}",
        f"creating {s.path}",
        describe="create DEPLOY_PATH",
    )


def deploy(remote: Remote) -> str:
    """Deploy ``settings.image``; returns a summary line, raises DeployError on failure."""
    r = remote.reporter
    if remote.dry_run:
        r.say("DRY RUN: read-only probes run; every changing step is printed, not executed")
    _ensure_path(remote)
    lock = Lock(remote, "deploy")
    lock.acquire()
    try:
        return _deploy_locked(remote)
    finally:
        lock.release()


def _deploy_locked(remote: Remote) -> str:
    s = remote.settings
    r = remote.reporter
    running = running_image(remote)
    last_good = read_last_image(remote)
    history = read_history(remote)
    previous_env = remote.read_file(s.remote_env_file)
    previous_compose = remote.read_file(s.remote(s.compose_file))
    previous_image = last_good or running
    r.step(
        f"running now: {running or 'nothing'}; last successful: {last_good or 'none'}; "
        f"deploying {s.image}"
    )

    try:
        r.step(f"writing {s.remote_env_file} (mode 0600) and the compose files")
        remote.write_file(
            s.remote_env_file, _env_bytes(s.env_values, s.image, "deploy"), "600", "write .env"
        )
        _upload_files(remote)
        _login_and_pull(remote, s.image)
        _up(remote)
        if remote.dry_run:
            r.say(f"[dry-run] poll {s.healthcheck_url} for up to {s.timeout:g}s")
            healthy, message = True, "not checked (dry run)"
        else:
            r.step(f"waiting up to {s.timeout:g}s for {s.healthcheck_url}")
            healthy, message = poll_health(remote, s.timeout)
        r.say(message)
        if healthy:
            healthy, external = _external_check(remote)
            if external:
                r.say(external)
                if not healthy:
                    message = f"external check failed: {external}"
    except DeployError as exc:
        healthy, message = False, str(exc)

    if healthy:
        _record_success(remote, s.image, history)
        _log_line(remote, f"deploy ok image={s.image} previous={previous_image or '-'}")
        verb = "DRY RUN complete, nothing changed: would deploy" if remote.dry_run else "deployed"
        return f"{verb} {s.image} to {s.target} (previous: {previous_image or 'none'})"

    r.step(f"deploy of {s.image} FAILED: {message}")
    outcome = _restore(remote, previous_image, previous_env, previous_compose)
    _log_line(
        remote,
        f"deploy failed image={s.image} previous={previous_image or '-'} outcome={outcome}",
    )
    raise DeployError(
        f"deploy of {s.image} failed: {message}; {outcome}. "
        f"{LAST_IMAGE} still names {previous_image or 'nothing'}."
    )


def _restore(remote: Remote, image: str, env_text: str | None, compose_text: str | None) -> str:
    """Bring the previous image back (with the .env it ran with); say what happened."""
    s = remote.settings
    r = remote.reporter
    if not image:
        r.step("no previous image to restore; stopping the new containers")
        remote.run(compose(s, "down", "--remove-orphans"), describe="stop the failed release")
        return "there was no previous image; the failed release was stopped"
    r.step(f"rolling back to {image}")
    try:
        values = envfile.parse(env_text) if env_text is not None else dict(s.env_values)
    except envfile.EnvFileError:
        values = dict(s.env_values)
    remote.write_file(
        s.remote_env_file, _env_bytes(values, image, "deploy (rollback)"), "600", "restore .env"
    )
    if compose_text is not None:
        remote.write_file(
            s.remote(s.compose_file), compose_text.encode(), "644", "restore the compose file"
        )
    try:
        _login_and_pull(remote, image)
        _up(remote)
    except DeployError as exc:
        return f"rollback to {image} failed: {exc}"
    if remote.dry_run:
        return f"rolled back to {image} (dry run)"
    healthy, message = poll_health(remote, s.rollback_timeout)
    r.say(message)
    if healthy:
        return f"rolled back to {image}, which is healthy again"
    return f"rolled back to {image}, but it is NOT healthy either ({message})"


def rollback(remote: Remote, image: str | None = None) -> str:
    """Put an earlier successful image back: ``image``, or by default the one before the
    current in ``.image_history``. Waits ``DEPLOY_ROLLBACK_TIMEOUT`` for it, as the automatic
    rollback of a failed deploy does (both bring back a known-good image). If the target is
    not healthy in time, the image that ran before is restored and DeployError is raised.

    Each rollback drops the image it leaves from the history, so repeated rollbacks walk back
    one release at a time.
    """
    s = remote.settings
    r = remote.reporter
    if image is not None and not image.strip():
        raise DeployError("--image is empty; leave it out to roll back to the previous image")
    lock = Lock(remote, "rollback")
    lock.acquire()
    try:
        history = read_history(remote)
        current = read_last_image(remote) or running_image(remote)
        earlier = [i for i in history if i != current]
        if image is not None:
            if not IMAGE_RE.match(image.strip()):
                raise DeployError("--image is not a valid image reference")
            target = image.strip()
        else:
            if not earlier:
                raise DeployError(
                    f"no earlier successful image in {s.remote(HISTORY)}; pass --image"
                )
            target = earlier[-1]
        env_text = remote.read_file(s.remote_env_file)
        if env_text is None:
            raise DeployError(f"{s.remote_env_file} does not exist; deploy first")
        compose_text = remote.read_file(s.remote(s.compose_file))
        values = envfile.parse(env_text)
        r.step(f"rolling back {s.target} from {current or 'unknown'} to {target}")
        remote.write_file(
            s.remote_env_file, _env_bytes(values, target, "rollback"), "600", "write .env"
        )
        try:
            _login_and_pull(remote, target)
            _up(remote)
        except DeployError as exc:
            healthy, message = False, str(exc)
        else:
            if remote.dry_run:
                return f"would roll back to {target}"
            r.step(f"waiting up to {s.rollback_timeout:g}s for {s.healthcheck_url}")
            healthy, message = poll_health(remote, s.rollback_timeout)
            r.say(message)
        if not healthy:
            outcome = (
                _restore(remote, current, env_text, compose_text)
                if current
                else "nothing to restore"
            )
            _log_line(
                remote,
                f"rollback failed image={target} previous={current or '-'} outcome={outcome}",
            )
            raise DeployError(
                f"rollback to {target} failed: {message}; {outcome}. "
                f"{LAST_IMAGE} still names {current or 'nothing'}."
            )
        _record_success(remote, target, earlier)
        _log_line(remote, f"rollback ok image={target} previous={current or '-'}")
        return f"rolled back to {target}"
    finally:
        lock.release()


def health(remote: Remote) -> str:
    s = remote.settings
    probe = probe_health(remote, s.healthcheck_url)
    line = f"{s.healthcheck_url}: {probe.detail}"
    if probe.status not in s.healthcheck_accept:
        raise DeployError(f"unhealthy: {line}")
    ok, external = _external_check(remote)
    if not ok:
        raise DeployError(f"external check failed: {external}")
    return line + (f"; {external}" if external else "")


def status(remote: Remote, lines: int = 10) -> str:
    s = remote.settings
    r = remote.reporter
    r.step(f"{s.target}:{s.path}")
    r.say(f"last successful image: {read_last_image(remote) or 'none'}")
    r.say(f"running image:         {running_image(remote) or 'none'}")
    lock = remote.read_file(f"{s.remote(LOCK_DIR)}/info")
    r.say(f"deploy lock:           {lock.strip() if lock else 'free'}")
    ps = remote.run(f"[ -f {q(s.remote_env_file)} ] && " + compose(s, "ps"), changes=False)
    if ps.stdout.strip():
        r.say(ps.stdout.rstrip())
    log = remote.run(f"tail -n {int(lines)} {q(s.remote(DEPLOY_LOG))}", changes=False)
    r.say("recent deploys:\n" + (log.stdout.rstrip() or "(none)"))
    probe = probe_health(remote, s.healthcheck_url)
    return f"health: {probe.detail}"


def logs(remote: Remote, tail: int = 200, service: str = "") -> str:
    s = remote.settings
    name = service or s.compose_service

    result = remote.run(
        compose(s, "logs", "--no-color", "--tail", str(int(tail)), name), changes=False
    )
    if not result.ok:
        raise DeployError(f"docker compose logs failed: {result.stderr.strip()}")
    # Printed whole (not streamed) so a secret can never be split across two redacted chunks.
    remote.reporter.say(result.stdout.rstrip())
    return ""


def bootstrap(remote: Remote) -> str:
    """One-time host preparation and checks; safe to repeat."""
    s = remote.settings
    r = remote.reporter
    problems = []
    _ensure_path(remote)
    writable = remote.run(f"test -w {q(s.path)}", changes=False)
    if not writable.ok and not remote.dry_run:
        problems.append(f"{s.path} is not writable by {s.user}")
    for what, command in (
        ("docker", "docker version --format '{{.Server.Version}}'"),
        (" ".join(s.compose_command), " ".join(s.compose_command) + " version --short"),
        ("curl", "curl --version"),
    ):
        result = remote.run(command, changes=False)
        first = (result.stdout.strip().splitlines() or [""])[0]
        if result.ok:
            r.say(f"{what}: {first}")
        else:
            problems.append(
                f"{what} is missing or not usable by {s.user}: {result.stderr.strip()[:200]}"
            )
    if problems:
        raise DeployError("bootstrap found problems:\n  - " + "\n  - ".join(problems))
    return f"{s.target}:{s.path} is ready for deploys"


def unlock(remote: Remote) -> str:
    path = remote.settings.remote(LOCK_DIR)
    info = remote.read_file(f"{path}/info")
    remote.run(f"rm -rf {q(path)}", describe="release the deploy lock")
    return f"released {path} ({(info or 'no details').strip()})" if info else f"{path} was free"


def make_remote(
    settings: DeploySettings, *, dry_run: bool = False, accept_any_host_key: bool = False
) -> Remote:
    from deploy.remote import Redactor

    reporter = Reporter(Redactor(settings.secrets))
    return Remote(settings, reporter, dry_run=dry_run, accept_any_host_key=accept_any_host_key)
