"""Protocol tests for ``/ws/updates`` (WebsocketCommunicator + in-memory channel layer)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest
from channels.layers import get_channel_layer

from portfolio import consumers, publisher
from tests.ws.conftest import INTERVAL_S, FakeCompute
from tests.ws.helpers import communicator, next_of_type, running_publisher

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("ws_settings")]


async def connect(path: str = "/ws/updates", **kwargs):
    comm = communicator(path, **kwargs)
    connected, _ = await comm.connect(timeout=5)
    assert connected
    return comm


def expected_update(n: int, symbol: str) -> dict:
    """What FakeCompute's n-th call must reach the browser as (NaN → null), written out."""
    return {
        "type": "portfolio_update",
        "symbol": symbol,
        "spot": 200.0 + n,
        "value": 1000.0 * n,
        "pnl": 10.0 * n,
        "day_change": -1.5,
        "greeks": {"delta": 0.5, "gamma": None},
        "hedge": {"floor": 180.0, "cost": 12.5},
        "stale": False,
        "ts": f"2026-01-01T00:00:{n % 60:02d}+00:00",
    }


async def test_connected_first_then_update_within_interval(registry, known_symbols):
    compute = FakeCompute()
    async with running_publisher(compute):
        comm = await connect()
        first = await comm.receive_json_from(timeout=2)
        assert first["type"] == "connected"
        assert first["symbol"] == "GLD"
        assert first["interval_s"] == INTERVAL_S
        server_time = datetime.fromisoformat(first["server_time"])
        assert abs((datetime.now(UTC) - server_time).total_seconds()) < 5

        update = await comm.receive_json_from(timeout=INTERVAL_S + 1)
        assert update["type"] == "portfolio_update"
        n = len(compute.calls)  # the update carries the latest computation
        assert update == expected_update(n, "GLD")
        # ... and again on the next tick, with the next computation's numbers.
        again = await comm.receive_json_from(timeout=INTERVAL_S + 1)
        assert again == expected_update(n + 1, "GLD")
        await comm.disconnect()


async def test_symbol_from_query_string(registry, known_symbols):
    async with running_publisher(FakeCompute()):
        comm = await connect("/ws/updates?symbol=slv")
        assert (await comm.receive_json_from())["symbol"] == "SLV"
        update = await next_of_type(comm, "portfolio_update", INTERVAL_S + 1)
        assert update["symbol"] == "SLV"
        await comm.disconnect()


async def test_unknown_symbol_on_connect_is_an_error_not_a_crash(registry, known_symbols):
    comm = await connect("/ws/updates?symbol=NOPE")
    first = await comm.receive_json_from()
    assert first["type"] == "connected" and first["symbol"] is None
    error = await comm.receive_json_from()
    assert error == {"type": "error", "code": "unknown_symbol", "message": error["message"]}
    await comm.send_json_to({"action": "ping"})
    assert (await comm.receive_json_from())["type"] == "pong"
    await comm.disconnect()


async def test_subscribe_and_unsubscribe(registry, known_symbols):
    compute = FakeCompute()
    async with running_publisher(compute):
        comm = await connect()
        await comm.receive_json_from()  # connected
        await comm.send_json_to({"action": "subscribe", "symbol": "SLV"})
        assert await next_of_type(comm, "subscribed", 2) == {
            "type": "subscribed",
            "symbol": "SLV",
            "portfolio": None,
        }
        seen: set[str] = set()
        while seen != {"GLD", "SLV"}:
            seen.add((await next_of_type(comm, "portfolio_update", 2 * INTERVAL_S + 1))["symbol"])

        await comm.send_json_to({"action": "unsubscribe", "symbol": "GLD"})
        ack = await next_of_type(comm, "unsubscribed", 2)
        assert ack == {"type": "unsubscribed", "symbol": "GLD", "portfolio": None}
        # Drain what was in flight, then only SLV arrives for the next ticks.
        await asyncio.sleep(INTERVAL_S)
        while not await comm.receive_nothing(timeout=0.05):
            await comm.receive_from()
        symbols = [
            (await next_of_type(comm, "portfolio_update", INTERVAL_S + 1))["symbol"]
            for _ in range(3)
        ]
        assert symbols == ["SLV", "SLV", "SLV"]
        assert await registry.active_topics() == ["SLV"]

        await comm.send_json_to({"action": "unsubscribe", "symbol": "GLD"})
        assert (await next_of_type(comm, "error", 2))["code"] == "not_subscribed"
        await comm.disconnect()


async def test_subscription_limit(registry, known_symbols):
    known_symbols({f"S{i}" for i in range(10)} | {"GLD"})
    comm = await connect()
    await comm.receive_json_from()
    for i in range(consumers.MAX_SUBSCRIPTIONS - 1):
        await comm.send_json_to({"action": "subscribe", "symbol": f"S{i}"})
        assert (await comm.receive_json_from())["type"] == "subscribed"
    await comm.send_json_to({"action": "subscribe", "symbol": "S9"})
    assert (await comm.receive_json_from())["code"] == "too_many_subscriptions"
    await comm.disconnect()


async def test_one_computation_per_symbol_per_tick(registry, known_symbols):
    compute = FakeCompute()
    async with running_publisher(compute) as pub:
        comms = [await connect() for _ in range(5)]
        for comm in comms:
            await comm.receive_json_from()
        texts = [await next_of_type(c, "portfolio_update", INTERVAL_S + 1) for c in comms]
        # Every client got the same computation ...
        assert all(t == texts[0] for t in texts)
        await asyncio.sleep(2 * INTERVAL_S)
        # ... and the publisher computed GLD once per tick, not once per connection.
        assert compute.calls.count("GLD") <= pub.ticks
        for comm in comms:
            await comm.disconnect()


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("not json", "invalid_json"),
        ("[1, 2]", "invalid_message"),
        ('{"action": "dance"}', "unknown_action"),
        ("{}", "unknown_action"),
        ('{"action": "subscribe", "symbol": "lower case!"}', "invalid_symbol"),
        ('{"action": "subscribe", "symbol": 42}', "invalid_symbol"),
        ('{"action": "subscribe", "symbol": "NOPE"}', "unknown_symbol"),
        ("x" * (consumers.MAX_MESSAGE_BYTES + 1), "message_too_large"),
    ],
)
async def test_bad_messages_get_an_error_and_the_connection_stays_open(
    registry, known_symbols, frame, code
):
    comm = await connect()
    await comm.receive_json_from()
    await comm.send_to(text_data=frame)
    error = await comm.receive_json_from()
    assert error["type"] == "error" and error["code"] == code and error["message"]
    await comm.send_json_to({"action": "ping"})
    assert (await comm.receive_json_from())["type"] == "pong"
    await comm.disconnect()


async def test_binary_frame_is_an_error(registry, known_symbols):
    comm = await connect()
    await comm.receive_json_from()
    await comm.send_to(bytes_data=b"\x00\x01")
    assert (await comm.receive_json_from())["code"] == "binary_not_supported"
    await comm.disconnect()


async def test_flood_of_bad_messages_closes_with_policy_code(registry, known_symbols):
    comm = await connect()
    await comm.receive_json_from()
    for _ in range(consumers.BAD_LIMIT + 1):
        await comm.send_to(text_data="{")
    codes = []
    while True:
        output = await comm.receive_output(timeout=2)
        if output["type"] == "websocket.close":
            break
        codes.append(json.loads(output["text"])["code"])
    assert output["code"] == consumers.CLOSE_POLICY == 4008
    assert codes.count("invalid_json") == consumers.BAD_LIMIT + 1
    assert codes[-1] == "too_many_errors"


async def test_message_rate_limit_closes_with_policy_code(registry, known_symbols):
    comm = await connect()
    await comm.receive_json_from()
    for _ in range(int(consumers.RATE_BURST) + 5):
        await comm.send_json_to({"action": "ping"})
    last = None
    while True:
        output = await comm.receive_output(timeout=2)
        if output["type"] == "websocket.close":
            break
        last = json.loads(output["text"])
    assert output["code"] == 4008
    assert last is not None and last["code"] == "rate_limited"


@pytest.mark.parametrize("origin", ["http://evil.example", "null", None])
async def test_cross_origin_refused(registry, known_symbols, origin):
    comm = communicator(origin=origin)
    connected, _ = await comm.connect(timeout=5)
    assert not connected


async def test_disconnect_leaves_groups_and_registry(registry, known_symbols):
    layer = get_channel_layer()
    comm = await connect()
    await comm.receive_json_from()
    await comm.send_json_to({"action": "subscribe", "symbol": "SLV"})
    await comm.receive_json_from()
    assert set(layer.groups) == {"updates.GLD", "updates.SLV"}
    assert await registry.active_topics() == ["GLD", "SLV"]
    await comm.disconnect()
    assert all(not members for members in layer.groups.values())
    assert await registry.active_topics() == []


async def test_dead_consumer_does_not_stall_others(registry, known_symbols, settings):
    """A group member that never reads fills its channel; the others keep their schedule."""
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "portfolio.layers.FanoutInMemoryChannelLayer",
            "CONFIG": {"capacity": 2},
        }
    }
    layer = get_channel_layer()
    dead = await layer.new_channel()
    await layer.group_add(publisher.group_name("GLD"), dead)
    async with running_publisher(FakeCompute()) as pub:
        comm = await connect()
        await comm.receive_json_from()
        loop = asyncio.get_running_loop()
        started = loop.time()
        for _ in range(5):  # well past the dead channel's capacity
            await next_of_type(comm, "portfolio_update", INTERVAL_S + 1)
        assert loop.time() - started < 5 * INTERVAL_S + 1
        assert pub.ticks >= 5
        await comm.disconnect()


async def test_last_update_sent_on_subscribe(registry, known_symbols):
    await registry.set_last("GLD", '{"type":"portfolio_update","symbol":"GLD"}', ttl_s=10)
    comm = await connect()
    assert (await comm.receive_json_from())["type"] == "connected"
    assert await comm.receive_json_from(timeout=0.5) == {
        "type": "portfolio_update",
        "symbol": "GLD",
    }
    await comm.disconnect()


async def test_embedded_publisher_starts_with_the_first_connection(
    registry, known_symbols, settings, monkeypatch
):
    settings.WEBSOCKET_PUBLISHER = "embedded"
    compute = FakeCompute()
    monkeypatch.setattr(publisher, "default_compute", compute)
    try:
        comm = await connect()
        await comm.receive_json_from()
        update = await next_of_type(comm, "portfolio_update", INTERVAL_S + 1)
        assert update["symbol"] == "GLD" and compute.calls
        second = await connect()  # the second connection does not start another publisher
        assert len(publisher._embedded) == 1
        await second.disconnect()
        await comm.disconnect()
    finally:
        await publisher.stop_embedded_publisher()


async def test_symbols_checked_against_the_real_market_provider(registry, settings):
    """No stand-in here: the synthetic provider knows GLD/IAU/SLV/SPY and nothing else."""
    settings.MARKET_DATA_PROVIDER = "synthetic"
    comm = await connect("/ws/updates?symbol=ZZZZ")
    first = await comm.receive_json_from(timeout=10)
    assert first["type"] == "connected" and first["symbol"] is None
    assert (await comm.receive_json_from(timeout=10))["code"] == "unknown_symbol"
    await comm.send_json_to({"action": "subscribe", "symbol": "slv"})
    ack = await comm.receive_json_from(timeout=10)
    assert ack == {"type": "subscribed", "symbol": "SLV", "portfolio": None}
    await comm.disconnect()
