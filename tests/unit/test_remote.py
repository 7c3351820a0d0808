"""The caller's address: the peer, or what trusted proxies say it forwards for (api.remote)."""

from __future__ import annotations

import ipaddress
from unittest import mock

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict

from api import keys
from api.remote import caller_address, client_address, limiter_source, parse_address
from common.settings import Settings

PROXIES = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("2001:db8:1::/48"))


@pytest.mark.parametrize(("peer", "chain", "expected"), [
    # A peer that is not trusted is the caller, whatever it claims.
    ("203.0.113.9", ["198.51.100.1"], "203.0.113.9"),
    # A trusted proxy: the right-most address it was not itself.
    ("10.0.0.2", ["198.51.100.1"], "198.51.100.1"),
    ("10.0.0.2", ["6.6.6.6", "198.51.100.1"], "198.51.100.1"),          # 6.6.6.6: forged
    ("10.0.0.2", ["6.6.6.6", "198.51.100.1", "10.0.0.3"], "198.51.100.1"),
    ("10.0.0.2", ["10.9.9.9", "10.0.0.3"], "10.9.9.9"),                 # proxies all the way
    ("10.0.0.2", [], "10.0.0.2"),                                       # nothing forwarded
    ("10.0.0.2", ["unknown"], "10.0.0.2"),                              # not an address
    ("10.0.0.2", ["6.6.6.6", "_hidden", "10.0.0.3"], "10.0.0.3"),
    ("10.0.0.2", [" 198.51.100.1:4711 "], "198.51.100.1"),
    ("10.0.0.2", ['"[2001:db8:2::7]:443"'], "2001:db8:2::7"),
    ("2001:db8:1::5", ["2001:db8:2::7"], "2001:db8:2::7"),
    ("::ffff:10.0.0.2", ["198.51.100.1"], "198.51.100.1"),              # v4 on a v6 socket
    (None, ["198.51.100.1"], "unknown"),
])
def test_the_client_is_the_right_most_address_that_is_not_a_trusted_proxy(
        peer: str | None, chain: list[str], expected: str) -> None:
    assert client_address(peer, chain, PROXIES) == expected


def test_without_trusted_proxies_the_peer_is_the_caller() -> None:
    assert client_address("10.0.0.2", ["198.51.100.1"], ()) == "10.0.0.2"


def request_from(peer: str, headers: dict[str, str] | list[tuple[str, str]],
                 proxies: str = "") -> web.Request:
    app = web.Application()
    app[keys.SETTINGS] = Settings().with_overrides(trusted_proxies=tuple(
        ipaddress.ip_network(p) for p in proxies.split(",") if p))
    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda name, default=None: (
        (peer, 4711) if name == "peername" else default)
    return make_mocked_request("GET", "/v1/me", headers=CIMultiDict(headers), app=app,
                               transport=transport)


def test_x_forwarded_for_is_read_only_from_a_trusted_peer() -> None:
    headers = {"X-Forwarded-For": "6.6.6.6, 198.51.100.1"}
    assert caller_address(request_from("10.0.0.2", headers, "10.0.0.0/8")) == "198.51.100.1"
    assert caller_address(request_from("203.0.113.9", headers, "10.0.0.0/8")) == "203.0.113.9"
    assert caller_address(request_from("10.0.0.2", headers)) == "10.0.0.2"


def test_every_x_forwarded_for_header_is_one_chain() -> None:
    headers = [("X-Forwarded-For", "198.51.100.1"), ("X-Forwarded-For", "10.0.0.3")]
    assert caller_address(request_from("10.0.0.2", headers, "10.0.0.0/8")) == "198.51.100.1"


def test_forwarded_is_read_as_rfc_7239_says_and_wins_over_x_forwarded_for() -> None:
    headers = {"Forwarded": 'for=6.6.6.6, for="[2001:db8:2::7]:443";proto=https, for=10.0.0.3',
               "X-Forwarded-For": "192.0.2.1"}
    assert caller_address(request_from("10.0.0.2", headers, "10.0.0.0/8")) == "2001:db8:2::7"


def test_the_address_is_worked_out_once_per_request() -> None:
    request = request_from("10.0.0.2", {"X-Forwarded-For": "198.51.100.1"}, "10.0.0.0/8")
    assert caller_address(request) == "198.51.100.1"
    assert request[keys.CALLER_ADDRESS] == "198.51.100.1"


@pytest.mark.parametrize(("text", "expected"), [
    ("192.0.2.1", "192.0.2.1"), ("192.0.2.1:80", "192.0.2.1"), ("[::1]:80", "::1"),
    ("::1", "::1"), ('"192.0.2.1"', "192.0.2.1"), ("unknown", None), ("", None),
    ("999.1.1.1", None), ("[::1", None),
])
def test_addresses_as_proxies_write_them(text: str, expected: str | None) -> None:
    parsed = parse_address(text)
    assert (str(parsed) if parsed is not None else None) == expected


def test_an_ipv6_host_is_one_source_for_the_limiters_as_its_64() -> None:
    assert limiter_source("2001:db8:2:3:aaaa::1") == limiter_source("2001:db8:2:3:bbbb::2") \
        == "2001:db8:2:3::/64"
    assert limiter_source("2001:db8:2:4::1") != limiter_source("2001:db8:2:3::1")
    assert limiter_source("192.0.2.1") == "192.0.2.1"
    assert limiter_source("unknown") == "unknown"
