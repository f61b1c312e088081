"""Fabric tasks (thin): read settings from the environment, connect, call :mod:`deploy.flow`.

Run from the repository root: ``fab --list``, ``fab deploy --help``, ``fab deploy --dry-run``.
Every task exits non-zero with one readable message when something is wrong.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from fabric import task
from invoke.exceptions import Exit

from deploy import flow, settings
from deploy.remote import DeployError, Remote

HOST_KEY_HELP = "Skip host key verification (NOT recommended; DEPLOY_KNOWN_HOSTS is the safe way)."
DRY_RUN_HELP = "Print every changing remote step instead of running it; probes still run."


def _run(
    action: Callable[[Remote], str],
    *,
    dry_run: bool = False,
    accept_any_host_key: bool = False,
    require_image: bool = False,
    stop_at_first_failure: bool = True,
) -> None:
    """Run ``action`` on DEPLOY_HOST, or on each DEPLOY_HOSTS entry in turn.

    With several hosts, a deploy or rollback stops at the first host that fails (that host
    has already been rolled back by the flow; the hosts after it are not touched). Read-only
    tasks visit every host and fail at the end if any failed.
    """
    try:
        targets = settings.load_all(
            require_image=require_image, require_host_keys=not accept_any_host_key
        )
    except settings.SettingsError as exc:
        raise Exit(str(exc), code=2) from None
    failures: list[str] = []
    for number, deploy_settings in enumerate(targets, start=1):
        remote = flow.make_remote(
            deploy_settings, dry_run=dry_run, accept_any_host_key=accept_any_host_key
        )
        label = f"host {number}/{len(targets)} {deploy_settings.target}"
        if len(targets) > 1:
            remote.reporter.step(label)
        try:
            with remote:
                summary = action(remote)
        except DeployError as exc:
            sys.stdout.flush()
            message = remote.reporter.redact(f"FAILED: {exc}")
            if len(targets) == 1:
                raise Exit(message, code=1) from None
            failures.append(f"{label}: {message}")
            if stop_at_first_failure:
                done = ", ".join(t.target for t in targets[: number - 1]) or "none"
                untouched = ", ".join(t.target for t in targets[number:]) or "none"
                raise Exit(
                    f"{failures[-1]}\nstopped at {deploy_settings.target}; "
                    f"already done: {done}; not touched: {untouched}",
                    code=1,
                ) from None
            continue
        if summary:
            remote.reporter.say(summary)
    if failures:
        raise Exit("\n".join(failures), code=1)


@task(auto_shortflags=False, help={"dry-run": DRY_RUN_HELP, "accept-any-host-key": HOST_KEY_HELP})
def deploy(c: Any, dry_run: bool = False, accept_any_host_key: bool = False) -> None:
    """Deploy APP_IMAGE to DEPLOY_USER@DEPLOY_HOST:DEPLOY_PATH; roll back if unhealthy.

    With DEPLOY_HOSTS, one host at a time, each gated on its health; the first failure is
    rolled back on its host and the hosts after it are left alone. Takes the remote lock, writes the .env (mode 0600) and compose files, logs in to the
    registry (password on stdin), pulls, `docker compose up -d --remove-orphans`, polls
    HEALTHCHECK_URL until DEPLOY_TIMEOUT. On failure restores the previous image and exits 1.
    """
    _run(flow.deploy, dry_run=dry_run, accept_any_host_key=accept_any_host_key, require_image=True)


@task(
    auto_shortflags=False,
    help={
        "image": "Image to go back to (default: the previous entry of .image_history).",
        "dry-run": DRY_RUN_HELP,
        "accept-any-host-key": HOST_KEY_HELP,
    },
)
def rollback(
    c: Any, image: str | None = None, dry_run: bool = False, accept_any_host_key: bool = False
) -> None:
    """Put an earlier successful image back, keeping the current .env otherwise.

    Waits DEPLOY_ROLLBACK_TIMEOUT; if the image is not healthy, restores the one before.
    """
    _run(
        lambda r: flow.rollback(r, image), dry_run=dry_run, accept_any_host_key=accept_any_host_key
    )


@task(auto_shortflags=False, help={"accept-any-host-key": HOST_KEY_HELP})
def health(c: Any, accept_any_host_key: bool = False) -> None:
    """Check HEALTHCHECK_URL on the host (and EXTERNAL_HEALTHCHECK_URL from here); exit 1 if not ok."""
    _run(flow.health, accept_any_host_key=accept_any_host_key, stop_at_first_failure=False)


@task(
    auto_shortflags=False,
    help={
        "lines": "How many deploy log lines to show (default 10).",
        "accept-any-host-key": HOST_KEY_HELP,
    },
)
def status(c: Any, lines: int = 10, accept_any_host_key: bool = False) -> None:
    """Show the running and last successful image, the lock, containers and recent deploys."""
    _run(
        lambda r: flow.status(r, lines),
        accept_any_host_key=accept_any_host_key,
        stop_at_first_failure=False,
    )


@task(
    auto_shortflags=False,
    help={
        "tail": "Number of log lines (default 200).",
        "service": "Compose service (default COMPOSE_SERVICE, i.e. app).",
        "accept-any-host-key": HOST_KEY_HELP,
    },
)
def logs(c: Any, tail: int = 200, service: str = "", accept_any_host_key: bool = False) -> None:
    """Print the last container log lines of the app service (secrets redacted)."""
    _run(
        lambda r: flow.logs(r, tail, service),
        accept_any_host_key=accept_any_host_key,
        stop_at_first_failure=False,
    )


@task(auto_shortflags=False, help={"dry-run": DRY_RUN_HELP, "accept-any-host-key": HOST_KEY_HELP})
def bootstrap(c: Any, dry_run: bool = False, accept_any_host_key: bool = False) -> None:
    """One-time host check: create DEPLOY_PATH, check docker, compose, curl and permissions."""
    _run(flow.bootstrap, dry_run=dry_run, accept_any_host_key=accept_any_host_key)


@task(auto_shortflags=False, help={"accept-any-host-key": HOST_KEY_HELP})
def unlock(c: Any, accept_any_host_key: bool = False) -> None:
    """Release a stale deploy lock (only when you are sure no deploy is running)."""
    _run(flow.unlock, accept_any_host_key=accept_any_host_key)
