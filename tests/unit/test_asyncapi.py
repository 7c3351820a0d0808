"""The AsyncAPI document: well formed, and true to the messages the code makes.

Every command kind is run through the worker's handlers (in-memory store), so
every event the handlers emit and every command the gateway can send is checked
against its message's payload schema in the document.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, get_type_hints

import pytest

from api.docs.asyncapi import build_document, command_message_name, document_body
from common.clients import ClientType
from common.commands import COMMAND_TYPES, Command, CreateClient, encode_command
from common.events import (
    EVENT_TYPES,
    ClientEvent,
    ClientEventType,
    Event,
    cloud_event,
    encode_event,
)
from common.keyring import Keyring, SealedSecret, command_secret_aad, new_key_entry
from common.registration_tokens import TokenPolicy
from tests.asyncapi_contract import (
    message_for_routing_key,
    payload_validator,
    structural_problems,
)
from tests.fakes import InMemoryClientStore
from worker.handlers import handle

NAMESPACE = "contract"
KEYRING = Keyring.parse(new_key_entry("k1"))
# Values for the fields a command must have, by type; `name` also for an update.
_SAMPLES: dict[Any, Any] = {
    str: "sample", int: 60, ClientType: ClientType.OIDC,
    datetime: datetime(2031, 1, 31, tzinfo=UTC),
    TokenPolicy: {"client_types": ["oidc"], "grant_types": [], "redirect_uri_hosts": [],
                  "auto_approve": False}}
_DIGEST = hashlib.sha256(b"cki_sample").hexdigest()
# Fields whose value must have a form of its own: the name to edit, a token's digest and id.
_EDITS = {"name": "Renamed portal", "token_sha256": _DIGEST, "token_id": _DIGEST[:12]}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(document_body(NAMESPACE))
    return parsed


def sample_command(kind: str, client_key: str) -> Command:
    """A command of `kind` with its required fields set (and a name to edit)."""
    command_type = COMMAND_TYPES[kind]
    hints = get_type_hints(command_type)
    values: dict[str, Any] = {"id": str(uuid.uuid4()), "actor": "alice",
                              "request_id": "r1", "client_key": client_key}
    for field in dataclasses.fields(command_type):
        required = (field.default is dataclasses.MISSING
                    and field.default_factory is dataclasses.MISSING)
        if field.name in values:
            continue
        if field.name in _EDITS:
            values[field.name] = _EDITS[field.name]
        elif required and hints[field.name] is SealedSecret:
            # Sealed for this very command, as the gateway seals it.
            values[field.name] = KEYRING.seal(
                "a-long-enough-secret", command_secret_aad(values["id"], command_type.kind))
        elif required:
            values[field.name] = _SAMPLES[hints[field.name]]
    if command_type is CreateClient:
        del values["client_key"]
        # A secret (optional: a public client has none) and some RFC 7591 metadata.
        values.update(redirect_uris=["https://a.example/cb"],
                      grant_types=["authorization_code"], response_types=["code"],
                      secret=KEYRING.seal("a-long-enough-secret",
                                          command_secret_aad(values["id"], CreateClient.kind)),
                      scope=["read", "write"], client_uri="https://a.example/",
                      contacts=["ops@a.example"],
                      client_secret_expires_at=datetime.now(UTC) + timedelta(days=30))
    return command_type(**values)


async def every_command_and_event() -> tuple[list[Command], list[Event]]:
    """Each command kind once, on one client (created first, removed last), and on one
    initial access token (made, then revoked)."""
    store = InMemoryClientStore()
    create = sample_command("create_client", "")
    applied = await handle(create, store, KEYRING)
    key = applied.outcome.client_key
    assert key is not None, applied.outcome
    commands: list[Command] = [create]
    events: list[Event] = list(applied.events)
    later = sorted((kind for kind in COMMAND_TYPES if kind != "create_client"),
                   key=lambda kind: kind == "remove_client")
    for kind in later:
        command = sample_command(kind, key)
        applied = await handle(command, store, KEYRING)
        assert applied.outcome.error is None, (kind, applied.outcome)
        commands.append(command)
        events += applied.events
    return commands, events


def test_the_document_follows_the_asyncapi_3_rules(document: dict[str, Any]) -> None:
    assert structural_problems(document) == []
    assert document == build_document(NAMESPACE)


def test_the_structural_check_can_fail(document: dict[str, Any]) -> None:
    broken = copy.deepcopy(document)
    broken["operations"]["receiveCommands"]["messages"].append(
        {"$ref": "#/channels/clientCreated/messages/clientCreated"})
    broken["channels"]["commands"]["bindings"]["amqp"]["is"] = "exchange"
    broken["components"]["messages"]["clientCreated"]["payload"] = {"$ref": "#/nowhere"}
    broken["components"]["schemas"]["Client"]["type"] = "record"
    problems = "\n".join(structural_problems(broken))
    for expected in ("is not of its channel", "`is` must be routingKey or queue",
                     "#/nowhere does not resolve", "schema Client"):
        assert expected in problems


def test_every_event_type_has_a_channel_for_every_client_type(
        document: dict[str, Any]) -> None:
    for event_type in ClientEventType:
        for client_type in ClientType:
            event = ClientEvent(event_type, {"key": "k", "type": client_type.value},
                                "alice", "c1")
            _, message = message_for_routing_key(document, event.routing_key)
            described = document["components"]["messages"][message]
            assert described["bindings"]["amqp"]["messageType"] \
                == cloud_event(event, NAMESPACE)["type"]
            assert described["contentType"] == "application/cloudevents+json"


def test_every_command_kind_has_a_message(document: dict[str, Any]) -> None:
    described = document["channels"]["commands"]["messages"]
    assert set(described) == {command_message_name(kind) for kind in COMMAND_TYPES}
    assert document["operations"]["receiveCommands"]["action"] == "receive"
    assert {o["action"] for name, o in document["operations"].items()
            if name != "receiveCommands"} == {"send"}


def test_names_come_from_the_topology(document: dict[str, Any]) -> None:
    binding = document["channels"]["clientCreated"]["bindings"]["amqp"]
    assert binding["exchange"] == {"name": f"{NAMESPACE}.events", "type": "topic",
                                   "durable": True, "autoDelete": False}
    assert document["channels"]["commands"]["bindings"]["amqp"]["queue"]["name"] \
        == f"{NAMESPACE}.commands"
    assert document["operations"]["sendClientCreated"]["bindings"]["amqp"]["deliveryMode"] == 2


async def test_every_event_the_handlers_emit_validates(document: dict[str, Any]) -> None:
    _, events = await every_command_and_event()
    assert {event.type for event in events} == set(EVENT_TYPES)
    for event in events:
        _, message = message_for_routing_key(document, event.routing_key)
        body = json.loads(encode_event(event, NAMESPACE))
        errors = [e.message for e in payload_validator(document, message).iter_errors(body)]
        assert errors == [], (event.type, errors)


async def test_every_command_validates_and_a_wrong_one_does_not(
        document: dict[str, Any]) -> None:
    commands, _ = await every_command_and_event()
    assert {command.kind for command in commands} == set(COMMAND_TYPES)
    for command in commands:
        validator = payload_validator(document, command_message_name(command.kind))
        body = json.loads(encode_command(command))
        assert [e.message for e in validator.iter_errors(body)] == [], command.kind
        as_other = payload_validator(document, command_message_name(
            "approve_client" if command.kind != "approve_client" else "remove_client"))
        assert not as_other.is_valid(body), command.kind
    create = json.loads(encode_command(commands[0]))
    validator = payload_validator(document, "createClient")
    assert not validator.is_valid({**create, "secret": "plaintext"})
    assert not validator.is_valid({k: v for k, v in create.items() if k != "name"})


@pytest.mark.parametrize("tamper", [
    pytest.param(lambda e: e["data"]["client"].pop("key"), id="no data.client.key"),
    pytest.param(lambda e: e.update(type="clientkeys.client.approved"), id="another type"),
    pytest.param(lambda e: e["data"]["client"].update(secret="s3cret"), id="a secret"),
    pytest.param(lambda e: e["data"].pop("actor"), id="no actor"),
    pytest.param(lambda e: e.update(source="urn:clientkeys:other"), id="another namespace"),
])
async def test_a_tampered_event_fails(document: dict[str, Any], tamper: Any) -> None:
    _, events = await every_command_and_event()
    created = json.loads(encode_event(events[0], NAMESPACE))
    validator = payload_validator(document, "clientCreated")
    assert validator.is_valid(created)
    tamper(created)
    assert not validator.is_valid(created)
