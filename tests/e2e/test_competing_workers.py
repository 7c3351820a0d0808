"""Several workers share one queue: each command is applied once, by one of them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from common.settings import Settings
from tests.e2e.conftest import AiohttpClient, Service, oidc_client, start_service
from tests.harness import event_tap

CREATES = 40


@pytest.fixture
async def two_workers(settings: Settings, aiohttp_client: AiohttpClient,
                      topology_cleanup: None) -> AsyncIterator[Service]:
    # A prefetch of 1 makes the broker hand out commands in turn.
    async for running in start_service(settings.with_overrides(worker_prefetch=1),
                                       aiohttp_client, 2):
        yield running


async def test_two_workers_share_the_work(two_workers: Service) -> None:
    async with event_tap(two_workers.settings) as tap:
        responses = await asyncio.gather(*(
            two_workers.request("POST", "/v1/clients", json=oidc_client(f"client {i}"))
            for i in range(CREATES)))
        assert [r.status for r in responses] == [201] * CREATES
        events = await tap.wait_for(CREATES)
    keys = {(await r.json())["key"] for r in responses}
    listed = await (await two_workers.request("GET", "/v1/clients?limit=200")).json()
    assert listed["total"] == CREATES
    assert {c["key"] for c in listed["items"]} == keys
    assert sorted(e["subject"] for e in events) == sorted(keys)
    # Each worker's own figure, as its /metrics serves it.
    handled = [w.metrics.registry.get_sample_value(
        "clientkeys_commands_applied_total", {"kind": "create_client", "outcome": "succeeded"})
        or 0 for w in two_workers.workers]
    print(f"commands handled per worker: {handled}")
    assert sum(handled) == CREATES
    assert all(count > 0 for count in handled)


async def test_concurrent_changes_to_one_client_all_apply(two_workers: Service) -> None:
    created = await two_workers.create(oidc_client())
    key = created["key"]
    names = [f"name {i}" for i in range(10)]
    responses = await asyncio.gather(*(
        two_workers.request("PATCH", f"/v1/clients/{key}", json={"name": n}) for n in names))
    assert [r.status for r in responses] == [200] * len(names)
    final = await (await two_workers.request("GET", f"/v1/clients/{key}")).json()
    assert final["version"] == 1 + len(names)
    assert final["name"] in names
