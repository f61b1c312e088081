"""The bell: the unread count reaches the owner's socket when a rule fires, and drops on read."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from alerts import runner
from tests.alerts.helpers import Book, make_rule
from tests.factories import PortfolioFactory, UserFactory
from tests.ws.helpers import communicator, next_of_type

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("ws_settings")]


@pytest.fixture
def ws_settings(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    settings.WEBSOCKET_PUBLISHER = "external"  # no embedded publisher: the test drives ticks


def login(user) -> tuple[Client, str]:
    client = Client()
    client.force_login(user)
    return client, f"sessionid={client.cookies['sessionid'].value}"


async def connected(user):
    """A client logged in as ``user`` and a socket of its session, past "connected"."""
    client, cookie = await sync_to_async(login)(user)
    comm = communicator(cookie=cookie)
    assert (await comm.connect(timeout=5))[0]
    assert (await comm.receive_json_from())["type"] == "connected"
    return client, comm


async def test_fire_and_read_update_the_bell(fake_market):
    owner, stranger = await sync_to_async(UserFactory)(), await sync_to_async(UserFactory)()
    portfolio = await sync_to_async(PortfolioFactory)(owner=owner)
    await sync_to_async(make_rule)(portfolio=portfolio, level=150.0)
    client, mine = await connected(owner)
    _, theirs = await connected(stranger)

    await sync_to_async(runner.evaluate_symbol)("GLD", value=Book())
    bell = await next_of_type(mine, "alerts_unread", 5)
    assert bell["unread"] == 1 and "Spot price crosses a level" in bell["latest"]["message"]
    assert bell["latest"]["portfolio"] == portfolio.pk
    assert await theirs.receive_nothing(timeout=0.3)  # nobody else hears of it

    page = await sync_to_async(client.get)(f"/portfolios/{portfolio.pk}/alerts/")
    assert page.status_code == 200
    assert (await next_of_type(mine, "alerts_unread", 5))["unread"] == 0
    for comm in (mine, theirs):
        await comm.disconnect()


async def test_unread_count_is_sent_on_connect(fake_market):
    owner = await sync_to_async(UserFactory)()
    portfolio = await sync_to_async(PortfolioFactory)(owner=owner)
    await sync_to_async(make_rule)(portfolio=portfolio, level=150.0)
    await sync_to_async(runner.evaluate_symbol)("GLD", value=Book())
    _, comm = await connected(owner)
    assert (await comm.receive_json_from())["unread"] == 1
    await comm.disconnect()


async def test_opening_the_alert_log_sends_zero_to_the_owner_only(fake_market):
    owner, stranger = await sync_to_async(UserFactory)(), await sync_to_async(UserFactory)()
    mine = await sync_to_async(PortfolioFactory)(owner=owner)
    theirs = await sync_to_async(PortfolioFactory)(owner=stranger)
    for portfolio in (mine, theirs):
        await sync_to_async(make_rule)(portfolio=portfolio, level=150.0)
    await sync_to_async(runner.evaluate_symbol)("GLD", value=Book())
    client, my_socket = await connected(owner)
    _, their_socket = await connected(stranger)
    for comm in (my_socket, their_socket):
        assert (await comm.receive_json_from())["unread"] == 1  # each their own one

    assert (await sync_to_async(client.get)("/alerts/")).status_code == 200
    assert (await next_of_type(my_socket, "alerts_unread", 5))["unread"] == 0
    assert await their_socket.receive_nothing(timeout=0.3)  # still 1 unread: nothing to say
    for comm in (my_socket, their_socket):
        await comm.disconnect()
