"""The outcome replies in the AsyncAPI document: true to what the consumer sends.

Commands go through the worker's consumer (in-memory store, recording bus), so every
reply checked is one a worker really sends, headers and body.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from api.docs.asyncapi import document_body
from common.command_mac import REPLY_SCHEME, SCHEME_HEADER
from common.commands import ApproveClient, RotateSecret, encode_command
from common.keyring import command_secret_aad
from tests.asyncapi_contract import payload_validator
from tests.fakes import FAKE_KEYRING, FakeMessage, InMemoryClientStore, RecordingBus
from tests.unit.test_worker_handlers import create_command
from worker.consumer import CommandConsumer
from worker.relay import OutboxRelay
from worker.worker_metrics import WorkerMetrics

Reply = tuple[dict[str, Any], dict[str, Any]]  # its headers and its body


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(document_body("contract"))
    return parsed


async def sent_replies() -> list[Reply]:
    """The replies to a create, a rotation, an approval, and an approval of a client
    that does not exist, as the consumer sends them."""
    store, bus = InMemoryClientStore(), RecordingBus()
    metrics = WorkerMetrics(CollectorRegistry())
    consumer = CommandConsumer(bus, store, OutboxRelay(bus, store, "ns", metrics, FAKE_KEYRING),
                               asyncio.Event(), metrics, FAKE_KEYRING)
    await consumer.on_message(FakeMessage(encode_command(create_command())))
    key = next(iter(store.clients))
    rotation = str(uuid.uuid4())
    for command in (
            RotateSecret(id=rotation, actor="alice", request_id="r2", client_key=key,
                         grace_seconds=600, secret=FAKE_KEYRING.seal(
                             "another-long-secret",
                             command_secret_aad(rotation, RotateSecret.kind))),
            ApproveClient(id=str(uuid.uuid4()), actor="bob", request_id="r3", client_key=key),
            ApproveClient(id=str(uuid.uuid4()), actor="bob", request_id="r4",
                          client_key="no-such-client")):
        await consumer.on_message(FakeMessage(encode_command(command)))
    return [(headers, json.loads(body))
            for headers, (_, body) in zip(bus.reply_headers, bus.replies, strict=True)]


async def test_every_reply_the_consumer_sends_validates(document: dict[str, Any]) -> None:
    replies = await sent_replies()
    bodies = [body for _, body in replies]
    assert [("stored" in body, body["status"]) for body in bodies] == [
        (True, "succeeded"), (True, "succeeded"), (False, "succeeded"), (False, "failed")]
    assert len(bodies[1]["stored"]["previous_secrets"]) == 1  # the rotated-out secret
    payload = payload_validator(document, "outcomeReply")
    headers = payload_validator(document, "outcomeReply", "headers")
    for sent_headers, body in replies:
        assert [e.message for e in payload.iter_errors(body)] == [], body["kind"]
        assert [e.message for e in headers.iter_errors(sent_headers)] == []


@pytest.mark.parametrize("tamper", [
    pytest.param(lambda r: r["stored"].update(secret="another-long-secret"),
                 id="a secret in the clear"),
    pytest.param(lambda r: r.update(secret="another-long-secret"), id="a field of its own"),
    pytest.param(lambda r: r["stored"].update(_id="not-an-object-id"), id="a bad _id"),
    pytest.param(lambda r: r.update(status="pending"), id="not finished"),
    pytest.param(lambda r: r.pop("operation_id"), id="no operation"),
])
async def test_a_tampered_reply_fails(document: dict[str, Any], tamper: Any) -> None:
    _, created = (await sent_replies())[0]
    validator = payload_validator(document, "outcomeReply")
    assert validator.is_valid(created)
    tamper(created)
    assert not validator.is_valid(created)


def test_the_replies_channel_is_the_replies_exchange(document: dict[str, Any]) -> None:
    binding = document["channels"]["outcomeReplies"]["bindings"]["amqp"]
    assert binding["exchange"]["name"] == "contract.replies"
    assert binding["exchange"]["type"] == "direct"
    scheme = document["components"]["schemas"]["ReplyMacHeaders"]["properties"][SCHEME_HEADER]
    assert scheme["const"] == REPLY_SCHEME
