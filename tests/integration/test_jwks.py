"""The JWKS cache against a real HTTP server: TTL, refresh on an unknown kid, rate limit,
coalesced fetches, and an identity provider that is down."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from api.auth.jwks import JwksCache, JwksFetchError, signing_keys
from tests.identity_provider import IdentityProvider, SigningKey, identity_provider


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def provider() -> AsyncIterator[IdentityProvider]:
    async with identity_provider(SigningKey.rs256(), SigningKey.es256()) as running:
        yield running


@pytest.fixture
async def cache_and_clock(provider: IdentityProvider) -> AsyncIterator[tuple[JwksCache, Clock]]:
    clock = Clock()
    cache = JwksCache(provider.url, ttl_s=300, min_refresh_s=30, clock=clock)
    await cache.start()
    try:
        yield cache, clock
    finally:
        await cache.close()


async def test_keys_are_fetched_at_start_and_found_by_kid_and_algorithm(
        provider: IdentityProvider, cache_and_clock: tuple[JwksCache, Clock]) -> None:
    cache, _ = cache_and_clock
    rsa_key, ec_key = provider.keys
    assert provider.fetches == 1
    found = await cache.key(rsa_key.kid, "RS256")
    assert found is not None and found.key_id == rsa_key.kid
    assert await cache.key(ec_key.kid, "ES256") is not None
    # A key is used only with its own algorithm.
    assert await cache.key(rsa_key.kid, "ES256") is None
    assert provider.fetches == 1


async def test_an_unknown_kid_refreshes_once_then_the_rate_limit_holds(
        provider: IdentityProvider, cache_and_clock: tuple[JwksCache, Clock]) -> None:
    cache, clock = cache_and_clock
    new_key = provider.rotate()
    clock.now += 31
    assert await cache.key(new_key.kid, "RS256") is not None
    assert provider.fetches == 2
    for attempt in range(20):
        assert await cache.key(f"random-{attempt}", "RS256") is None
    assert provider.fetches == 2
    clock.now += 31
    assert await cache.key("random-again", "RS256") is None
    assert provider.fetches == 3


async def test_a_rotation_within_the_rate_limit_waits_for_it(
        provider: IdentityProvider, cache_and_clock: tuple[JwksCache, Clock]) -> None:
    cache, clock = cache_and_clock
    new_key = provider.rotate()
    clock.now += 10
    assert await cache.key(new_key.kid, "RS256") is None
    clock.now += 21
    assert await cache.key(new_key.kid, "RS256") is not None


async def test_keys_older_than_the_ttl_are_fetched_again(
        provider: IdentityProvider, cache_and_clock: tuple[JwksCache, Clock]) -> None:
    cache, clock = cache_and_clock
    old_kid = provider.keys[0].kid
    provider.rotate()
    clock.now += 299
    assert await cache.key(old_kid, "RS256") is not None
    assert provider.fetches == 1
    clock.now += 2
    assert await cache.key(old_kid, "RS256") is None  # the provider withdrew it
    assert provider.fetches == 2


async def test_a_failed_fetch_keeps_the_keys_held(
        provider: IdentityProvider, cache_and_clock: tuple[JwksCache, Clock],
        caplog: pytest.LogCaptureFixture) -> None:
    cache, clock = cache_and_clock
    kid = provider.keys[0].kid
    provider.up = False
    clock.now += 301
    assert await cache.key(kid, "RS256") is not None
    assert provider.fetches == 2
    assert "HTTP 503" in caplog.text and "keeping the 2 keys held" in caplog.text


async def test_concurrent_refreshes_share_one_fetch() -> None:
    entered, release = asyncio.Event(), asyncio.Event()
    key = SigningKey.rs256()
    requests = 0

    async def slow_jwks(request: web.Request) -> web.Response:
        nonlocal requests
        requests += 1
        if requests > 1:
            entered.set()
            await release.wait()
        return web.json_response({"keys": [key.jwk()]})

    app = web.Application()
    app.router.add_get("/jwks", slow_jwks)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    cache = JwksCache(str(server.make_url("/jwks")), min_refresh_s=0)
    try:
        await cache.start()
        lookups = [asyncio.create_task(cache.key(f"unknown-{n}", "RS256")) for n in range(10)]
        await entered.wait()
        release.set()
        assert await asyncio.gather(*lookups) == [None] * 10
        assert requests == 2  # the start, then one refresh for all ten
    finally:
        await cache.close()
        await server.close()


async def test_an_unreachable_provider_does_not_stop_the_start(
        caplog: pytest.LogCaptureFixture) -> None:
    async with identity_provider() as provider:
        url, kid = provider.url, provider.keys[0].kid
    # The server is gone: nothing listens on that port any more.
    clock = Clock()
    cache = JwksCache(url, min_refresh_s=30, clock=clock)
    with caplog.at_level(logging.WARNING, logger="api.auth.jwks"):
        await cache.start()
    try:
        assert "JWKS not loaded" in caplog.text and "no keys held" in caplog.text
        assert await cache.key(kid, "RS256") is None
    finally:
        await cache.close()


async def test_keys_are_fetched_on_demand_once_the_provider_is_back(
        provider: IdentityProvider) -> None:
    provider.up = False
    clock = Clock()
    cache = JwksCache(provider.url, min_refresh_s=30, clock=clock)
    await cache.start()
    try:
        kid = provider.keys[0].kid
        provider.up = True
        assert await cache.key(kid, "RS256") is None  # within the rate limit
        clock.now += 30
        assert await cache.key(kid, "RS256") is not None
    finally:
        await cache.close()


@pytest.mark.parametrize(("document", "usable"), [
    ({"keys": [{"kty": "oct", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA",
                "kid": "sym"}]}, set()),
    ({"keys": [{**SigningKey.rs256().jwk(), "use": "enc", "kid": "enc"}]}, set()),
    ({"keys": [{**SigningKey.rs256().jwk(), "kid": "sig"}]}, {"sig"}),
    ({"keys": [{**SigningKey.rs256().jwk(), "alg": "PS256", "kid": "ps"}]}, set()),
    ({"keys": [{k: v for k, v in SigningKey.es256().jwk().items() if k != "kid"}]}, set()),
    ({"keys": "nope"}, set()),
    (["not", "an", "object"], set()),
])
def test_only_asymmetric_signing_keys_with_a_kid_are_used(document: Any,
                                                          usable: set[str]) -> None:
    if not usable:
        with pytest.raises(JwksFetchError):
            signing_keys(document)
    else:
        assert set(signing_keys(document)) == usable
