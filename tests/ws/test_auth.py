"""Session authentication on ``/ws/updates`` where login is required (production)."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from tests.ws.helpers import communicator

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("ws_settings")]


def _session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


@pytest.fixture
def login_required(ws_settings):
    ws_settings.LOGIN_REQUIRED = True


@pytest.fixture
def user_cookie(django_user_model) -> str:
    return _session_cookie(django_user_model.objects.create_user("ana", password="pw-123456789"))


@pytest.fixture
def inactive_cookie(django_user_model) -> str:
    user = django_user_model.objects.create_user("bo", password="pw-123456789")
    cookie = _session_cookie(user)
    user.is_active = False
    user.save()
    return cookie


async def _closed_code(comm) -> tuple[list[dict], int]:
    messages: list[dict] = []
    while True:
        output = await comm.receive_output(timeout=2)
        if output["type"] == "websocket.close":
            return messages, output["code"]
        messages.append(json.loads(output["text"]))


@pytest.mark.usefixtures("login_required")
@pytest.mark.parametrize("cookie", [None, "sessionid=forged"])
async def test_anonymous_closed_with_4401(registry, known_symbols, cookie):
    comm = communicator(cookie=cookie)
    connected, _ = await comm.connect(timeout=5)
    assert connected
    messages, code = await _closed_code(comm)
    assert code == 4401
    assert [m["type"] for m in messages] == ["error"]
    assert messages[0]["code"] == "auth_required"


@pytest.mark.usefixtures("login_required")
async def test_inactive_user_closed_with_4401(registry, known_symbols, inactive_cookie):
    comm = communicator(cookie=inactive_cookie)
    assert (await comm.connect(timeout=5))[0]
    _, code = await _closed_code(comm)
    assert code == 4401


@pytest.mark.usefixtures("login_required")
async def test_logged_in_user_gets_updates(registry, known_symbols, user_cookie):
    comm = communicator(cookie=user_cookie)
    assert (await comm.connect(timeout=5))[0]
    first = await comm.receive_json_from()
    assert first["type"] == "connected" and first["symbol"] == "GLD"
    await comm.send_json_to({"action": "subscribe", "symbol": "SLV"})
    assert await comm.receive_json_from() == {
        "type": "subscribed",
        "symbol": "SLV",
        "portfolio": None,
    }
    await comm.disconnect()


async def test_embedded_default_is_anonymous(registry, known_symbols):
    comm = communicator()
    assert (await comm.connect(timeout=5))[0]
    assert (await comm.receive_json_from())["type"] == "connected"
    await comm.disconnect()


# --- private portfolios: subscriptions only to what the user may see ------------------------


@pytest.fixture
def owners(django_user_model):
    from tests.factories import DemoPortfolioFactory, PortfolioFactory

    demo = DemoPortfolioFactory()
    ana = django_user_model.objects.create_user("ana2", password="pw-123456789")
    bo = django_user_model.objects.create_user("bo2", password="pw-123456789")
    return {
        "demo": demo.pk,
        "ana": PortfolioFactory(owner=ana).pk,
        "bo": PortfolioFactory(owner=bo).pk,
        "ana_cookie": _session_cookie(ana),
    }


async def test_owner_follows_own_portfolio_by_default(registry, known_symbols, owners):
    comm = communicator(cookie=owners["ana_cookie"])
    assert (await comm.connect(timeout=5))[0]
    first = await comm.receive_json_from()
    assert (first["symbol"], first["portfolio"]) == ("GLD", owners["ana"])
    assert await registry.active_topics() == [f"GLD.p{owners['ana']}"]
    await comm.disconnect()


async def test_someone_elses_portfolio_is_refused(registry, known_symbols, owners):
    comm = communicator(cookie=owners["ana_cookie"])
    assert (await comm.connect(timeout=5))[0]
    await comm.receive_json_from()
    await comm.send_json_to({"action": "subscribe", "symbol": "SLV", "portfolio": owners["bo"]})
    error = await comm.receive_json_from()
    assert error["type"] == "error" and error["code"] == "portfolio_not_found"
    # The demo is visible to everyone and is the shared (portfolio-less) topic.
    await comm.send_json_to({"action": "subscribe", "symbol": "SLV", "portfolio": owners["demo"]})
    assert await comm.receive_json_from() == {
        "type": "subscribed",
        "symbol": "SLV",
        "portfolio": None,
    }
    assert f"SLV.p{owners['bo']}" not in await registry.active_topics()
    await comm.disconnect()


@pytest.mark.parametrize("param", ["bo", "nonsense"])
async def test_anonymous_cannot_follow_a_private_portfolio(registry, known_symbols, owners, param):
    pid = owners["bo"] if param == "bo" else "1;DROP"
    comm = communicator(f"/ws/updates?symbol=GLD&portfolio={pid}")
    assert (await comm.connect(timeout=5))[0]
    first = await comm.receive_json_from()
    assert first["type"] == "connected" and first["symbol"] is None
    assert (await comm.receive_json_from())["code"] == "portfolio_not_found"
    assert await registry.active_topics() == []
    await comm.disconnect()


async def test_private_topic_updates_computed_for_that_portfolio(registry, known_symbols, owners):
    from tests.ws.conftest import INTERVAL_S, FakeCompute
    from tests.ws.helpers import next_of_type, running_publisher

    compute = FakeCompute()
    async with running_publisher(compute):
        comm = communicator(cookie=owners["ana_cookie"])
        assert (await comm.connect(timeout=5))[0]
        await comm.receive_json_from()
        await next_of_type(comm, "portfolio_update", INTERVAL_S + 1)
        assert set(compute.calls) == {f"GLD.p{owners['ana']}"}
        await comm.disconnect()
