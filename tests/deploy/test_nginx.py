"""deploy/nginx.conf under Debian's real nginx (the seed's example proxy), as the Caddy test
does for the Caddyfile: HTTP->HTTPS redirect, the forwarded headers the app trusts, and the
WebSocket upgrade for /ws/ through to daphne.

The HTTP upstream is a small echo server (it answers with the request headers it received,
so the test reads exactly what nginx forwarded); /ws/ goes to the real app.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import re
import shutil
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import websockets
from websockets.typing import Origin

from tests.conftest import _require
from tests.support.server import run_app_server, stop_process
from tests.support.services import free_port
from tests.support.websocket import portfolio_updates

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
NGINX_CONF = ROOT / "deploy" / "nginx.conf"
DOMAIN = "vault.example.test"
NGINX = "/usr/sbin/nginx"


class Echo(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        body = json.dumps({"path": self.path, "headers": dict(self.headers.items())}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture(scope="module")
def nginx() -> str:
    found = NGINX if Path(NGINX).exists() else shutil.which("nginx")
    _require("nginx", None if found else "nginx is not installed (tools/container-engine.sh)")
    assert found is not None
    return found


TEMPLATE_VARIABLE = re.compile(r"\$\{([A-Z_]+)\}")


def render(**values: str) -> str:
    """What `envsubst '$A $B ...'` writes: only the listed ${NAME}s, nginx's own $vars kept."""
    text = NGINX_CONF.read_text()
    missing = set(TEMPLATE_VARIABLE.findall(text)) - set(values)
    assert not missing, f"unset: {missing}"
    return TEMPLATE_VARIABLE.sub(lambda m: values[m.group(1)], text)


def test_every_variable_is_in_the_documented_envsubst_line() -> None:
    text = NGINX_CONF.read_text()
    envsubst_line = text.split("envsubst '", 1)[1].split("'", 1)[0]
    assert set(TEMPLATE_VARIABLE.findall(text)) == set(re.findall(r"\$(\w+)", envsubst_line))


@contextlib.contextmanager
def running_nginx(
    nginx: str, tmp: Path, http_upstream: str, ws_upstream: str
) -> Iterator[tuple[int, int, ssl.SSLContext]]:
    key, cert = tmp / "tls.key", tmp / "tls.crt"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-days", "1", "-subj", f"/CN={DOMAIN}",
            "-addext", f"subjectAltName=DNS:{DOMAIN}",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    http_port, https_port = free_port(), free_port()
    site = render(
        VAULT_DOMAIN=DOMAIN,
        VAULT_HTTP_UPSTREAM=http_upstream,
        VAULT_WS_UPSTREAM=ws_upstream,
        NGINX_HTTP_PORT=str(http_port),
        NGINX_HTTPS_PORT=str(https_port),
        TLS_CERTIFICATE=str(cert),
        TLS_CERTIFICATE_KEY=str(key),
    )
    (tmp / "vault-dash.conf").write_text(site)
    temp = "\n".join(
        f"    {kind}_temp_path {tmp / kind};" for kind in ("client_body", "proxy", "fastcgi")
    )
    (tmp / "nginx.conf").write_text(
        f"""user root;
worker_processes 1;
pid {tmp / "nginx.pid"};
error_log {tmp / "error.log"} warn;
events {{ worker_connections 256; }}
http {{
    access_log {tmp / "access.log"};
{temp}
    uwsgi_temp_path {tmp / "uwsgi"};
    scgi_temp_path {tmp / "scgi"};
    include {tmp / "vault-dash.conf"};
}}
"""
    )
    checked = subprocess.run(
        [nginx, "-t", "-p", str(tmp), "-c", str(tmp / "nginx.conf")],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stderr
    process = subprocess.Popen(
        [nginx, "-p", str(tmp), "-c", str(tmp / "nginx.conf"), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    context = ssl.create_default_context(cafile=str(cert))
    context.check_hostname = False  # the test connects to 127.0.0.1; the chain is verified
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                http.client.HTTPConnection("127.0.0.1", http_port, timeout=2).connect()
                break
            except OSError:
                assert process.poll() is None, (tmp / "error.log").read_text()
                assert time.monotonic() < deadline, "nginx did not listen"
                time.sleep(0.1)
        yield http_port, https_port, context
    finally:
        stop_process(process)


@pytest.fixture(scope="module")
def layout(nginx: str, tmp_path_factory) -> Iterator[tuple[int, int, ssl.SSLContext]]:
    tmp = tmp_path_factory.mktemp("nginx")
    echo = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    thread = threading.Thread(target=echo.serve_forever, daemon=True)
    thread.start()
    env = {"DATA_DIR": str(tmp / "data"), "WEBSOCKET_INTERVAL_SECONDS": "1"}
    try:
        with (
            run_app_server(env, seed=True) as daphne,
            running_nginx(
                nginx, tmp, f"127.0.0.1:{echo.server_address[1]}", f"127.0.0.1:{daphne.port}"
            ) as ports,
        ):
            yield ports
    finally:
        echo.shutdown()


def test_http_redirects_to_https(layout) -> None:
    http_port, _, _ = layout
    conn = http.client.HTTPConnection("127.0.0.1", http_port, timeout=10)
    conn.request("GET", "/portfolio/?symbol=GLD", headers={"Host": DOMAIN})
    response = conn.getresponse()
    assert response.status == 301
    assert response.headers["Location"] == f"https://{DOMAIN}/portfolio/?symbol=GLD"


def test_https_forwards_the_headers_the_app_trusts(layout) -> None:
    _, https_port, context = layout
    conn = http.client.HTTPSConnection("127.0.0.1", https_port, timeout=10, context=context)
    conn.request(
        "GET",
        "/api/portfolio?symbol=GLD",
        headers={"Host": DOMAIN, "X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "http"},
    )
    response = conn.getresponse()
    assert response.status == 200
    echoed = json.loads(response.read())
    headers = {k.lower(): v for k, v in echoed["headers"].items()}
    assert echoed["path"] == "/api/portfolio?symbol=GLD"
    assert headers["host"] == DOMAIN
    assert headers["x-forwarded-proto"] == "https"  # a client's own value is overwritten
    assert headers["x-forwarded-for"] == "127.0.0.1"  # a spoofed client value is not kept
    assert headers["x-forwarded-host"] == DOMAIN
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "nginx/" not in (response.headers.get("Server") or "")


def test_websocket_upgrade_reaches_daphne(layout) -> None:
    _, https_port, context = layout

    async def first_update() -> dict[str, object]:
        url = f"wss://127.0.0.1:{https_port}/ws/updates?symbol=GLD"
        origin = Origin(f"https://127.0.0.1:{https_port}")
        async with websockets.connect(url, ssl=context, origin=origin) as ws:
            assert json.loads(await ws.recv())["type"] == "connected"
            (update,) = await portfolio_updates(ws, 1, 30)
            return update

    update = asyncio.run(first_update())
    assert update["symbol"] == "GLD"
    assert "kpis_html" in update
