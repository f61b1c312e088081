"""portfolio.layers.FanoutInMemoryChannelLayer keeps the in-memory layer's semantics."""

from __future__ import annotations

import asyncio

import pytest

from portfolio.layers import FanoutInMemoryChannelLayer


async def test_group_send_reaches_every_member_once():
    layer = FanoutInMemoryChannelLayer()
    a, b, c = [await layer.new_channel() for _ in range(3)]
    await layer.group_add("updates.GLD", a)
    await layer.group_add("updates.GLD", b)
    await layer.group_add("updates.SLV", c)
    await layer.group_send("updates.GLD", {"type": "x.y", "n": 1})
    assert await layer.receive(a) == {"type": "x.y", "n": 1}
    assert await layer.receive(b) == {"type": "x.y", "n": 1}
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(layer.receive(c), 0.05)
    await layer.group_discard("updates.GLD", b)
    await layer.group_send("updates.GLD", {"type": "x.y", "n": 2})
    assert (await layer.receive(a))["n"] == 2
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(layer.receive(b), 0.05)


async def test_sender_keeps_its_message_and_full_members_are_skipped():
    layer = FanoutInMemoryChannelLayer(capacity=2)
    slow, fast = await layer.new_channel(), await layer.new_channel()
    for ch in (slow, fast):
        await layer.group_add("g", ch)
    items = [1]
    message = {"type": "x.y", "items": items}
    for n in range(4):
        await layer.group_send("g", {**message, "n": n})
        assert (await layer.receive(fast))["n"] == n
    items.append(2)  # the sender mutating its data does not reach the queues
    got = [await layer.receive(slow) for _ in range(2)]
    assert [m["n"] for m in got] == [0, 1]  # 2 and 3 were dropped for the full member only
    assert all(m["items"] == [1] for m in got)


async def test_expired_messages_still_swept(monkeypatch):
    layer = FanoutInMemoryChannelLayer(expiry=0)
    ch = await layer.new_channel()
    await layer.group_add("g", ch)
    await layer.group_send("g", {"type": "x.y"})
    await asyncio.sleep(0.01)
    layer._cleaned_at = 0.0  # due for a sweep
    layer._clean_expired()
    assert ch not in layer.groups["g"]  # as in the parent: a channel that let a message expire
