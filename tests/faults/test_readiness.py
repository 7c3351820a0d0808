"""/readyz turns not ready while the broker link is cut, and ready again after."""

from __future__ import annotations

import pytest

from api.app import create_app
from api.principals import CLIENTS_READ
from common.settings import Settings
from tests.e2e.conftest import AiohttpClient
from tests.faults.conftest import host_and_port, through, wait_until
from tests.faults.proxy import tcp_proxy
from tests.harness import add_token, bearer


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

        assert await ready_is(200)
        link.cut()
        await wait_until(lambda: ready_is(503), 10, "/readyz to say not ready")
        assert (await http.get("/v1/clients", headers=reader)).status == 200
        link.restore()
        await wait_until(lambda: ready_is(200), 20, "/readyz to be ready again")
        print(f"\n[readiness] broker connections made: {link.connections}")
        assert link.connections >= 2
