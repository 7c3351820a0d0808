"""`clientkeys dlq purge` against RabbitMQ and the database."""

from __future__ import annotations

import asyncio
import json

import pytest

from api.views.operations import record_pending
from clientkeys.cli import show_dlq
from common.amqp_bus import AmqpBus
from common.bus import IncomingCommand
from common.command_mac import sign_command
from common.commands import RemoveClient, encode_command
from common.settings import Settings
from common.store import connect, database
from common.topology import Topology
from tests.harness import dead_letter_count
from tests.integration.test_amqp_bus import collect
from worker.dead_letters import run_dlq


@pytest.mark.parametrize("select_all", [True, False])
async def test_purge_drops_the_command_and_fails_its_operation(
        settings: Settings, topology_cleanup: None, select_all: bool,
        capsys: pytest.CaptureFixture[str]) -> None:
    command = RemoveClient(id="op-purge", actor="alice", request_id="r", client_key="k1")
    client = connect(settings.mongodb_uri, app_name="clientkeys-test")
    db = database(client)
    bus = await AmqpBus.connect(settings.amqp_url, Topology(settings.namespace))
    try:
        await record_pending(db, command)
        body = encode_command(command)
        await bus.publish_command(body, message_id=command.id, reply_to=None,
                                  headers=sign_command(settings.keyring(), body,
                                                       message_id=command.id, reply_to=None))
        dead: list[IncomingCommand] = await collect(bus, 1, "dead_letter")
        assert len(dead) == 1
        for _ in range(50):  # dead-lettering is asynchronous in the broker
            if await dead_letter_count(settings) == 1:
                break
            await asyncio.sleep(0.1)
        listed = await run_dlq(settings, "list", [], False)
        assert listed.letters == [{"command_id": "op-purge", "kind": "remove_client",
                           "client_key": "k1", "reason": "rejected"}]
        purged = await run_dlq(settings, "purge", [] if select_all else ["op-purge"],
                               select_all)
        assert [p["command_id"] for p in purged.letters] == ["op-purge"]
        assert await dead_letter_count(settings) == 0
        operation = await db["operations"].find_one({"_id": "op-purge"})
        assert operation is not None and operation["status"] == "failed"
        assert "operator" in operation["error"]["message"]
        show_dlq(listed, as_json=True)
        assert [json.loads(line) for line in capsys.readouterr().out.splitlines()] == \
            listed.letters
        show_dlq(purged, as_json=False)
        assert "purged 1 of 1" in capsys.readouterr().out
    finally:
        await bus.close()
        await client.close()
