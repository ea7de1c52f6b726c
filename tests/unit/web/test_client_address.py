"""The client's address: X-Forwarded-For only through trusted proxies, rightmost untrusted hop."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from respons.settings import Settings
from respons.web.client_address import client_address


def request(peer: str, *forwarded: str) -> Request:
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers, "client": (peer, 1234)})


PROXIES = ["10.0.0.0/24", "fd00::/64"]


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "expected"),
    [
        # No trusted proxies (the default): the header is the client's own words.
        ("127.0.0.1", ["192.0.2.1"], [], "127.0.0.1"),
        # A peer outside the trusted list: ignored too.
        ("198.51.100.5", ["192.0.2.1"], PROXIES, "198.51.100.5"),
        # Through one trusted proxy.
        ("10.0.0.7", ["203.0.113.9"], PROXIES, "203.0.113.9"),
        # The client prepended a lie; the rightmost untrusted hop is the truth.
        ("10.0.0.7", ["1.2.3.4, 203.0.113.9"], PROXIES, "203.0.113.9"),
        # Two trusted proxies in a row, and the header split over two lines.
        ("10.0.0.7", ["1.2.3.4, 203.0.113.9", "10.0.0.3"], PROXIES, "203.0.113.9"),
        # IPv6, and an IPv4 client seen through an IPv6 socket.
        ("fd00::5", ["2001:db8::77"], PROXIES, "2001:db8::77"),
        ("::ffff:10.0.0.7", ["203.0.113.9"], PROXIES, "203.0.113.9"),
        # Only proxies in the chain (a health check from the balancer): the nearest one.
        ("10.0.0.7", ["10.0.0.3"], PROXIES, "10.0.0.3"),
        ("10.0.0.7", [], PROXIES, "10.0.0.7"),
        # Garbage left of a trusted hop is not believed; the last believable hop stands.
        ("10.0.0.7", ["not-an-address, 10.0.0.3"], PROXIES, "10.0.0.3"),
    ],
)
def test_client_address(peer, forwarded, trusted, expected):
    assert client_address(request(peer, *forwarded), Settings(trusted_proxies=trusted).trusted_proxies) == expected


def test_trusted_proxies_from_the_environment(monkeypatch):
    monkeypatch.setenv("RESPONS_TRUSTED_PROXIES", "10.0.0.5, 10.0.1.0/24")
    assert Settings().trusted_proxies == ["10.0.0.5/32", "10.0.1.0/24"]
    monkeypatch.setenv("RESPONS_TRUSTED_PROXIES", '["fd00::/64"]')
    assert Settings().trusted_proxies == ["fd00::/64"]
    monkeypatch.setenv("RESPONS_TRUSTED_PROXIES", "")
    assert Settings().trusted_proxies == []
    monkeypatch.setenv("RESPONS_TRUSTED_PROXIES", "10.0.0.5, proxy.example")
    with pytest.raises(ValueError):
        Settings()
