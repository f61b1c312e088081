"""``APP_ENV=production make run`` serves its pages and their static files (issue 13, item 4).

Only the image ran collectstatic, so production started from a checkout answered every page
with a 500 (``Missing staticfiles manifest entry for 'css/app.css'``).
"""

from __future__ import annotations

import re
import secrets
import shutil
import sys
import urllib.request

import pytest

from tests.support.server import ROOT, app_env, serving
from tests.support.services import free_port

# Behind Caddy: without it the production server redirects to HTTPS.
HTTPS = {"X-Forwarded-Proto": "https"}


def _get(url: str) -> tuple[int, str, bytes]:
    request = urllib.request.Request(url, headers=HTTPS)  # noqa: S310
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return response.status, response.headers.get("Content-Type", ""), response.read()


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_production_make_run_serves_login_page_and_css(tmp_path) -> None:
    port = free_port()
    env = app_env(
        {
            "APP_ENV": "production",
            "NICEGUI_STORAGE_SECRET": secrets.token_urlsafe(48),
            "ALLOWED_HOSTS": "127.0.0.1",
            "APP_PORT": str(port),
            "APP_BIND_ADDRESS": "127.0.0.1",
            "DATA_DIR": str(tmp_path / "data"),
            # A fresh, empty static root, as on a checkout where nothing was collected yet.
            "STATIC_ROOT": str(tmp_path / "staticfiles"),
            "LOG_LEVEL": "WARNING",
        }
    )
    # `-o install`: the dependencies are installed already; the test runs the rest of `run`.
    argv = ["make", "-s", "-o", "install", "run", f"PY={sys.executable}"]
    base = f"http://127.0.0.1:{port}"
    with serving(argv, env, tmp_path / "make-run.log", f"{base}/health/live", 120, group=True):
        status, kind, page = _get(f"{base}/login/")
        assert status == 200 and kind.startswith("text/html")
        html = page.decode()
        assert 'name="password"' in html
        # The stylesheet's hashed name, from the manifest collectstatic wrote.
        css_url = re.search(r'href="(/static/css/app\.[0-9a-f]{12}\.css)"', html)
        assert css_url, html[:500]
        status, kind, css = _get(base + css_url.group(1))
        assert status == 200 and kind.startswith("text/css")
        source = (ROOT / "static" / "css" / "app.css").read_bytes()
        assert css[:200] == source[:200] and len(css) > 1000
        # A static file that does not exist is still a 404, not hidden behind a fallback.
        with pytest.raises(urllib.error.HTTPError) as missing:
            _get(f"{base}/static/css/nope.css")
        assert missing.value.code == 404
