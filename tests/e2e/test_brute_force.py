"""Repeated failed sign-ins from one address are answered 429 with Retry-After."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from common.settings import Settings
from tests.e2e.conftest import AiohttpClient, Service, start_service

LIMIT = 3


@pytest.fixture
async def guarded(settings: Settings, aiohttp_client: AiohttpClient,
                  topology_cleanup: None) -> AsyncIterator[Service]:
    async for running in start_service(
            settings.with_overrides(auth_failures_per_minute=LIMIT), aiohttp_client, 1):
        yield running


async def test_an_address_that_keeps_failing_is_slowed_down(guarded: Service) -> None:
    wrong = {"Authorization": "Bearer not-a-token"}
    for _ in range(LIMIT):
        response = await guarded.request("GET", "/v1/clients", headers=wrong)
        assert response.status == 401
    held = await guarded.request("GET", "/v1/clients", headers=wrong)
    assert held.status == 429
    assert int(held.headers["Retry-After"]) in range(1, 61)
    assert held.content_type == "application/problem+json"
    # Held back whatever it sends, so the answer tells a guesser nothing.
    assert (await guarded.request("GET", "/v1/clients", headers=guarded.reader)).status == 429
    assert (await guarded.request("GET", "/healthz")).status == 200


async def test_successes_do_not_count(guarded: Service) -> None:
    for _ in range(LIMIT * 3):
        assert (await guarded.request("GET", "/v1/clients", headers=guarded.reader)).status \
            == 200
