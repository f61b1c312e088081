"""A real OpenID Connect provider for the tests: django-oidc-provider in a second Django
project (this package), served by gunicorn on loopback in its own process."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.server import ROOT, app_env, serving
from tests.support.services import free_port


@dataclass
class OidcProvider:
    url: str
    data_dir: Path
    log_path: Path

    @property
    def issuer(self) -> str:
        return f"{self.url}/openid"

    def tweak(self, **tweaks: Any) -> None:
        """Bend the next ID tokens: ``iss=…`` or ``exp_offset=seconds`` (see claims.py)."""
        (self.data_dir / "tweaks.json").write_text(json.dumps(tweaks))


@contextlib.contextmanager
def run_oidc_provider(tmp: Path, spec: dict[str, Any]) -> Iterator[OidcProvider]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    data_dir = tmp / "oidc-provider"
    data_dir.mkdir(parents=True, exist_ok=True)
    env = app_env({"PROVIDER_DATA_DIR": str(data_dir), "PROVIDER_SITE_URL": url})
    env["DJANGO_SETTINGS_MODULE"] = "tests.support.oidc_provider.settings"
    subprocess.run(
        [sys.executable, "-m", "tests.support.oidc_provider.prepare"],
        input=json.dumps(spec).encode(),
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    log_path = data_dir / "gunicorn.log"
    argv = ["gunicorn", "-b", f"127.0.0.1:{port}", "-w", "1", "--threads", "4"]
    argv = [sys.executable, "-m", *argv, "tests.support.oidc_provider.wsgi:application"]
    with serving(argv, env, log_path, f"{url}/openid/.well-known/openid-configuration"):
        yield OidcProvider(url, data_dir, log_path)
