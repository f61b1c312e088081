"""WebSocket abuse against a real daphne: random, huge, invalid-UTF-8 and flooding clients.

The server stays up and a well-behaved client on the same process keeps receiving its updates.
"""

from __future__ import annotations

import asyncio
import base64
import os
import random
import socket
import struct

import pytest
import websockets
from websockets.typing import Origin

from tests.support.server import run_app_server
from tests.support.websocket import portfolio_updates

pytestmark = [pytest.mark.slow]

INTERVAL = 0.5


def _frame(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    """A client→server frame (masked, as RFC 6455 requires)."""
    head = bytes([(0x80 if fin else 0) | opcode])
    length = len(payload)
    if length < 126:
        head += bytes([0x80 | length])
    elif length < 1 << 16:
        head += bytes([0x80 | 126]) + struct.pack("!H", length)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", length)
    mask = os.urandom(4)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def _raw_connect(host: str, port: int) -> socket.socket:
    sock = socket.create_connection((host, port), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /ws/updates HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: 13\r\nOrigin: http://{host}:{port}\r\n\r\n"
        ).encode()
    )
    response = b""
    while b"\r\n\r\n" not in response:
        chunk = sock.recv(4096)
        if not chunk:
            break
        response += chunk
    assert response.startswith(b"HTTP/1.1 101"), response[:200]
    return sock


def _closed_by_server(sock: socket.socket, timeout: float = 5) -> bool:
    sock.settimeout(timeout)
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return True
            # A close frame from the server (opcode 0x8) also counts.
            if any(data[i] == 0x88 for i in range(len(data))):
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False


async def _updates(url: str, origin: str, count: int, within: float) -> list[dict]:
    async with websockets.connect(url, origin=Origin(origin)) as ws:
        return await portfolio_updates(ws, count, within)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("wsfuzz")
    env = {"DATA_DIR": str(data), "WEBSOCKET_INTERVAL_SECONDS": str(INTERVAL)}
    with run_app_server(env, seed=True) as srv:
        yield srv


def test_abusive_clients_do_not_hurt_a_good_one(server) -> None:
    host, port = server.host, server.port
    ws_url = f"ws://{host}:{port}/ws/updates?symbol=GLD"
    origin = f"http://{host}:{port}"

    async def scenario() -> tuple[list[dict], list[str]]:
        good = asyncio.create_task(_updates(ws_url, origin, count=6, within=30))
        outcomes: list[str] = []

        # 1. Random garbage text and binary frames.
        rng = random.Random(1234)  # noqa: S311 - fuzz data, not crypto
        async with websockets.connect(ws_url, origin=Origin(origin)) as ws:
            for _ in range(8):
                junk = "".join(chr(rng.randint(1, 0x2FFF)) for _ in range(rng.randint(0, 200)))
                await ws.send(junk)
                await ws.send(os.urandom(rng.randint(1, 300)))
            outcomes.append("random: sent")

        # 2. A huge message (2 MiB): refused by the server, connection closed. The drop can
        # land while the frame is still being sent; close_code reads 1006 when no close frame
        # arrived, whichever call saw it.
        async with websockets.connect(ws_url, origin=Origin(origin), max_size=None) as ws:
            try:
                await ws.send("x" * (2 * 1024 * 1024))
                await asyncio.wait_for(ws.wait_closed(), 10)
            except websockets.ConnectionClosed:
                pass
            outcomes.append(f"huge: closed {ws.close_code}")

        # 3. Flood of bad messages: closed with the policy close code.
        async with websockets.connect(ws_url, origin=Origin(origin)) as ws:
            try:
                for _ in range(200):
                    await ws.send("{not json")
                await asyncio.wait_for(ws.wait_closed(), 10)
            except websockets.ConnectionClosed:
                pass
            outcomes.append(f"flood: closed {ws.close_code}")

        # 4. Invalid UTF-8 in a text frame (raw socket): the server drops the connection.
        loop = asyncio.get_running_loop()

        def invalid_utf8() -> bool:
            sock = _raw_connect(host, port)
            try:
                sock.sendall(_frame(0x1, b"\xff\xfe\xfd invalid"))
                return _closed_by_server(sock)
            finally:
                sock.close()

        outcomes.append(f"invalid-utf8: closed={await loop.run_in_executor(None, invalid_utf8)}")
        return await good, outcomes

    updates, outcomes = asyncio.run(scenario())
    assert len(updates) == 6
    assert all(u["symbol"] == "GLD" and u["value"] > 0 for u in updates)
    # autobahn (daphne) refuses a message over its 1 MiB limit by dropping the connection
    # (1006) or with "message too big" (1009), depending on how far the frame got.
    assert {"huge: closed 1006", "huge: closed 1009"} & set(outcomes), outcomes
    assert "flood: closed 4008" in outcomes, outcomes
    assert "invalid-utf8: closed=True" in outcomes, outcomes
    # Still serving, and new clients still get updates.
    assert server.process.poll() is None
    assert len(asyncio.run(_updates(ws_url, origin, count=1, within=10))) == 1
