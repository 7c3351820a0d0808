"""While a gateway's read model loads, it is not ready, and its reads come from MongoDB.

The load is held back here for good; the clients are written straight to MongoDB. The
gateway must still answer the list (filters, order, cursor, total) and single clients,
as the database has them, and `/readyz` must name the read model as what is missing.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from api import keys
from api.app import create_app
from api.auth.principals import CLIENTS_READ
from api.verify.read_model import ClientReadModel
from common.settings import Settings
from common.store import CLIENTS, connect, database, now
from tests.e2e.conftest import AiohttpClient
from tests.harness import add_token, bearer


def stored(number: int, status: str) -> dict[str, Any]:
    at = now() + timedelta(seconds=number)
    name = f"Loading {number}"
    return {"key": f"key-{number}", "type": "oauth1", "name": name,
            "name_sort": name.casefold(), "status": status, "redirect_uris": [],
            "grant_types": [], "response_types": [], "created_at": at, "updated_at": at,
            "status_changed_at": at, "version": 1, "removed_at": None}


async def test_reads_come_from_mongodb_until_the_model_is_loaded(
        settings: Settings, aiohttp_client: AiohttpClient, topology_cleanup: None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    async def never_loaded(self: ClientReadModel) -> None:
        await asyncio.Event().wait()

    monkeypatch.setattr(ClientReadModel, "reconcile", never_loaded)
    client = connect(settings.mongodb_uri, app_name="clientkeys-test")
    try:
        await database(client)[CLIENTS].insert_many(
            [stored(n, "approved" if n % 2 else "pending") for n in range(5)])
    finally:
        await client.close()
    reader = bearer(add_token(settings, "dashboard", CLIENTS_READ))
    http = await aiohttp_client(create_app(settings))

    ready = await http.get("/readyz")
    assert ready.status == 503 and "read_model" in await ready.text()
    assert not http.app[keys.READ_MODEL].loaded.is_set()

    first = await http.get("/v1/clients?status=approved&limit=1", headers=reader)
    body = await first.json()
    assert first.status == 200 and body["total"] == 2
    assert [c["name"] for c in body["items"]] == ["Loading 3"]  # newest first
    rest = await http.get(f"/v1/clients?status=approved&limit=1&cursor={body['next_cursor']}",
                          headers=reader)
    assert [c["name"] for c in (await rest.json())["items"]] == ["Loading 1"]
    one = await http.get("/v1/clients/key-4", headers=reader)
    assert one.status == 200 and (await one.json())["status"] == "pending"
    assert (await http.get("/v1/clients/key-9", headers=reader)).status == 404
