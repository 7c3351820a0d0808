"""Cut the AMQP connections of the gateway and of the worker under mixed load.

Every command that got a 2xx is applied, and none is applied twice.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from api import keys
from api.app import create_app
from api.auth.principals import CONFIGURE_SERVER
from common.settings import Settings
from tests.e2e.conftest import AiohttpClient, oauth1_client
from tests.faults.conftest import Figures, host_and_port, pending_operations, through, wait_until
from tests.faults.proxy import tcp_proxy
from tests.harness import add_token, bearer, running_workers

EXISTING = 10
STEADY_S = 2.0
# Longer than the gateway's publish timeout, so some commands do get a 503.
CUT_S = 3.0
ACCEPTED = (200, 201, 202)


async def mixed_load(http: TestClient[Any, Any], admin: dict[str, str], existing: list[str],
                     figures: Figures, stop: asyncio.Event) -> tuple[int, Counter[str]]:
    """Creates and renames until `stop`; returns acknowledged creates and renames per key."""
    creates, renames = 0, Counter[str]()
    names = itertools.count()

    async def one(n: int) -> None:
        nonlocal creates
        if n % 3 == 0:
            response = await http.post("/v1/clients", json=oauth1_client(f"new {n}"),
                                       headers=admin)
            if response.status in ACCEPTED:
                creates += 1
        else:
            key = existing[n % len(existing)]
            response = await http.patch(f"/v1/clients/{key}", json={"name": f"name {n}"},
                                        headers=admin)
            if response.status in ACCEPTED:
                renames[key] += 1
        figures.add(sent=1, **{f"http_{response.status}": 1})
        assert response.status in (*ACCEPTED, 503), await response.text()

    while not stop.is_set():
        await asyncio.gather(*(one(next(names)) for _ in range(8)))
    return creates, renames


@pytest.mark.timeout(180)
async def test_cut_broker_connections_lose_and_double_nothing(
        settings: Settings, aiohttp_client: AiohttpClient, topology_cleanup: None) -> None:
    figures = Figures("AMQP cut")
    host, port = host_and_port(settings.amqp_url, 5672)
    async with tcp_proxy(host, port) as gateway_link, tcp_proxy(host, port) as worker_link:
        gateway_settings = settings.with_overrides(
            amqp_url=through(settings.amqp_url, gateway_link.port), sync_wait_s=3.0,
            publish_timeout_s=1.0)
        worker_settings = settings.with_overrides(
            amqp_url=through(settings.amqp_url, worker_link.port))
        admin = bearer(add_token(settings, "alice", CONFIGURE_SERVER))
        http = await aiohttp_client(create_app(gateway_settings))
        db = http.app[keys.DB]
        async with running_workers(worker_settings, 2):
            existing = []
            for i in range(EXISTING):
                created = await http.post("/v1/clients", json=oauth1_client(f"old {i}"),
                                          headers=admin)
                existing.append((await created.json())["key"])

            stop = asyncio.Event()
            load = asyncio.create_task(mixed_load(http, admin, existing, figures, stop))
            for link in (gateway_link, worker_link):
                await asyncio.sleep(STEADY_S)
                link.cut()
                await asyncio.sleep(CUT_S)
                link.restore()
            await asyncio.sleep(STEADY_S)
            stop.set()
            creates, renames = await load

            async def settled() -> bool:
                return await pending_operations(db) == 0

            await wait_until(settled, 60, "every operation to finish")

        clients = await db["clients"].find({}).to_list()
        new_clients = [c for c in clients if c["key"] not in existing]
        versions = {c["key"]: c["version"] for c in clients}
        failed = await db["operations"].find({"status": "failed"}).to_list()
        figures.add(acknowledged_creates=creates, applied_creates=len(new_clients),
                    acknowledged_renames=sum(renames.values()),
                    applied_renames=sum(versions[k] - 1 for k in existing),
                    withdrawn=len(failed), gateway_connections=gateway_link.connections,
                    worker_connections=worker_link.connections)
        figures.show()
        # The cuts were felt: every connection was broken and made again.
        assert gateway_link.connections >= 2
        assert worker_link.connections >= 4
        assert figures.counts["http_503"] > 0
        assert len(new_clients) == creates
        assert {k: versions[k] - 1 for k in existing} == {k: renames[k] for k in existing}
        assert {f["error"]["code"] for f in failed} <= {"undeliverable"}
