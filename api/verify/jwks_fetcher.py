"""Fetching a private_key_jwt client's `jwks_uri`, by each gateway for itself.

With one long-lived aiohttp session per gateway (its cleanup context closes it): a
fetch takes at most 3 s and 64 KiB, follows no redirect, and trusts the system's CAs
and OUTBOUND_CA_FILE's. A set is kept for its `Cache-Control` max-age clamped to
[5 min, 24 h] (1 h without one); a `kid` the set lacks fetches it again at once, at
most once a minute per client, so a rotated key is picked up without waiting. A
failed fetch keeps the last good set until its max-age plus an hour, then the
client's assertions get `jwks_unavailable`. What a fetch returns is read by
`common.jwk_rules`, as a registered `jwks` is: a private key in it fails the fetch.
A set no longer usable (a removed client's, or one nobody asked for since it went
stale) is dropped at most once a minute (`PRUNE_EVERY_S`), so what a gateway holds is
bounded by the clients that authenticated within the last day or so.

The URL is the client's, so the address it resolves to is checked (SSRF): loopback,
private, link-local, unique-local and other non-global addresses are refused unless
JWKS_URI_ALLOW_PRIVATE. The check is in the resolver the connector connects with
(`_PublicOnlyResolver`), so the address checked is the address connected to; a URL
whose host is an address literal, which aiohttp connects to without resolving, is
checked before the request.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import re
import socket
import ssl
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from api.gateway_metrics import GatewayMetrics
from common.jwk_rules import JwkSetError, compact_jwks

TIMEOUT_S: Final = 3.0
BODY_MAX: Final = 64 * 1024
MAX_AGE_MIN_S: Final = 5 * 60
MAX_AGE_MAX_S: Final = 24 * 3600
MAX_AGE_DEFAULT_S: Final = 3600
STALE_GRACE_S: Final = 3600
UNKNOWN_KID_REFETCH_S: Final = 60
PRUNE_EVERY_S: Final = 60
_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d+)\"?", re.IGNORECASE)
_log = logging.getLogger(__name__)


class FetchFailed(Exception):
    """Why a fetch gave no key set: its outcome, as the metric counts it."""

    def __init__(self, outcome: str) -> None:
        super().__init__(outcome)
        self.outcome = outcome


_NAT64: Final = ipaddress.ip_network("64:ff9b::/96")


def address_allowed(address: str) -> bool:
    """Whether a fetch may connect to `address`: a global unicast address only, and an
    IPv6 address that carries an IPv4 one (mapped, NAT64, 6to4, Teredo) by that one too."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if not ip.is_global or ip.is_multicast:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        carried = [ip.ipv4_mapped, ip.sixtofour, ip.teredo[1] if ip.teredo else None,
                   ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF) if ip in _NAT64 else None]
        return all(address_allowed(str(v4)) for v4 in carried if v4 is not None)
    return True


class AddressRefused(OSError):
    """A jwks_uri's host resolves to an address a fetch may not connect to."""


class _PublicOnlyResolver(AbstractResolver):
    """Resolves as usual, then refuses the host if any address it has is not public."""

    def __init__(self) -> None:
        self._inner = DefaultResolver()

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if not results or not all(address_allowed(r["host"]) for r in results):
            raise AddressRefused(f"{host[:100]} resolves to an address that is not public")
        return results

    async def close(self) -> None:
        await self._inner.close()


def max_age_of(cache_control: str | None) -> float:
    """How long a fetched set is kept: its max-age within the bounds, or the default."""
    match = _MAX_AGE.search(cache_control or "")
    if match is None:
        return MAX_AGE_DEFAULT_S
    return float(min(max(int(match.group(1)), MAX_AGE_MIN_S), MAX_AGE_MAX_S))


@dataclass
class _Held:
    uri: str
    jwks: dict[str, Any] | None = None
    fresh_until: float = 0.0   # monotonic: kept without a fetch until then
    usable_until: float = 0.0  # and, after a failed fetch, until then
    last_kid_refetch: float = float("-inf")  # the last fetch an unknown kid made


class JwksFetcher:
    def __init__(self, *, allow_private: bool = False, ca_file: Path | None = None,
                 metrics: GatewayMetrics | None = None) -> None:
        self._allow_private = allow_private
        self._ca_file = ca_file
        self._metrics = metrics
        self._session: aiohttp.ClientSession | None = None
        self._held: dict[str, _Held] = {}
        self._inflight: dict[str, asyncio.Task[None]] = {}
        self._pruned_at = float("-inf")

    async def start(self) -> None:
        context = ssl.create_default_context()
        if self._ca_file is not None:
            context.load_verify_locations(cafile=str(self._ca_file))
        connector = aiohttp.TCPConnector(
            ssl=context, resolver=None if self._allow_private else _PublicOnlyResolver(),
            limit=100)
        self._session = aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=TIMEOUT_S),
            headers={"Accept": "application/jwk-set+json, application/json"})

    async def close(self) -> None:
        for task in list(self._inflight.values()):
            task.cancel()
        if self._session is not None:
            await self._session.close()

    async def key_set(self, client_key: str, uri: str, *, unknown_kid: bool = False
                      ) -> dict[str, Any] | None:
        clock = time.monotonic()
        if clock - self._pruned_at >= PRUNE_EVERY_S:
            self._prune(clock)
        held = self._held.get(client_key)
        if held is None or held.uri != uri:  # a new or edited jwks_uri
            held = self._held[client_key] = _Held(uri)
        by_kid = (unknown_kid and clock < held.fresh_until
                  and clock - held.last_kid_refetch >= UNKNOWN_KID_REFETCH_S)
        if by_kid:
            held.last_kid_refetch = clock
        if clock >= held.fresh_until or by_kid:
            task = self._inflight.get(client_key)
            if task is None:  # one fetch at a time per client, whoever asks
                task = asyncio.create_task(self._refresh(held))
                self._inflight[client_key] = task
                task.add_done_callback(lambda _t: self._inflight.pop(client_key, None))
            await asyncio.shield(task)
        if held.jwks is not None and time.monotonic() < held.usable_until:
            return held.jwks
        return None

    @property
    def held(self) -> int:
        """How many clients' sets (or failed fetches) this gateway holds."""
        return len(self._held)

    def _prune(self, clock: float) -> None:
        """Drop what no request can use any more: it would be fetched again anyway."""
        self._pruned_at = clock
        for key in [k for k, held in self._held.items()
                    if clock >= held.usable_until and clock >= held.fresh_until
                    and k not in self._inflight]:
            del self._held[key]

    async def _refresh(self, held: _Held) -> None:
        try:
            jwks, max_age = await self._fetch(held.uri)
        except FetchFailed as exc:
            self._count(exc.outcome)
            _log.warning("jwks_uri fetch failed", extra={
                "outcome": exc.outcome, "host": (urlsplit(held.uri).hostname or "")[:100]})
            return
        self._count("ok")
        now = time.monotonic()
        held.jwks, held.fresh_until = jwks, now + max_age
        held.usable_until = now + max_age + STALE_GRACE_S

    def _count(self, outcome: str) -> None:
        if self._metrics is not None:
            self._metrics.jwks_fetches.labels(outcome).inc()

    async def _fetch(self, uri: str) -> tuple[dict[str, Any], float]:
        assert self._session is not None, "start() first"
        host = urlsplit(uri).hostname or ""
        try:
            literal = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            literal = None
        if literal is not None and not self._allow_private and not address_allowed(host):
            raise FetchFailed("refused_address")
        try:
            async with self._session.get(uri, allow_redirects=False) as response:
                if response.status != 200:
                    raise FetchFailed("http_error")
                body = bytearray()
                async for chunk in response.content.iter_chunked(16 * 1024):
                    body += chunk
                    if len(body) > BODY_MAX:  # stop reading: never more than the cap
                        raise FetchFailed("too_large")
                max_age = max_age_of(response.headers.get("Cache-Control"))
        except aiohttp.ClientConnectorError as exc:
            refused = isinstance(getattr(exc, "os_error", None), AddressRefused) \
                or isinstance(exc.__cause__, AddressRefused)
            raise FetchFailed("refused_address" if refused else "unreachable") from None
        except (aiohttp.ClientError, TimeoutError, OSError):
            raise FetchFailed("unreachable") from None
        try:
            return compact_jwks(json.loads(bytes(body))), max_age
        except (ValueError, JwkSetError):
            raise FetchFailed("invalid") from None
