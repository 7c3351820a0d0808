"""Who is on the other end: the caller's address, behind trusted reverse proxies or not.

`request.remote` is the direct peer. Behind a load balancer that is the balancer,
so every caller would share one address: one attacker's failed sign-ins would
hold back everyone, and the audit trail would name the balancer. A peer listed
in `CLIENTKEYS_TRUSTED_PROXIES` is believed about who it forwards for: the
caller is the right-most address of its `Forwarded` (RFC 7239, parsed by
aiohttp) or, without one, `X-Forwarded-For` chain that is not itself a trusted
proxy. Entries to the left of that one were written by the caller and prove
nothing. A peer that is not trusted is the caller, whatever headers it sends.

Every use of the caller's address (the limiters, request log lines, audit
entries, commands) asks `caller_address`, so they all agree.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from aiohttp import hdrs, web

from api import keys
from common.settings import Network

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
UNKNOWN = "unknown"
# An IPv6 host usually holds a whole /64: the limiters count it as one source.
IPV6_SOURCE_PREFIX = 64


def parse_address(text: str) -> IPAddress | None:
    """An address as proxies write it: bare, `[v6]:port`, `v4:port`; None if not one."""
    text = text.strip().strip('"')
    if text.startswith("["):
        text, closed, port = text[1:].partition("]")
        if not closed or (port and not port.startswith(":")):
            return None
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: IPAddress, proxies: Iterable[Network]) -> bool:
    return any(address.version == network.version and address in network
               for network in proxies)


def _forwarded_chain(request: web.Request) -> list[str]:
    """The addresses the proxies recorded, the nearest last."""
    if hdrs.FORWARDED in request.headers:
        return [element.get("for", "") for element in request.forwarded]
    chain: list[str] = []
    for header in request.headers.getall(hdrs.X_FORWARDED_FOR, []):
        chain.extend(header.split(","))
    return chain


def client_address(peer: str | None, chain: list[str], proxies: tuple[Network, ...]) -> str:
    """The caller: `peer`, or, when `peer` is a trusted proxy, the right-most
    untrusted address of `chain`. An entry that is not an address (`unknown`, an
    obfuscated name) ends the walk at the last proxy that was trusted."""
    current = parse_address(peer) if peer else None
    if current is None:
        return peer or UNKNOWN
    for entry in reversed(chain):
        if not _trusted(current, proxies):
            break
        forwarded = parse_address(entry)
        if forwarded is None:
            break
        current = forwarded
    return str(current)


def caller_address(request: web.Request) -> str:
    """The caller's address for this request (worked out once, then kept on it)."""
    known = request.get(keys.CALLER_ADDRESS)
    if known is None:
        proxies = request.app[keys.SETTINGS].trusted_proxies
        peer = request.remote
        chain = _forwarded_chain(request) if proxies else []
        known = client_address(peer, chain, proxies)
        request[keys.CALLER_ADDRESS] = known
    return known


def limiter_source(address: str) -> str:
    """The source a limiter counts for an address: an IPv6 address counts as its /64."""
    parsed = parse_address(address)
    if isinstance(parsed, ipaddress.IPv6Address):
        network = ipaddress.IPv6Network((parsed, IPV6_SOURCE_PREFIX), strict=False)
        return str(network)
    return str(parsed) if parsed is not None else address
