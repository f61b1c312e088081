#!/usr/bin/env python3
"""Poll a Vault Dashboard ``/health`` URL until its ``status`` is the expected one.

Standard library only: it runs on CI runners and hosts without Django.

    python deploy/healthcheck.py URL [--timeout 120] [--expect-status ok] [--interval 2]

Exit status 0 when the body's ``status`` matches within the timeout, 1 when it never does,
2 for bad arguments. Prints one line either way.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

STATUSES = ("ok", "degraded", "error")


def fetch_status(url: str, request_timeout: float) -> tuple[str | None, str]:
    """One probe: ``(status or None, human-readable detail)``. Never raises."""
    # main() only lets http(s) URLs through.
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # nosec B310
    try:
        with urllib.request.urlopen(request, timeout=request_timeout) as response:  # nosec B310
            code, raw = response.status, response.read(1_000_000)
    except urllib.error.HTTPError as exc:
        # /health answers 503 with a JSON body when the database is down.
        code, raw = exc.code, exc.read(1_000_000)
    except urllib.error.URLError as exc:
        return None, f"unreachable ({exc.reason})"
    except (TimeoutError, OSError) as exc:
        return None, f"unreachable ({exc})"
    return status_of(code, raw)


def status_of(code: int | str, raw: bytes | str) -> tuple[str | None, str]:
    """A /health answer's JSON ``status`` (None when there is none) and a line saying so."""
    try:
        body = json.loads(raw)
    except ValueError:
        return None, f"HTTP {code} with a body that is not JSON"
    status = body.get("status") if isinstance(body, dict) else None
    if not isinstance(status, str):
        return None, f"HTTP {code} without a 'status' field"
    return status, f"HTTP {code} status={status}"


def poll(
    probe: Callable[[float], tuple[bool, str]],
    timeout: float,
    pause: Callable[[int], float],
    sleep: Callable[[float], None] | None = None,
) -> tuple[bool, int, str]:
    """Call ``probe(seconds left)`` until it succeeds or ``timeout`` passes, sleeping
    ``pause(attempt)`` between tries but never past the deadline (Kamal's poller):
    ``(succeeded, attempts, the last probe's detail)``."""
    sleep = sleep or time.sleep
    deadline = time.monotonic() + timeout
    attempt = 0
    while True:
        attempt += 1
        ok, detail = probe(deadline - time.monotonic())
        remaining = deadline - time.monotonic()
        if ok or remaining <= 0:
            return ok, attempt, detail
        sleep(min(pause(attempt), remaining))


def wait_for_status(
    url: str,
    expect: str,
    timeout: float,
    interval: float = 2.0,
    request_timeout: float = 5.0,
) -> tuple[bool, str]:
    """Poll until ``status == expect`` or ``timeout`` seconds pass: ``(matched, message)``."""

    def probe(remaining: float) -> tuple[bool, str]:
        status, detail = fetch_status(url, max(0.1, min(request_timeout, remaining)))
        return status == expect, detail

    ok, attempts, detail = poll(probe, timeout, lambda attempt: interval * min(attempt, 5))
    if ok:
        return True, f"healthy: {url} reported status={expect} after {attempts} attempt(s)"
    return False, (
        f"unhealthy: {url} did not report status={expect} within {timeout:g}s "
        f"({attempts} attempt(s); last: {detail})"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Poll a /health URL until its JSON status matches."
    )
    parser.add_argument("url", help="e.g. http://127.0.0.1:8000/health")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds (default 120)")
    parser.add_argument("--expect-status", default="ok", choices=STATUSES)
    parser.add_argument("--interval", type=float, default=2.0, help="base seconds between polls")
    parser.add_argument("--request-timeout", type=float, default=5.0, help="seconds per request")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if urlsplit(args.url).scheme not in ("http", "https"):
        print(f"healthcheck: {args.url!r} is not an http(s) URL", file=sys.stderr)
        return 2
    if args.timeout <= 0 or args.interval <= 0 or args.request_timeout <= 0:
        print(
            "healthcheck: --timeout, --interval and --request-timeout must be > 0", file=sys.stderr
        )
        return 2
    ok, message = wait_for_status(
        args.url, args.expect_status, args.timeout, args.interval, args.request_timeout
    )
    print(f"healthcheck: {message}", file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
