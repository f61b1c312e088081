"""The publisher's parts: encoding, topics, registries, the Redis lease, failure isolation."""

from __future__ import annotations

import asyncio
import json
import uuid

import numpy as np
import pytest

from portfolio import publisher


def test_encode_update_is_strict_json():
    text = publisher.encode_update(
        {
            "symbol": "GLD",
            "spot": np.float64(201.5),
            "greeks": {"gamma": float("nan")},
            "hedge": {"warnings": ("a",)},
            "value": float("inf"),
            "n": np.int64(3),
        }
    )
    body = json.loads(text)  # would reject NaN/Infinity tokens
    assert body == {
        "type": "portfolio_update",
        "symbol": "GLD",
        "spot": 201.5,
        "greeks": {"gamma": None},
        "hedge": {"warnings": ["a"]},
        "value": None,
        "n": 3,
    }


@pytest.mark.parametrize(
    ("symbol", "pid", "topic"),
    [
        ("GLD", None, "GLD"),
        ("GLD", 42, "GLD.p42"),
        ("BRK.B", None, "BRK.B"),
        ("BRK.B", 7, "BRK.B.p7"),
        ("BF-B", 1, "BF-B.p1"),
    ],
)
def test_topics_round_trip(symbol, pid, topic):
    assert publisher.topic_key(symbol, pid) == topic
    assert publisher.parse_topic(topic) == (symbol, pid)
    assert publisher.group_name(topic) == f"updates.{topic}"


def test_kpi_cards_rendered_from_the_payload():
    html = publisher.render_kpis(
        {
            "symbol": "GLD",
            "spot": 231.456,
            "value": 1234567.4,
            "pnl": -2500.0,
            "pnl_pct": -1.5,
            "cost": 100.0,
            "day_change": 10.0,
            "day_change_pct": 0.01,
            "stale": True,
            "greeks": {"delta_shares": 812.3, "delta_dollars": 1.0, "theta_dollars": -3.0},
            "hedge": {
                "floor_value": None,
                "hedge_ratio": 0.5,
                "cost_pct_per_year": 2.345,
                "days_to_nearest_expiry": 30,
            },
            "ts": "2026-01-01T00:00:00+00:00",
        }
    )
    assert 'id="kpis"' in html and 'id="kpi-value"' in html
    assert "$1,234,567" in html  # the template's money format, written out
    assert "\u2212$2,500" in html and "231.46" in html and "2.35%" in html
    assert "stale" in html and "no long puts" in html


async def test_memory_registry_expires_and_forgets(monkeypatch):
    reg = publisher.MemoryRegistry()
    await reg.add("GLD", "c1")
    await reg.add("SLV", "c2")
    assert await reg.active_topics() == ["GLD", "SLV"]
    await reg.remove("GLD", "c1")
    assert await reg.active_topics() == ["SLV"]
    monkeypatch.setattr(publisher, "SUBSCRIPTION_TTL_S", -1.0)
    await reg.refresh(["SLV"], "c2")
    assert await reg.active_topics() == []
    await reg.set_last("GLD", "x", ttl_s=-1)
    assert await reg.get_last("GLD") is None


class _RecordingLayer:
    def __init__(self):
        self.sent: list[tuple[str, dict]] = []

    async def group_send(self, group, message):
        self.sent.append((group, message))


@pytest.mark.django_db(transaction=True)
async def test_one_failing_topic_does_not_stop_the_others():
    reg = publisher.MemoryRegistry()
    for topic in ("BAD", "GLD", "SLV"):
        await reg.add(topic, f"chan-{topic}")

    def compute(symbol, portfolio_id=None):
        if symbol == "BAD":
            raise RuntimeError("provider down")
        return {"symbol": symbol, "spot": 1.0}

    layer = _RecordingLayer()
    pub = publisher.Publisher(compute, channel_layer=layer, registry=reg, interval_s=1, render=None)
    assert await pub.tick() == ["BAD", "GLD", "SLV"]
    assert [g for g, _ in layer.sent] == ["updates.GLD", "updates.SLV"]
    assert json.loads(layer.sent[0][1]["text"]) == {
        "type": "portfolio_update",
        "symbol": "GLD",
        "spot": 1.0,
    }
    assert layer.sent[0][1]["type"] == "portfolio.update"


# --- Redis ------------------------------------------------------------------------------------


@pytest.fixture
def redis_prefix(redis_url):
    import redis

    prefix = f"test-ws-unit-{uuid.uuid4().hex[:8]}"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.mark.services
async def test_redis_lock_is_exclusive_renewable_and_expires(redis_url, redis_prefix):
    a = publisher.RedisLock(redis_url, f"{redis_prefix}:lock", ttl_s=0.5)
    b = publisher.RedisLock(redis_url, f"{redis_prefix}:lock", ttl_s=0.5)
    assert await a.acquire()
    assert not await b.acquire()
    assert await a.renew() and not await b.renew()
    await b.release()  # not the holder: no effect
    assert not await b.acquire()
    await asyncio.sleep(0.7)  # a stops renewing: the lease runs out
    assert await b.acquire()
    assert not await a.renew()
    await b.release()
    assert await a.acquire()


@pytest.mark.services
async def test_redis_registry(redis_url, redis_prefix, monkeypatch):
    reg = publisher.RedisRegistry(redis_url, redis_prefix)
    await reg.add("GLD", "c1")
    await reg.add("GLD", "c2")
    await reg.add("SLV.p3", "c1")
    assert await reg.active_topics() == ["GLD", "SLV.p3"]
    await reg.remove("GLD", "c1")
    assert await reg.active_topics() == ["GLD", "SLV.p3"]
    await reg.remove("GLD", "c2")
    assert await reg.active_topics() == ["SLV.p3"]
    monkeypatch.setattr(publisher, "SUBSCRIPTION_TTL_S", -1.0)
    await reg.refresh(["SLV.p3"], "c1")  # an entry nobody refreshed in time
    assert await reg.active_topics() == []
    await reg.set_last("GLD", '{"a":1}', ttl_s=5)
    assert await reg.get_last("GLD") == '{"a":1}'


async def test_local_topics_register_the_process_once_and_repair_the_registry(monkeypatch):
    reg = publisher.MemoryRegistry()
    monkeypatch.setattr(publisher, "_memory_registry", reg)
    monkeypatch.setattr(publisher, "REGISTRY_REFRESH_S", 0.05)
    local = publisher.LocalTopics()
    await local.add("GLD", "c1")
    await local.add("GLD", "c2")
    assert reg._subs == {"GLD": {local.process_id: reg._subs["GLD"][local.process_id]}}
    reg._subs.clear()  # the registry lost its data (a Redis restart)
    await asyncio.sleep(0.2)
    assert await reg.active_topics() == ["GLD"]
    await local.remove("GLD", "c1")
    assert await reg.active_topics() == ["GLD"]  # c2 still there
    await local.remove("GLD", "c2")
    assert await reg.active_topics() == []
    assert local._task is not None
    local._task.cancel()
