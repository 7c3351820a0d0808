"""The running service for end-to-end tests: a gateway and competing workers.

The number of workers is `CLIENTKEYS_TEST_WORKERS` (default 2), so every
end-to-end test runs with workers competing on one queue.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient

from api import keys
from api.app import create_app
from api.auth.principals import CLIENTS_READ, CONFIGURE_SERVER, PERMISSIONS
from common.settings import Settings
from tests.harness import add_token, bearer, running_workers
from worker.service import Worker

WORKERS = int(os.environ.get("CLIENTKEYS_TEST_WORKERS", "2"))

AiohttpClient = Callable[..., Awaitable[TestClient[Any, Any]]]


@dataclass
class Service:
    http: TestClient[Any, Any]
    settings: Settings
    admin: dict[str, str]
    reader: dict[str, str]
    workers: list[Worker]
    everything: dict[str, str]  # every permission: for tests that walk every route

    async def request(self, method: str, path: str, *, headers: dict[str, str] | None = None,
                      **kwargs: Any) -> ClientResponse:
        return await self.http.request(method, path, headers=headers or self.admin, **kwargs)

    async def create(self, body: dict[str, Any], *, expect: int = 201) -> dict[str, Any]:
        response = await self.request("POST", "/v1/clients", json=body)
        data: dict[str, Any] = await response.json()
        assert response.status == expect, data
        return data


def oidc_client(name: str = "Portal", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "oidc", "name": name, "secret": "s3cret-value-for-tests",
        "secret_confirmation": "s3cret-value-for-tests",
        "redirect_uris": ["https://portal.example.com/cb"],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
    }
    body.update(overrides)
    return body


def oauth1_client(name: str = "Legacy consumer") -> dict[str, Any]:
    return {"type": "oauth1", "name": name, "secret": "consumer-secret-123",
            "secret_confirmation": "consumer-secret-123"}


async def start_service(settings: Settings, aiohttp_client: AiohttpClient, workers: int,
                        prepare: Callable[[web.Application], None] = lambda app: None
                        ) -> AsyncIterator[Service]:
    """The service; `prepare` may swap a part of the gateway before it starts."""
    admin = add_token(settings, "alice", CONFIGURE_SERVER)
    reader = add_token(settings, "dashboard", CLIENTS_READ)
    everything = add_token(settings, "operator", *PERMISSIONS)
    async with running_workers(settings, workers) as started:
        app = create_app(settings)
        prepare(app)
        http = await aiohttp_client(app)
        # As a load balancer would: send traffic once /readyz says the model is loaded.
        await asyncio.wait_for(http.app[keys.READ_MODEL].loaded.wait(), 10)
        yield Service(http, settings, bearer(admin), bearer(reader), started,
                      bearer(everything))


@pytest.fixture
async def service(settings: Settings, aiohttp_client: AiohttpClient,
                  topology_cleanup: None) -> AsyncIterator[Service]:
    async for running in start_service(settings, aiohttp_client, WORKERS):
        yield running

