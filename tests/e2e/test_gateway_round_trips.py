"""What the gateway itself asks of MongoDB for a command, pinned.

Every database command is a share of the one database every gateway and worker
use, so the gateway's usual path costs it nothing before the command is queued:
a change of status finds the client's key and version in the read model, and the
worker records the operation as it starts it (api.views.dispatch). The gateway
writes the operation itself only when somebody may ask for it before a worker
did: an Idempotency-Key retry. Commands are seen as the driver sends them (a
CommandListener on the gateway's own client); deterministic, not a timing.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pytest_aiohttp import AiohttpClient

import api.app
from api import keys
from api.verify.client_answers import public_view
from api.verify.client_entries import entry_of
from api.verify.read_model import REPLY_CHECK_S
from common.settings import Settings
from common.store import CLIENTS, OPERATIONS, connect
from tests.e2e.conftest import WORKERS, Service, oidc_client, start_service
from tests.integration.counted_worker import SentCommands

WRITES = {"insert", "update", "delete", "findAndModify"}


@pytest.fixture
async def counted(settings: Settings, aiohttp_client: AiohttpClient, topology_cleanup: None,
                  monkeypatch: pytest.MonkeyPatch
                  ) -> AsyncIterator[tuple[Service, SentCommands]]:
    sent = SentCommands()
    monkeypatch.setattr(api.app, "connect", functools.partial(connect, listeners=[sent]))
    async for running in start_service(settings, aiohttp_client, WORKERS):
        yield running, sent


def _about(sent: SentCommands, key: str, operation_id: str | None = None
           ) -> list[tuple[str, dict[str, Any]]]:
    """The commands sent that name this client or this operation."""
    def names(command: dict[str, Any]) -> bool:
        text = repr(command)
        return key in text or (operation_id is not None and operation_id in text)
    return [(name, command) for name, command in sent.commands if names(command)]


async def test_an_approve_costs_the_gateway_no_database_command(
        counted: tuple[Service, SentCommands]) -> None:
    service, sent = counted
    created = await service.create(oidc_client())
    before = len(sent.commands)
    response = await service.request("POST", f"/v1/clients/{created['key']}/approve")
    assert response.status == 200, await response.text()
    assert (await response.json())["status"] == "approved"
    during = SentCommands(commands=sent.commands[before:])
    assert _about(during, created["key"]) == []
    assert [name for name, command in during.commands
            if name in WRITES and command.get(name) == OPERATIONS] == []


async def test_a_create_costs_the_gateway_no_database_command(
        counted: tuple[Service, SentCommands]) -> None:
    """The worker's reply carries the new client's `_id` and sealed secrets, so the
    gateway holds it at once; the read its event asked for is dropped."""
    service, sent = counted
    before = len(sent.commands)
    created = await service.create(oidc_client())
    await asyncio.sleep(3 * REPLY_CHECK_S)  # past the moment its event's read waited
    during = sent.commands[before:]
    assert [(name, command[name]) for name, command in during
            if name in WRITES | {"find"} and command.get(name) in (CLIENTS, OPERATIONS)
            and created["key"] in repr(command)] == []
    assert [name for name, command in during
            if name in WRITES and command.get(name) == OPERATIONS] == []
    held = service.http.app[keys.READ_MODEL].get(created["key"])
    stored = await service.http.app[keys.DB][CLIENTS].find_one({"key": created["key"]})
    assert held is not None and stored is not None
    read, at = entry_of(stored), datetime.now(UTC)
    # The `_id` and the very sealed secret stored, and the same answer as a read's.
    assert (held.oid, held.secrets) == (read.oid, read.secrets)
    assert public_view(held, at) == public_view(read, at)


async def test_an_idempotency_key_request_records_its_operation_first(
        counted: tuple[Service, SentCommands]) -> None:
    service, sent = counted
    created = await service.create(oidc_client())
    before = len(sent.commands)
    response = await service.request("POST", f"/v1/clients/{created['key']}/approve",
                                     headers={**service.admin,
                                              "Idempotency-Key": "approve-once"})
    assert response.status == 200, await response.text()
    inserted = [command for name, command in sent.commands[before:]
                if name == "insert" and command.get("insert") == OPERATIONS]
    assert len(inserted) == 1


async def test_a_read_model_behind_still_lets_a_matching_if_match_through(
        counted: tuple[Service, SentCommands]) -> None:
    """The model may lag another gateway's change: an If-Match it does not match is
    checked against the stored version before the caller is refused."""
    service, _ = counted
    created = await service.create(oidc_client())
    # Another writer's change this gateway has not heard of (no event for it).
    db = service.http.app[keys.DB]
    await db[CLIENTS].update_one({"key": created["key"]}, {"$inc": {"version": 1}})
    model_entry = service.http.app[keys.READ_MODEL].get(created["key"])
    assert model_entry is not None and model_entry.version == created["version"]
    stored = created["version"] + 1
    response = await service.request("POST", f"/v1/clients/{created['key']}/approve",
                                     headers={**service.admin, "If-Match": f'"{stored}"'})
    assert response.status == 200, await response.text()
    assert (await response.json())["version"] == stored + 1
    stale = await service.request("POST", f"/v1/clients/{created['key']}/disapprove",
                                  headers={**service.admin, "If-Match": f'"{stored}"'})
    assert stale.status == 412, await stale.text()
