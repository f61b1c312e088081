"""The publisher evaluates alerts once per tick (only while it is the leader)."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer

from alerts.models import AlertEvent
from portfolio.publisher import MemoryRegistry, Publisher
from tests.alerts.helpers import make_rule
from tests.factories import PositionFactory

pytestmark = pytest.mark.django_db(transaction=True)


def publisher(leader: bool = True) -> Publisher:
    from alerts.hooks import on_tick

    pub = Publisher(
        lambda s, p: {},
        render=None,
        channel_layer=InMemoryChannelLayer(),
        registry=MemoryRegistry(),
        interval_s=1.0,
        on_tick=on_tick,
    )
    pub.leader = leader
    return pub


def test_a_tick_evaluates_every_rule_without_any_subscriber(fake_market):
    rule = make_rule(level=150.0)  # the fake market's GLD spot is 200
    PositionFactory(portfolio=rule.portfolio)
    async_to_sync(publisher().tick)()
    assert list(AlertEvent.objects.values_list("rule_id", "crossing")) == [(rule.pk, 1)]
    async_to_sync(publisher().tick)()  # still above: no second event
    assert AlertEvent.objects.count() == 1


def test_a_standby_publisher_evaluates_nothing(fake_market):
    make_rule(level=150.0)
    async_to_sync(publisher(leader=False).tick)()
    assert AlertEvent.objects.count() == 0


def test_from_settings_wires_the_alerts_hook():
    from alerts.hooks import on_tick

    assert Publisher.from_settings().on_tick is on_tick
