"""An authorization server's calls need no database: with MongoDB cut off from the
gateway, a client's profile and the authentication of its token requests still answer."""

from __future__ import annotations

import base64

import pytest

from api import keys
from api.app import create_app
from api.auth.principals import CLIENTS_VERIFY, CONFIGURE_SERVER
from common.settings import Settings
from tests.e2e.conftest import AiohttpClient, oidc_client
from tests.faults.conftest import host_and_port, through
from tests.faults.proxy import tcp_proxy
from tests.harness import add_token, bearer, running_workers

SECRET = "s3cret-value-for-tests"


@pytest.mark.timeout(120)
async def test_profile_and_authentication_answer_with_the_database_cut_off(
        settings: Settings, aiohttp_client: AiohttpClient, topology_cleanup: None) -> None:
    host, port = host_and_port(settings.mongodb_uri, 27017)
    admin = bearer(add_token(settings, "alice", CONFIGURE_SERVER))
    verifier = bearer(add_token(settings, "authz", CLIENTS_VERIFY))
    async with tcp_proxy(host, port) as link, running_workers(settings, 1):
        proxied = through(settings.mongodb_uri, link.port, "directConnection=true")
        http = await aiohttp_client(create_app(settings.with_overrides(mongodb_uri=proxied)))
        created = await http.post("/v1/clients", json=oidc_client(), headers=admin)
        key = (await created.json())["key"]
        assert (await http.post(f"/v1/clients/{key}/approve", headers=admin)).status == 200

        link.cut()
        assert (await http.get("/readyz")).status == 503  # the outage is felt
        profile = await http.get(f"/v1/clients/{key}/profile", headers=verifier)
        assert profile.status == 200
        assert (await profile.json())["status"] == "approved"
        header = "Basic " + base64.b64encode(f"{key}:{SECRET}".encode()).decode()
        answer = await http.post("/v1/client-authentication", headers=verifier,
                                 json={"authorization": header})
        assert answer.status == 200
        assert (await answer.json())["reason"] == "ok"
        assert http.app[keys.READ_MODEL].get(key) is not None
        link.restore()
