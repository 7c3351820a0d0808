"""How many MongoDB round trips the worker makes per command, and what each is, pinned.

Every command costs the database CPU and every round trip the caller time, so
a change that adds one to the common path shows here. The commands are
recorded as the driver sends them (a CommandListener) and grouped into round
trips: commands sent while others are still waiting for their answer share
one. Deterministic, not a timing. Query shapes (each served by an index) are
pinned in test_query_shapes.py.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from common.client_origin import registration_origin
from common.commands import ApproveClient, encode_command
from common.store import AUDIT, CLIENTS, OPERATIONS, REGISTRATION_TOKENS
from common.token_commands import CreateRegistrationToken, RevokeRegistrationToken
from tests.fakes import FakeMessage
from tests.integration.counted_worker import CountedWorker, counted_worker
from tests.unit.test_worker_handlers import create_command


@pytest.fixture
async def worker(mongodb_uri: str) -> AsyncIterator[CountedWorker]:
    async with counted_worker(mongodb_uri) as counted:
        yield counted


@pytest.mark.parametrize("recorded", [False, True], ids=["usual", "gateway-recorded"])
async def test_a_create_takes_three_round_trips(worker: CountedWorker, recorded: bool) -> None:
    _, trips = await worker.apply(create_command(), recorded=recorded)
    assert trips == [
        # 1. The operation started, the client's key claimed in the same write; an
        #    upsert that matches only a pending operation (a finished or withdrawn
        #    one collides on _id and only then is read), or records it when no
        #    gateway did (the usual path: api.views.dispatch).
        [("update", OPERATIONS)],
        # 2. The client, with its `created` event in the outbox.
        [("insert", CLIENTS)],
        # (the event published, confirmed by the broker)
        # 3. Together: the audit entry, the outbox cleared, the outcome.
        sorted([("insert", AUDIT), ("update", CLIENTS), ("update", OPERATIONS)]),
    ]
    assert [rk for rk, _ in worker.bus.events] == ["client.oidc.created"]


async def test_an_approve_takes_three_round_trips(worker: CountedWorker) -> None:
    created, _ = await worker.apply(create_command())
    assert created.client_key is not None
    approve = ApproveClient(id="approve-1", actor="bob", request_id="r2",
                            client_key=created.client_key)
    _, trips = await worker.apply(approve)
    assert trips == [
        # 1. Together: the operation started, and the client read to decide.
        sorted([("update", OPERATIONS), ("find", CLIENTS)]),
        # 2. The change and its event, an update_one guarded by the version (and
        #    outbox) read: the document it leaves is computed, not read back.
        [("update", CLIENTS)],
        # (the event published, confirmed by the broker)
        # 3. Together: the audit entry, the outbox cleared, the outcome.
        sorted([("insert", AUDIT), ("update", CLIENTS), ("update", OPERATIONS)]),
    ]
    assert [rk for rk, _ in worker.bus.events] == ["client.oidc.created",
                                                   "client.oidc.approved"]
    client = await worker.db[CLIENTS].find_one({"key": created.client_key})
    assert client is not None and client["status"] == "approved" and client["outbox"] == []
    assert await worker.db[AUDIT].find_one({"_id": "approve-1"}) is not None


async def test_a_redelivered_finished_command_is_answered_from_its_operation(
        worker: CountedWorker) -> None:
    command = create_command()
    await worker.apply(command)
    worker.listener.clear()
    message = FakeMessage(encode_command(command), redelivered=True)
    await worker.consumer.on_message(message)
    assert message.settled == ["ack"]
    assert worker.listener.trips == [
        [("update", OPERATIONS)],  # the start matches no pending operation: collides
        [("find", OPERATIONS)],    # so the operation is read: finished
        [("insert", AUDIT)],       # its audit entry, in case it was lost (a no-op here)
    ]
    assert await worker.db[CLIENTS].count_documents({}) == 1


async def test_commands_in_hand_together_share_their_round_trips(
        worker: CountedWorker) -> None:
    """Group commit: each write of theirs still goes, but in one command per kind."""
    keys = []
    for _ in range(6):
        created, _ = await worker.apply(create_command())
        assert created.client_key is not None
        keys.append(created.client_key)
    approvals = [ApproveClient(id=f"approve-{n}", actor="bob", request_id="r",
                               client_key=key) for n, key in enumerate(keys)]
    worker.listener.clear()
    worker.listener.commands.clear()
    messages = [FakeMessage(encode_command(approve)) for approve in approvals]
    await asyncio.gather(*(worker.consumer.on_message(message) for message in messages))
    assert all(message.settled == ["ack"] for message in messages)
    # Handed in at once, their first round trip is one start of six operations beside
    # one read of six clients.
    assert sorted(worker.listener.trips[0]) == [("find", CLIENTS), ("update", OPERATIONS)]
    first_read, first_start = (dict(c) for _, c in sorted(worker.listener.commands[:2],
                                                          key=lambda sent: sent[0]))
    assert len(first_read["filter"]["key"]["$in"]) == 6
    assert len(first_start["updates"]) == 6
    # Every write was made, in fewer commands than six lone approvals (6 x 6) send.
    def statements(name: str, command: dict[str, Any]) -> int:
        """Keys read, documents inserted or updates made by one command."""
        if name == "find":
            return len(command["filter"]["key"]["$in"])
        return len(command["updates"] if name == "update" else command["documents"])

    assert sum(statements(*sent) for sent in worker.listener.commands) == 6 * 6
    assert len(worker.listener.commands) < 6 * 6
    for key in keys:
        client = await worker.db[CLIENTS].find_one({"key": key})
        assert client is not None and client["status"] == "approved" and client["outbox"] == []
    assert await worker.db[AUDIT].count_documents({"_id": {"$regex": "^approve-"}}) == 6


def token_command() -> CreateRegistrationToken:
    return CreateRegistrationToken(
        id="token-1", actor="alice", request_id="r1",
        token_sha256=hashlib.sha256(b"cki_round-trips").hexdigest(), label="partner",
        expires_at=datetime.now(UTC) + timedelta(days=1), max_uses=2,
        policy={"client_types": [], "grant_types": [], "redirect_uri_hosts": [],
                "auto_approve": False})


async def test_a_token_takes_three_round_trips_and_a_registration_one_more(
        worker: CountedWorker) -> None:
    made = token_command()
    _, trips = await worker.apply(made)
    assert trips == [
        [("update", OPERATIONS)],
        # 2. The token, with its `registration_token_created` event in its outbox.
        [("insert", REGISTRATION_TOKENS)],
        # 3. Together: the audit entry, the token's outbox cleared, the outcome.
        sorted([("insert", AUDIT), ("update", OPERATIONS), ("update", REGISTRATION_TOKENS)]),
    ]
    registration = create_command(origin=registration_origin(made.token_id, "partner"))
    _, trips = await worker.apply(registration)
    assert trips == [
        [("update", OPERATIONS)],
        # The use of the token, a guarded update_one, right before the client's insert.
        [("update", REGISTRATION_TOKENS)],
        [("insert", CLIENTS)],
        sorted([("insert", AUDIT), ("update", CLIENTS), ("update", OPERATIONS)]),
    ]
    revoke = RevokeRegistrationToken(id="revoke-1", actor="alice", request_id="r2",
                                     token_id=made.token_id)
    _, trips = await worker.apply(revoke)
    assert trips == [
        [("update", OPERATIONS)],
        # Read to write its record into the event, then revoked with the event.
        [("find", REGISTRATION_TOKENS)],
        [("update", REGISTRATION_TOKENS)],
        sorted([("insert", AUDIT), ("update", OPERATIONS), ("update", REGISTRATION_TOKENS)]),
    ]
    assert [rk for rk, _ in worker.bus.events] == [
        "registration_token.created", "client.oidc.created", "registration_token.revoked"]
    token = await worker.db[REGISTRATION_TOKENS].find_one({"_id": made.token_id})
    assert token is not None and token["outbox"] == [] and token["uses_left"] == 1
