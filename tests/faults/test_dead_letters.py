"""A command that keeps failing is set aside in the dead-letter queue, then replayed."""

from __future__ import annotations

from typing import Any

import pytest

from api import keys
from api.app import create_app
from api.auth.principals import CONFIGURE_SERVER
from common.commands import CreateClient
from common.keyring import SecretKeyring
from common.settings import Settings
from common.topology import COMMAND_DELIVERY_LIMIT
from tests.e2e.conftest import AiohttpClient, oauth1_client
from tests.faults.conftest import Figures, wait_until
from tests.harness import add_token, bearer, running_workers
from worker import handlers
from worker.applied import Applied
from worker.dead_letters import run_dlq
from worker.repository import ClientStore


@pytest.mark.timeout(120)
async def test_a_failing_command_is_dead_lettered_and_replayed_once_fixed(
        settings: Settings, aiohttp_client: AiohttpClient, topology_cleanup: None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    figures = Figures("dead letters")
    attempts = 0
    real_create = handlers.create_client

    async def broken_create(command: CreateClient, store: ClientStore, keyring: SecretKeyring,
                            claimed_key: str | None = None) -> Applied[Any]:
        nonlocal attempts
        if "poison" in command.name:
            attempts += 1
            raise RuntimeError("a bug that only this client's name triggers")
        return await real_create(command, store, keyring, claimed_key)

    monkeypatch.setitem(handlers.HANDLERS, CreateClient, broken_create)
    monkeypatch.setattr("worker.consumer.RETRY_FIRST_S", 0.05)
    settings = settings.with_overrides(sync_wait_s=0.0)
    admin = bearer(add_token(settings, "alice", CONFIGURE_SERVER))
    http = await aiohttp_client(create_app(settings))
    db = http.app[keys.DB]

    async with running_workers(settings, 2):
        fine = await http.post("/v1/clients", json=oauth1_client("fine"), headers=admin)
        poison = await http.post("/v1/clients", json=oauth1_client("poison pill"),
                                 headers=admin)
        operation_id = (await poison.json())["operation"]["id"]

        async def operation(status: str) -> bool:
            found: dict[str, Any] | None = await db["operations"].find_one({"_id": operation_id})
            return found is not None and found["status"] == status

        async def failed() -> bool:
            return await operation("failed")

        await wait_until(failed, 60, "the poison command to be set aside")
        stored = await db["operations"].find_one({"_id": operation_id})
        assert stored is not None
        assert stored["error"]["code"] == "internal"
        assert "dead-letter" in stored["error"]["message"]
        assert attempts == COMMAND_DELIVERY_LIMIT
        listed = (await run_dlq(settings, "list", [], False)).letters
        assert [d["command_id"] for d in listed] == [operation_id]
        assert fine.status == 202

        # The fix is deployed; the operator replays the command.
        monkeypatch.setitem(handlers.HANDLERS, CreateClient, real_create)
        replayed = (await run_dlq(settings, "replay", [operation_id], False)).letters
        assert [d["command_id"] for d in replayed] == [operation_id]

        async def succeeded() -> bool:
            return await operation("succeeded")

        await wait_until(succeeded, 30, "the replayed command to be applied")
        assert (await run_dlq(settings, "list", [], False)).letters == []

    names = sorted(c["name"] for c in await db["clients"].find({}).to_list())
    figures.add(attempts=attempts, dead_lettered=len(listed), replayed=len(replayed),
                clients=len(names))
    figures.show()
    assert names == ["fine", "poison pill"]
