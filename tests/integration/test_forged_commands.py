"""Commands no gateway signed, published straight to the broker, change nothing.

Whoever can publish to `<ns>.commands` (a broker user with write on it) sends a
command with no MAC, a wrong one, one under a key retired from the keyring,
and a gateway's genuine MAC over a body of their own. The workers refuse each
before reading it: MongoDB is exactly as before, the message is dead-lettered,
the rejection is counted by reason; a command a gateway sent still goes through.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from api import keys
from api.app import create_app
from api.auth.principals import CONFIGURE_SERVER
from api.views.operations import record_pending
from clientkeys.cli import show_dlq
from common.command_mac import sign_command
from common.commands import ApproveClient, RemoveClient, encode_command
from common.keyring import Keyring, new_key_entry
from common.settings import Settings
from common.store import AUDIT, CLIENTS, OPERATIONS
from common.topology import Topology
from tests.e2e.conftest import AiohttpClient, oauth1_client
from tests.faults.conftest import wait_until
from tests.harness import (
    add_token,
    bearer,
    dead_letter_count,
    publish_straight,
    running_workers,
)
from worker.dead_letters import run_dlq


async def publish_raw(settings: Settings, body: bytes, message_id: str,
                      headers: Mapping[str, str]) -> None:
    """What an attacker with write permission on the commands exchange can do."""
    topology = Topology(settings.namespace)
    await publish_straight(settings, topology.commands_exchange,
                           topology.commands_routing_key, body, message_id, dict(headers))


def forgeries(settings: Settings, client_key: str) -> list[tuple[str, bytes, str,
                                                                    dict[str, str]]]:
    """(reason the worker must give, body, message id, headers) of each forged command."""
    gateway_keys = settings.keyring()
    removal = RemoveClient(id="forged-remove", actor="mallory", request_id="r",
                           client_key=client_key)
    body = encode_command(removal)
    # Same key id as the gateways', different key material: a guess.
    guessed = Keyring.parse(new_key_entry(gateway_keys.current_key_id))
    retired = Keyring.parse(new_key_entry("retired"))
    harmless = ApproveClient(id="forged-remove", actor="alice", request_id="r",
                             client_key=client_key)
    genuine = sign_command(gateway_keys, encode_command(harmless), message_id=removal.id,
                           reply_to=None)

    def signed(keyring: Keyring) -> dict[str, str]:
        return sign_command(keyring, body, message_id=removal.id, reply_to=None)

    return [("missing", body, removal.id, {}),
            ("bad_mac", body, removal.id, signed(guessed)),
            ("unknown_key", body, removal.id, signed(retired)),
            ("bad_mac", body, removal.id, genuine),  # a real MAC, over another body
            ]


async def snapshot(db: Any) -> dict[str, list[dict[str, Any]]]:
    return {name: await db[name].find({}).sort("_id").to_list()
            for name in (CLIENTS, OPERATIONS, AUDIT)}


@pytest.mark.timeout(120)
async def test_forged_commands_change_nothing_and_are_dead_lettered_and_counted(
        settings: Settings, aiohttp_client: AiohttpClient, topology_cleanup: None) -> None:
    admin = bearer(add_token(settings, "alice", CONFIGURE_SERVER))
    http = await aiohttp_client(create_app(settings))
    db = http.app[keys.DB]
    async with running_workers(settings, 1) as [worker]:
        created = await http.post("/v1/clients", json=oauth1_client("target"), headers=admin)
        assert created.status == 201, await created.text()
        client_key = (await created.json())["key"]
        before = await snapshot(db)
        rejected = worker.metrics.registry

        def count(reason: str) -> float:
            return rejected.get_sample_value("clientkeys_worker_commands_rejected_total",
                                             {"reason": reason}) or 0.0

        expected = {"missing": 0.0, "unknown_key": 0.0, "bad_mac": 0.0}
        for position, (reason, body, message_id, headers) in enumerate(
                forgeries(settings, client_key), start=1):
            await publish_raw(settings, body, message_id, headers)
            expected[reason] += 1

            async def dead_lettered(wanted: int = position) -> bool:
                return await dead_letter_count(settings) == wanted

            await wait_until(dead_lettered, 20, f"forgery {position} ({reason}) set aside")
            assert {r: count(r) for r in expected} == expected
            assert await snapshot(db) == before, f"forgery {position} ({reason}) changed data"

        # A gateway's command is still applied: the worker was checking, not asleep.
        removed = await http.delete(f"/v1/clients/{client_key}", headers=admin)
        assert removed.status == 204, await removed.text()
        assert await db[CLIENTS].find_one({"key": client_key, "removed_at": None}) is None
    assert await dead_letter_count(settings) == 4


@pytest.mark.timeout(120)
async def test_the_dead_letter_tooling_believes_nothing_a_forged_command_says(
        settings: Settings, aiohttp_client: AiohttpClient, topology_cleanup: None,
        capsys: pytest.CaptureFixture[str]) -> None:
    http = await aiohttp_client(create_app(settings))
    db = http.app[keys.DB]
    # A real pending operation of the id the forgeries claim: believing one would settle it.
    await record_pending(db, RemoveClient(id="forged-remove", actor="alice", request_id="r",
                                          client_key="k1"))
    before = await snapshot(db)
    async with running_workers(settings, 1):
        for _, body, message_id, headers in forgeries(settings, "k1"):
            await publish_raw(settings, body, message_id, headers)

        async def all_set_aside() -> bool:
            return await dead_letter_count(settings) == 4

        await wait_until(all_set_aside, 20, "the forgeries to be set aside")
    listed = (await run_dlq(settings, "list", [], False)).letters
    assert sorted(d["reason"] for d in listed) == [
        "unauthenticated (bad_mac)", "unauthenticated (bad_mac)", "unauthenticated (missing)",
        "unauthenticated (unknown_key)"]
    assert {(d["kind"], d["client_key"]) for d in listed} == {("unauthenticated", None)}
    replayed = await run_dlq(settings, "replay", [], True)
    assert (replayed.letters, replayed.not_replayed) == ([], ["forged-remove"] * 4)
    show_dlq(replayed, as_json=False)
    assert capsys.readouterr().out.count("not replayed: forged-remove is unauthenticated") == 4
    assert await dead_letter_count(settings) == 4  # kept for an operator to purge
    purged = (await run_dlq(settings, "purge", ["forged-remove"], False)).letters
    assert len(purged) == 4 and await dead_letter_count(settings) == 0
    assert await snapshot(db) == before  # the pending operation is as it was
