"""Which address a request comes from: X-Forwarded-For only through trusted proxies."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import RequestFactory, override_settings

from accounts.clientip import client_ip, is_direct_loopback, parse_address

rf = RequestFactory()


def ip(remote: str, xff: str | None = None) -> str:
    meta: dict[str, Any] = {"REMOTE_ADDR": remote}
    if xff is not None:
        meta["HTTP_X_FORWARDED_FOR"] = xff
    return client_ip(rf.get("/", **meta))


@override_settings(TRUSTED_PROXIES=())
def test_without_trusted_proxies_the_peer_is_the_client() -> None:
    assert ip("198.51.100.7", "10.1.1.1") == "198.51.100.7"
    assert ip("127.0.0.1", "203.0.113.5") == "127.0.0.1"


@override_settings(TRUSTED_PROXIES=("127.0.0.1/32", "172.16.0.0/12"))
@pytest.mark.parametrize(
    ("remote", "xff", "expected"),
    [
        # Caddy (trusted) forwarding for a client.
        ("127.0.0.1", "203.0.113.5", "203.0.113.5"),
        # A client that talks to the app directly cannot choose its address.
        ("198.51.100.7", "203.0.113.5", "198.51.100.7"),
        # Whatever a client wrote before the trusted hop is ignored: right to left.
        ("127.0.0.1", "1.1.1.1, 203.0.113.5", "203.0.113.5"),
        # Two trusted proxies in a row (a host proxy, then a container network one).
        ("172.18.0.5", "203.0.113.5, 127.0.0.1", "203.0.113.5"),
        # Every hop trusted: the left-most is as far as we can see.
        ("127.0.0.1", "172.18.0.5", "172.18.0.5"),
        # Trusted peer without the header, or with garbage from the proxy: the peer itself.
        ("127.0.0.1", None, "127.0.0.1"),
        ("127.0.0.1", "unknown", "127.0.0.1"),
        ("127.0.0.1", "1.1.1.1, garbage", "127.0.0.1"),
        # Ports and IPv6 forms proxies write.
        ("127.0.0.1", "203.0.113.5:4711", "203.0.113.5"),
        ("127.0.0.1", "[2001:db8::1]:443", "2001:db8::1"),
        ("::ffff:127.0.0.1", "2001:db8::2", "2001:db8::2"),
    ],
)
def test_trusted_proxies(remote, xff, expected) -> None:
    assert ip(remote, xff) == expected


def test_parse_address() -> None:
    assert str(parse_address(" 10.0.0.1 ")) == "10.0.0.1"
    assert str(parse_address("::1")) == "::1"
    assert parse_address("10.0.0.1.5") is None
    assert parse_address("[::1") is None


def test_direct_loopback() -> None:
    assert is_direct_loopback(rf.get("/", REMOTE_ADDR="127.0.0.1"))
    assert is_direct_loopback(rf.get("/", REMOTE_ADDR="::1"))
    assert not is_direct_loopback(rf.get("/", REMOTE_ADDR="10.0.0.1"))
    forwarded = rf.get("/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="127.0.0.1")
    assert not is_direct_loopback(forwarded)
