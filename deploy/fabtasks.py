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
) -> None:
    try:
        deploy_settings = settings.load(
            require_image=require_image, require_host_keys=not accept_any_host_key
        )
    except settings.SettingsError as exc:
        raise Exit(str(exc), code=2) from None
    remote = flow.make_remote(
        deploy_settings, dry_run=dry_run, accept_any_host_key=accept_any_host_key
    )
    try:
        with remote:
            summary = action(remote)
    except DeployError as exc:
        sys.stdout.flush()
        raise Exit(remote.reporter.redact(f"FAILED: {exc}"), code=1) from None
    if summary:
        remote.reporter.say(summary)


@task(auto_shortflags=False, help={"dry-run": DRY_RUN_HELP, "accept-any-host-key": HOST_KEY_HELP})
def deploy(c: Any, dry_run: bool = False, accept_any_host_key: bool = False) -> None:
    """Deploy APP_IMAGE to DEPLOY_USER@DEPLOY_HOST:DEPLOY_PATH; roll back if unhealthy.

    Takes the remote lock, writes the .env (mode 0600) and compose files, logs in to the
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
    c: Any, image: str = "", dry_run: bool = False, accept_any_host_key: bool = False
) -> None:
    """Put an earlier successful image back, keeping the current .env otherwise."""
    _run(
        lambda r: flow.rollback(r, image), dry_run=dry_run, accept_any_host_key=accept_any_host_key
    )


@task(auto_shortflags=False, help={"accept-any-host-key": HOST_KEY_HELP})
def health(c: Any, accept_any_host_key: bool = False) -> None:
    """Check HEALTHCHECK_URL on the host (and EXTERNAL_HEALTHCHECK_URL from here); exit 1 if not ok."""
    _run(flow.health, accept_any_host_key=accept_any_host_key)


@task(
    auto_shortflags=False,
    help={
        "lines": "How many deploy log lines to show (default 10).",
        "accept-any-host-key": HOST_KEY_HELP,
    },
)
def status(c: Any, lines: int = 10, accept_any_host_key: bool = False) -> None:
    """Show the running and last successful image, the lock, containers and recent deploys."""
    _run(lambda r: flow.status(r, lines), accept_any_host_key=accept_any_host_key)


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
    _run(lambda r: flow.logs(r, tail, service), accept_any_host_key=accept_any_host_key)


@task(auto_shortflags=False, help={"dry-run": DRY_RUN_HELP, "accept-any-host-key": HOST_KEY_HELP})
def bootstrap(c: Any, dry_run: bool = False, accept_any_host_key: bool = False) -> None:
    """One-time host check: create DEPLOY_PATH, check docker, compose, curl and permissions."""
    _run(flow.bootstrap, dry_run=dry_run, accept_any_host_key=accept_any_host_key)


@task(auto_shortflags=False, help={"accept-any-host-key": HOST_KEY_HELP})
def unlock(c: Any, accept_any_host_key: bool = False) -> None:
    """Release a stale deploy lock (only when you are sure no deploy is running)."""
    _run(flow.unlock, accept_any_host_key=accept_any_host_key)
