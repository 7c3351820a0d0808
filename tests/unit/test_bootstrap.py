"""`create_worker` wires a worker around what it is handed: with a bus and a store given,
it connects to nothing, and the worker consumes from that bus into that store."""

from __future__ import annotations

import asyncio

from clientkeys.bootstrap import create_worker
from common.command_mac import sign_command
from common.commands import RemoveClient, encode_command
from common.keyring import Keyring, new_key_entry
from common.memory_bus import MemoryBus
from common.settings import Settings
from tests.fakes import InMemoryClientStore

# Nothing listens on port 1: a connection attempt would fail the test.
NOWHERE = Settings(amqp_url="amqp://guest:guest@127.0.0.1:1/",
                   mongodb_uri="mongodb://127.0.0.1:1/clientkeys",
                   encryption_keys=new_key_entry("test"))


async def test_a_worker_handed_its_bus_and_store_uses_them() -> None:
    bus, store = MemoryBus(), InMemoryClientStore()
    async with create_worker(NOWHERE, bus, store) as parts:
        assert parts.bus is bus and parts.db is None
        await parts.worker.start()
        command = RemoveClient(id="op-1", actor="alice", request_id="r", client_key="absent")
        body = encode_command(command)
        await bus.publish_command(body, message_id=command.id, reply_to=None,
                                  headers=sign_command(Keyring.parse(NOWHERE.encryption_keys),
                                                       body, message_id=command.id,
                                                       reply_to=None))
        for _ in range(200):
            if store.started:
                break
            await asyncio.sleep(0.01)
        assert store.started == ["op-1"]  # the store it was handed, not one of its own
    assert not parts.worker.consuming  # stopped on the way out
    await bus.close()
