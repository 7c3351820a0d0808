"""A recognisable secret goes through every operation and shows up nowhere.

Nowhere means: no HTTP response, no message on the events exchange, and no
byte of any stored MongoDB document — only the sealed form is stored.
"""

from __future__ import annotations

from typing import Any

import bson

from api import keys
from tests.e2e.conftest import Service, oidc_client
from tests.harness import event_tap

CANARY = "CANARY-secret-7f3a9c"
SECOND = "CANARY-second-b81d2e"


async def test_every_event_of_a_life_and_no_secret_anywhere(service: Service) -> None:
    responses: list[bytes] = []

    async def call(method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = await service.request(method, path, json=body)
        responses.append(await response.read())
        assert response.status < 300, responses[-1]
        return await response.json() if response.status != 204 else None

    async with event_tap(service.settings) as tap:
        created = await call("POST", "/v1/clients",
                             oidc_client(secret=CANARY, secret_confirmation=CANARY))
        key = created["key"]
        await call("PATCH", f"/v1/clients/{key}",
                   {"secret": SECOND, "secret_confirmation": SECOND, "name": "Renamed"})
        await call("POST", f"/v1/clients/{key}/approve")
        await call("POST", f"/v1/clients/{key}/disapprove")
        await call("GET", f"/v1/clients/{key}")
        await call("GET", "/v1/clients")
        db = service.http.app[keys.DB]
        stored = [bson.encode(d) for name in await db.list_collection_names()
                  for d in await db[name].find({}).to_list()]
        await call("DELETE", f"/v1/clients/{key}")
        await tap.wait_for(5)

    assert [(m.routing_key or "").rsplit(".", 1)[1] for m in tap.messages] == [
        "created", "updated", "approved", "disapproved", "removed"]
    assert len({m.message_id for m in tap.messages}) == 5
    for secret in (CANARY, SECOND):
        needle = secret.encode()
        assert not any(needle in body for body in responses)
        assert not any(needle in m.body for m in tap.messages)
        assert not any(needle in raw for raw in stored)
    assert stored  # the scan did read the client and its operations
