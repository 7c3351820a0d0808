"""MongoDB unreachable for several seconds under load: nothing lost, nothing doubled."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from api.app import create_app
from api.auth.principals import CONFIGURE_SERVER
from common.settings import Settings
from common.store import connect, database
from tests.e2e.conftest import AiohttpClient, oauth1_client
from tests.faults.conftest import Figures, host_and_port, through, wait_until
from tests.faults.proxy import tcp_proxy
from tests.harness import add_token, bearer, running_workers

# Requests wait out an outage up to the client's timeout (10 s) before a 503;
# this one is shorter, so what it shows is that nothing waits in vain or twice.
OUTAGE_S = 6.0


@pytest.mark.timeout(180)
async def test_a_database_outage_loses_and_doubles_nothing(
        settings: Settings, aiohttp_client: AiohttpClient, topology_cleanup: None) -> None:
    figures = Figures("MongoDB outage")
    host, port = host_and_port(settings.mongodb_uri, 27017)
    async with tcp_proxy(host, port) as link:
        proxied = through(settings.mongodb_uri, link.port, "directConnection=true")
        service_settings = settings.with_overrides(mongodb_uri=proxied, sync_wait_s=2.0)
        admin = bearer(add_token(settings, "alice", CONFIGURE_SERVER))
        http = await aiohttp_client(create_app(service_settings))
        acknowledged: list[str] = []
        names = itertools.count()
        stop = asyncio.Event()

        async def create() -> None:
            name = f"client {next(names)}"
            response = await http.post("/v1/clients", json=oauth1_client(name), headers=admin)
            figures.add(sent=1, **{f"http_{response.status}": 1})
            assert response.status in (201, 202, 503), await response.text()
            if response.status in (201, 202):
                acknowledged.append(name)

        async def load() -> None:
            while not stop.is_set():
                await asyncio.gather(*(create() for _ in range(6)))

        async with running_workers(service_settings, 2):
            running = asyncio.create_task(load())
            await asyncio.sleep(2)
            before = link.connections
            link.cut()
            await asyncio.sleep(OUTAGE_S)
            link.restore()
            await asyncio.sleep(3)
            stop.set()
            await running

            direct = connect(settings.mongodb_uri, app_name="clientkeys-test")
            db = database(direct)
            try:
                async def settled() -> bool:
                    return await db["operations"].count_documents({"status": "pending"}) == 0

                await wait_until(settled, 90, "the workers to apply what waited in the queue")
                clients = await db["clients"].find({}, {"name": 1}).to_list()
            finally:
                await direct.close()

    names_applied = [c["name"] for c in clients]
    figures.add(acknowledged=len(acknowledged), applied=len(names_applied),
                duplicates=len(names_applied) - len(set(names_applied)),
                reconnections=link.connections - before)
    figures.show()
    assert link.connections > before  # the outage was felt: connections were made anew
    assert sorted(names_applied) == sorted(acknowledged)
