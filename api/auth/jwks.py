"""The identity provider's signing keys, fetched from its JWKS URL and cached.

PyJWT's own `PyJWKClient` fetches with urllib, which would block the event
loop; here aiohttp fetches and PyJWT only parses (`PyJWKSet.from_dict`).
Keys are kept for a TTL. A token naming an unknown `kid` (the provider rotated
its key) triggers one refresh, but fetches are rate-limited so that random
`kid`s cannot make the gateway hammer the provider, and concurrent refreshes
share one fetch. A failed fetch keeps the keys already held: an outage of the
provider must not turn into an outage of the gateway.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable

import aiohttp
import jwt

from common.media_types import JSON_TYPE
from common.settings import redact_url

log = logging.getLogger(__name__)

# The asymmetric algorithms taken from a JWKS. A symmetric ("oct") key has no
# place in a published key set, so one is never used.
JWKS_ALGORITHMS = frozenset({"RS256", "ES256"})
_MAX_BYTES = 1024 * 1024


class JwksFetchError(Exception):
    """The key set could not be fetched or holds no usable signing key."""


def signing_keys(document: object) -> dict[str, jwt.PyJWK]:
    """The usable signing keys of a JWKS document, by `kid`."""
    if not isinstance(document, dict):
        raise JwksFetchError("the key set is not a JSON object")
    try:
        key_set = jwt.PyJWKSet.from_dict(document)
    except jwt.PyJWTError as exc:
        raise JwksFetchError(f"the key set is not usable: {type(exc).__name__}") from None
    keys = {key.key_id: key for key in key_set
            if key.key_id and key.algorithm_name in JWKS_ALGORITHMS
            and key.public_key_use in (None, "sig")}
    if not keys:
        raise JwksFetchError("the key set holds no RS256 or ES256 signing key with a kid")
    return keys


class JwksCache:
    def __init__(self, url: str, *, ttl_s: float = 300.0, min_refresh_s: float = 30.0,
                 timeout_s: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._url = url
        self._ttl_s = ttl_s
        self._min_refresh_s = min_refresh_s
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._clock = clock
        self._session: aiohttp.ClientSession | None = None
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._fetching: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Open the HTTP session and try a first fetch; an unreachable provider is no error."""
        self._session = aiohttp.ClientSession(timeout=self._timeout)
        await self._refresh()

    async def close(self) -> None:
        if self._fetching is not None:
            self._fetching.cancel()
            await asyncio.gather(self._fetching, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def key(self, kid: str, algorithm: str) -> jwt.PyJWK | None:
        """The key named `kid` for `algorithm`, refreshing once if it is not known."""
        if self._fetched_at is None or self._clock() - self._fetched_at >= self._ttl_s:
            await self._refresh()
        found = self._keys.get(kid)
        if found is None:
            await self._refresh()
            found = self._keys.get(kid)
        if found is None or found.algorithm_name != algorithm:
            return None
        return found

    async def _refresh(self) -> None:
        if self._fetching is None:
            now = self._clock()
            if self._attempted_at is not None and now - self._attempted_at < self._min_refresh_s:
                return
            self._attempted_at = now
            self._fetching = asyncio.create_task(self._fetch())
        # Shielded: a caller that gives up must not cancel the fetch others wait for.
        await asyncio.shield(self._fetching)

    async def _fetch(self) -> None:
        try:
            self._keys = signing_keys(await self._download())
            self._fetched_at = self._clock()
            log.info("JWKS loaded from %s: %d signing keys", redact_url(self._url),
                     len(self._keys))
        except (JwksFetchError, aiohttp.ClientError, TimeoutError) as exc:
            held = f"keeping the {len(self._keys)} keys held" if self._keys else "no keys held"
            log.warning("JWKS not loaded from %s (%s): %s; %s", redact_url(self._url),
                        type(exc).__name__, str(exc)[:200], held)
        finally:
            self._fetching = None

    async def _download(self) -> object:
        if self._session is None:
            raise JwksFetchError("the JWKS cache is not started")
        async with self._session.get(self._url, headers={"Accept": JSON_TYPE}) as resp:
            if resp.status != 200:
                raise JwksFetchError(f"HTTP {resp.status}")
            body = bytearray()
            async for chunk in resp.content.iter_chunked(64 * 1024):
                body += chunk
                if len(body) > _MAX_BYTES:
                    raise JwksFetchError("the key set is larger than 1 MiB")
        try:
            return json.loads(body)
        except ValueError:
            raise JwksFetchError("the key set is not JSON") from None
