"""/readyz turns not ready while the broker link is cut, and ready again after:
the gateway's and the worker's."""

from __future__ import annotations

from typing import Any

import pytest

from api.app import create_app
from api.auth.principals import CLIENTS_READ
from clientkeys.bootstrap import create_worker
from common.amqp_bus import AmqpBus
from common.settings import Settings
from common.topology import Topology
from tests.e2e.conftest import AiohttpClient
from tests.faults.conftest import host_and_port, through, wait_until
from tests.faults.proxy import tcp_proxy
from tests.harness import add_token, bearer
from worker.health import health_app


@pytest.mark.timeout(60)
async def test_readiness_follows_the_broker_link(settings: Settings,
                                                 aiohttp_client: AiohttpClient,
                                                 topology_cleanup: None) -> None:
    host, port = host_and_port(settings.amqp_url, 5672)
    reader = bearer(add_token(settings, "dashboard", CLIENTS_READ))
    async with tcp_proxy(host, port) as link:
        http = await aiohttp_client(create_app(
            settings.with_overrides(amqp_url=through(settings.amqp_url, link.port))))

        async def ready_is(expected: int) -> bool:
            return (await http.get("/readyz")).status == expected

        # Ready once its read model is loaded, as a load balancer would wait for it.
        await wait_until(lambda: ready_is(200), 10, "/readyz to say ready")
        link.cut()
        await wait_until(lambda: ready_is(503), 10, "/readyz to say not ready")
        assert (await http.get("/v1/clients", headers=reader)).status == 200
        link.restore()
        await wait_until(lambda: ready_is(200), 20, "/readyz to be ready again")
        print(f"\n[readiness] broker connections made: {link.connections}")
        assert link.connections >= 2


@pytest.mark.timeout(60)
async def test_a_workers_readiness_follows_its_broker_link(settings: Settings,
                                                           aiohttp_client: AiohttpClient,
                                                           topology_cleanup: None) -> None:
    host, port = host_and_port(settings.amqp_url, 5672)
    async with tcp_proxy(host, port) as link:
        bus = await AmqpBus.connect(through(settings.amqp_url, link.port),
                                    Topology(settings.namespace))
        try:
            async with create_worker(settings, bus, app_name="clientkeys-test-worker") as parts:
                assert parts.db is not None
                worker = parts.worker
                probes = await aiohttp_client(health_app(worker, bus, parts.db))

                async def readiness() -> dict[str, Any]:
                    answer = await probes.get("/readyz")
                    body: dict[str, Any] = await answer.json()
                    return {"status": answer.status, **body["checks"]}

                async def ready_is(expected: int) -> bool:
                    status: int = (await readiness())["status"]
                    return status == expected

                assert await readiness() == {"status": 503, "broker": "ok", "database": "ok",
                                             "consumer": "unavailable"}  # not consuming yet
                await worker.start()
                assert await ready_is(200)
                link.cut()
                await wait_until(lambda: ready_is(503), 10,
                                 "the worker's /readyz to say not ready")
                assert (await readiness())["broker"] == "unavailable"
                assert (await probes.get("/healthz")).status == 200  # alive all along
                link.restore()
                await wait_until(lambda: ready_is(200), 20,
                                 "the worker's /readyz to be ready again")
                await worker.stop(timeout_s=5)
        finally:
            await bus.close()
