"""The address a request came from, for the log-in limits and the audit log.

A load balancer or reverse proxy in front of Respons makes every request come from its own
address; it passes the client's address on in ``X-Forwarded-For``. That header is written by
whoever sends the request, so it is believed only from proxies named in
``RESPONS_TRUSTED_PROXIES`` (addresses or CIDR networks; empty by default: the header is
ignored). Each trusted proxy appends the address it received the request from, so the client
is the rightmost address that is *not* a trusted proxy: anything to its left was written by
the client itself and could be anything (rotating it would dodge the per-address limit).

uvicorn's own proxy-header handling is switched off (web/server.py): it believed the header
from any local caller.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Iterable

from fastapi import Request

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

UNKNOWN = "unknown"


@lru_cache(maxsize=16)
def trusted_networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    """Parse ``RESPONS_TRUSTED_PROXIES``; a bad entry is a configuration error (ValueError)."""
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry.strip())


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    # An IPv4 client seen through an IPv6 socket (::ffff:10.0.0.5) is the IPv4 address.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address, networks: Iterable[Network]) -> bool:
    return address is not None and any(address.version == n.version and address in n for n in networks)


def client_address(request: Request, trusted_proxies: Iterable[str] = ()) -> str:
    """The client's address: the peer, or, when the peer is a trusted proxy, the rightmost
    untrusted hop of ``X-Forwarded-For``."""
    peer_text = request.client.host if request.client else UNKNOWN
    networks = trusted_networks(tuple(trusted_proxies))
    peer = _address(peer_text)
    if not networks or not _trusted(peer, networks):
        return str(peer) if peer is not None else peer_text[:64]
    hops = [hop.strip() for value in request.headers.getlist("x-forwarded-for") for hop in value.split(",")]
    nearest = peer
    for hop in reversed([h for h in hops if h]):
        address = _address(hop)
        if address is None:
            # Not an address: no trusted proxy wrote it, so stop at the last hop we believe.
            break
        if not _trusted(address, networks):
            return str(address)
        nearest = address
    # Every hop was a trusted proxy (or the header is missing): the nearest one is the client.
    return str(nearest)
