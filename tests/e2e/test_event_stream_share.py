"""GET /v1/events: each token holds at most its share of streams, and a closed one frees its slot.

The gateway runs here as `clientkeys gateway` runs it (an `AppRunner` that does
not cancel a handler when its reader leaves), so the slot is seen free at once
because the gateway checks the connection, not because the handler was cancelled.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from api.app import create_app
from api.auth.principals import CLIENTS_READ
from common.settings import Settings
from tests.e2e.test_http_errors import assert_problem
from tests.harness import add_token, bearer

WAIT_S = 10


@pytest.fixture
async def gateway(settings: Settings, topology_cleanup: None) -> AsyncIterator[str]:
    """The URL of the events route of a gateway run as production runs it."""
    runner = web.AppRunner(create_app(settings), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}/v1/events"
    finally:
        await runner.cleanup()


async def _open(session: aiohttp.ClientSession, url: str, headers: dict[str, str]
                ) -> aiohttp.ClientResponse:
    response = await session.get(url, headers=headers)
    assert response.status == 200, await response.text()
    first = await asyncio.wait_for(response.content.readline(), WAIT_S)
    assert first.startswith(b"retry:") or first.startswith(b"event: ready"), first
    return response


async def test_a_sixth_stream_is_429_and_a_closed_one_frees_its_slot_at_once(
        gateway: str, settings: Settings) -> None:
    assert settings.event_streams_per_token == 5
    dashboard = bearer(add_token(settings, "dashboard", CLIENTS_READ))
    other = bearer(add_token(settings, "another-dashboard", CLIENTS_READ))
    async with aiohttp.ClientSession() as session:
        streams = [await _open(session, gateway, dashboard) for _ in range(5)]

        refused = await session.get(gateway, headers=dashboard)
        problem = await assert_problem(refused, 429)
        assert int(refused.headers["Retry-After"]) > 0
        assert "5 event streams" in problem["detail"]

        # Another caller is not held back by this one's streams.
        streams.append(await _open(session, gateway, other))

        streams[0].close()  # the reader goes away; no wait before the next request
        streams.append(await _open(session, gateway, dashboard))

        refused_again = await session.get(gateway, headers=dashboard)
        await assert_problem(refused_again, 429)
        for stream in streams:
            stream.close()
