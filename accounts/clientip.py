"""The caller's address, taking ``X-Forwarded-For`` only from configured trusted proxies.

Behind Caddy every connection comes from the proxy, so the client is the address the proxy
appended to ``X-Forwarded-For``. A client can write that header too, so it is read from the
right (the hop our proxy added) and only while the hop that handed it over is a trusted proxy
(``TRUSTED_PROXIES``, CIDR networks): a client talking to the app directly, or any address a
client put further left, never decides who it is.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

FORWARDING_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP")


@lru_cache(maxsize=8)
def _networks(cidrs: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


def parse_address(value: str) -> IPAddress | None:
    """``1.2.3.4``, ``1.2.3.4:5678``, ``::1`` or ``[::1]:80`` → the address; else ``None``."""
    value = value.strip()
    if value.startswith("["):
        value = value[1 : value.find("]")] if "]" in value else ""
    elif value.count(":") == 1:
        value = value.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    # An IPv4 client seen through an IPv6 socket (::ffff:1.2.3.4) is that IPv4 client.
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


def _trusted(address: IPAddress, networks: tuple[IPNetwork, ...]) -> bool:
    return any(address in network for network in networks)


def client_ip(request: HttpRequest) -> str:
    """The address to throttle and log: the peer, or what trusted proxies say the peer was."""
    remote = request.META.get("REMOTE_ADDR", "")
    peer = parse_address(remote)
    networks = _networks(tuple(getattr(settings, "TRUSTED_PROXIES", ())))
    if peer is None or not networks or not _trusted(peer, networks):
        return str(peer) if peer is not None else remote
    hops = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
    for hop in reversed(hops):
        address = parse_address(hop)
        if address is None:
            break  # a trusted proxy would not write this: stay with the last known hop
        if not _trusted(address, networks):
            return str(address)
        peer = address
    return str(peer)


def is_direct_loopback(request: HttpRequest) -> bool:
    """A caller on this machine talking to the app itself, not through any proxy.

    A proxy on the same host also connects from loopback but always adds a forwarding header,
    so a request carrying one is treated as coming from outside.
    """
    peer = parse_address(request.META.get("REMOTE_ADDR", ""))
    if peer is None or not peer.is_loopback:
        return False
    return not any(request.META.get(header) for header in FORWARDING_HEADERS)
