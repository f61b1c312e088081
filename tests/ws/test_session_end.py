"""A live socket closes (4401) within one update interval of its login ending (issue 13, item 2).

Before, a session logged out over HTTP kept receiving its portfolio updates (123 in 123 s).
Each case: a logged-in socket receives updates, the login ends, the socket must be closed
with 4401 within ``INTERVAL_S`` and receive nothing private after that.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import HASH_SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from portfolio.session_guard import valid_session_keys
from tests.ws.conftest import INTERVAL_S, FakeCompute
from tests.ws.helpers import communicator, next_of_type, running_publisher

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("ws_settings")]

PASSWORD = "pw-123456789"
# Close times of this module's runs, printed at the end (docs/reliability.md records them).
CLOSE_TIMES: dict[str, float] = {}


@pytest.fixture
def login_required(ws_settings):
    ws_settings.LOGIN_REQUIRED = True


@pytest.fixture
def ana(django_user_model):
    return django_user_model.objects.create_user("ana", password=PASSWORD)


@pytest.fixture
def logged_in(ana) -> tuple[Client, str]:
    """A browser's client, really logged in (password, session auth hash), and its session key."""
    client = Client()
    assert client.login(username="ana", password=PASSWORD)
    return client, client.cookies["sessionid"].value


async def _streaming(key: str):
    comm = communicator(cookie=f"sessionid={key}")
    # Generous: the first connect of a run imports the whole app (not what is measured here).
    assert (await comm.connect(timeout=30))[0]
    assert (await comm.receive_json_from(timeout=30))["type"] == "connected"
    await next_of_type(comm, "portfolio_update", INTERVAL_S * 3)
    return comm


@pytest.fixture
async def comm(login_required, registry, known_symbols, logged_in):
    """A socket of the logged-in session (login required), streaming from a running publisher."""
    _, key = logged_in
    async with running_publisher(FakeCompute()):
        yield await _streaming(key)


async def _close_after(comm, since: float, within: float) -> tuple[int | None, float, list[str]]:
    """(close code, seconds from ``since`` to the close, message types received meanwhile)."""
    loop = asyncio.get_running_loop()
    seen: list[str] = []
    while (remaining := within - (loop.time() - since)) > 0:
        # receive_nothing polls; receive_output's own timeout would cancel the application.
        if await comm.receive_nothing(timeout=remaining, interval=0.005):
            break
        output = await comm.receive_output(timeout=1)
        if output["type"] == "websocket.close":
            return output.get("code"), loop.time() - since, seen
        seen.append(json.loads(output["text"])["type"])
    return None, loop.time() - since, seen


async def _assert_closes(comm, case: str, since: float) -> None:
    code, elapsed, seen = await _close_after(comm, since, INTERVAL_S * 4)
    assert code == 4401, f"{case}: not closed within {INTERVAL_S * 4}s (got {seen})"
    assert elapsed <= INTERVAL_S, f"{case}: closed after {elapsed:.3f}s"
    assert seen[-1:] == ["error"], seen  # the "session ended" notice, then the close
    CLOSE_TIMES[case] = elapsed


@pytest.mark.parametrize("required", [True, False], ids=["production", "embedded"])
async def test_logout_over_http_closes_the_socket(
    registry, known_symbols, logged_in, ws_settings, required
):
    ws_settings.LOGIN_REQUIRED = required
    client, key = logged_in
    async with running_publisher(FakeCompute()):
        comm = await _streaming(key)
        response = await sync_to_async(client.post)("/logout/")
        since = asyncio.get_running_loop().time()
        assert response.status_code == 302
        await _assert_closes(comm, f"logout ({'production' if required else 'embedded'})", since)


async def test_deleted_session_closes_the_socket(comm, logged_in):
    _, key = logged_in
    await Session.objects.filter(session_key=key).adelete()
    await _assert_closes(comm, "session deleted", asyncio.get_running_loop().time())


async def test_expired_session_closes_the_socket(comm, logged_in):
    _, key = logged_in
    lead = 0.3
    expires = timezone.now() + dt.timedelta(seconds=lead)
    await Session.objects.filter(session_key=key).aupdate(expire_date=expires)
    expired_at = asyncio.get_running_loop().time() + lead
    # Still open until it expires...
    code, _, seen = await _close_after(comm, asyncio.get_running_loop().time(), lead * 0.8)
    assert code is None, seen
    # ...then closed within one interval of the expiry.
    await _assert_closes(comm, "session expired", expired_at)


async def test_password_change_closes_the_socket(comm, ana):
    ana.set_password("another-pw-987654321")
    await ana.asave()
    await _assert_closes(comm, "password changed", asyncio.get_running_loop().time())


async def test_deactivated_user_closes_the_socket(comm, ana):
    ana.is_active = False
    await ana.asave(update_fields=["is_active"])
    await _assert_closes(comm, "user deactivated", asyncio.get_running_loop().time())


async def test_socket_of_a_valid_session_keeps_streaming(comm, ana, logged_in):
    """Including the session that changed the password itself (``update_session_auth_hash``)."""
    _, key = logged_in

    def change_own_password() -> None:
        ana.set_password("another-pw-987654321")
        ana.save()
        session = SessionStore(session_key=key)
        session[HASH_SESSION_KEY] = ana.get_session_auth_hash()
        session.save()

    await sync_to_async(change_own_password)()
    code, _, seen = await _close_after(comm, asyncio.get_running_loop().time(), INTERVAL_S * 4)
    assert code is None, seen
    assert seen.count("portfolio_update") >= 3
    await comm.disconnect()


def test_valid_session_keys_in_batch(ana, django_user_model, django_assert_max_num_queries):
    """Many sessions, two queries; each way a login ends is told apart from a valid one."""
    bo = django_user_model.objects.create_user("bo", password=PASSWORD)
    keys = {}
    for name, user in [("ana", ana), ("ana2", ana), ("bo", bo), ("gone", ana)]:
        client = Client()
        client.force_login(user)
        keys[name] = client.cookies["sessionid"].value
    Session.objects.filter(session_key=keys["gone"]).delete()
    anonymous = SessionStore()
    anonymous["cart"] = 1
    anonymous.create()
    assert anonymous.session_key is not None
    with django_assert_max_num_queries(2):
        valid = valid_session_keys({*keys.values(), anonymous.session_key, "no-such-key"})
    assert valid == {keys["ana"], keys["ana2"], keys["bo"]}
    bo.is_active = False
    bo.save()
    Session.objects.filter(session_key=keys["ana2"]).update(
        expire_date=timezone.now() - dt.timedelta(seconds=1)
    )
    assert valid_session_keys(set(keys.values())) == {keys["ana"]}


@pytest.fixture(scope="module", autouse=True)
def _report_close_times():
    yield
    if CLOSE_TIMES:
        print(f"\nWebSocket close after the login ended (interval {INTERVAL_S:.1f}s):")
        for case, elapsed in CLOSE_TIMES.items():
            print(f"  {case:28} {elapsed * 1000:6.0f} ms")
