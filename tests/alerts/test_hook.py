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


def test_steered_market_across_a_rule_notifies_once_end_to_end(fake_market, monkeypatch, settings):
    """Publisher ticks with the market moved across a rule: one e-mail, one push, one event."""
    import asyncio

    from alerts import hooks
    from tests.alerts.receivers import http_server, smtp_server
    from tests.portfolio import fakes

    with smtp_server() as (smtp_port, mail), http_server() as (http_port, push):
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp_port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        rule = make_rule(
            level=205.0,
            reset_band=2.0,
            email="me@example.com",
            apprise_urls=f"ntfy://127.0.0.1:{http_port}/gold",
        )
        PositionFactory(portfolio=rule.portfolio)

        async def ticks() -> None:
            pub = publisher()
            for spot in (200.0, 206.0, 207.0, 206.5):  # one crossing, then it stays above
                monkeypatch.setitem(fakes.SPOTS, "GLD", spot)
                await pub.tick()
                if hooks._delivering is not None:
                    await asyncio.wait_for(hooks._delivering, 30)

        async_to_sync(ticks)()
        assert len(mail.messages) == 1 and len(push.requests) == 1
        assert AlertEvent.objects.get().value == 206.0
