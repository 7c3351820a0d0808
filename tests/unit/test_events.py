"""Events on the broker (common.events): every reader decodes what the worker encodes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from common.clients import ClientType
from common.events import (
    ClientEvent,
    ClientEventType,
    RegistrationTokenEvent,
    RegistrationTokenEventType,
    UndecodableEvent,
    decode_event,
    encode_event,
    event_from_document,
)

VIEW = {"key": "ck-1", "type": "oauth2", "status": "approved", "version": 3}


def _event(event_type: ClientEventType, **extra: Any) -> ClientEvent:
    return ClientEvent(event_type, {**VIEW}, "alice", "op-1", request_id="req-1", **extra)


@pytest.mark.parametrize("event_type", list(ClientEventType))
def test_every_event_type_round_trips(event_type: ClientEventType) -> None:
    event = _event(event_type, previous_status="pending", changed_fields=["name"])
    decoded = decode_event(event.routing_key, encode_event(event, "ns"))
    assert decoded == event
    assert decoded.type is event_type


def test_optional_attributes_left_out_decode_as_none() -> None:
    event = ClientEvent(ClientEventType.CREATED, {"key": "k", "type": ClientType.OIDC.value},
                        "alice", "op-1")
    decoded = decode_event(event.routing_key, encode_event(event, "ns"))
    assert isinstance(decoded, ClientEvent)
    assert (decoded.previous_status, decoded.changed_fields, decoded.request_id) == (
        None, None, None)


def test_attributes_this_version_does_not_know_are_skipped() -> None:
    event = _event(ClientEventType.APPROVED)
    body = json.loads(encode_event(event, "ns"))
    body["traceparent"] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    body["data"]["reason"] = "a field a newer worker adds"
    assert decode_event(event.routing_key, json.dumps(body).encode()) == event


def _tampered(change: Any) -> bytes:
    body = json.loads(encode_event(_event(ClientEventType.APPROVED), "ns"))
    change(body)
    return json.dumps(body).encode()


@pytest.mark.parametrize("body", [
    pytest.param(b"", id="empty"),
    pytest.param(b"not json", id="text"),
    pytest.param(b"\xff\xfe", id="not-utf8"),
    pytest.param(b"[" * 100_000, id="deeply-nested"),
    pytest.param(b"[]", id="list"),
    pytest.param(b'{"type": "clientkeys.client.approved"}', id="only-a-type"),
    pytest.param(_tampered(lambda b: b.update(type="clientkeys.client.deleted")),
                 id="unknown-type"),
    pytest.param(_tampered(lambda b: b.update(type="approved")), id="type-without-prefix"),
    pytest.param(_tampered(lambda b: b["data"]["client"].pop("key")), id="client-without-key"),
    pytest.param(_tampered(lambda b: b["data"]["client"].update(type=7)),
                 id="client-type-not-a-string"),
    pytest.param(_tampered(lambda b: b["data"].pop("actor")), id="no-actor"),
    pytest.param(_tampered(lambda b: b.update(time="yesterday")), id="time-not-a-time"),
])
def test_what_is_not_a_client_event_is_refused(body: bytes) -> None:
    with pytest.raises(UndecodableEvent):
        decode_event("client.oauth2.approved", body)


@pytest.mark.parametrize("routing_key", ["client.oauth2.removed", "client.oidc.approved", "#",
                                         ""])
def test_an_event_under_a_routing_key_not_its_own_is_refused(routing_key: str) -> None:
    event = _event(ClientEventType.APPROVED)
    with pytest.raises(UndecodableEvent) as info:
        decode_event(routing_key, encode_event(event, "ns"))
    assert "client.oauth2.approved" in str(info.value)


TOKEN = {"id": "0123abcd4567", "label": "partner", "revoked": False}


@pytest.mark.parametrize("event_type", list(RegistrationTokenEventType))
def test_a_token_event_goes_through_the_same_envelope_and_decoder(
        event_type: RegistrationTokenEventType) -> None:
    event = RegistrationTokenEvent(event_type, {**TOKEN}, "alice", "op-2", request_id="r-2")
    body = encode_event(event, "ns")
    envelope = json.loads(body)
    assert (envelope["type"], envelope["subject"]) == (
        f"clientkeys.registration_token.{event_type.short}", TOKEN["id"])
    assert envelope["data"] == {"token": TOKEN, "actor": "alice", "command_id": "op-2"}
    assert event.routing_key == f"registration_token.{event_type.short}"
    assert decode_event(event.routing_key, body) == event
    # Kept in a token's outbox, it comes back as what it was.
    assert event_from_document(event.to_document()) == event
    # Under a client event's routing key, or without the token's id, it is not taken.
    with pytest.raises(UndecodableEvent):
        decode_event("client.oidc.created", body)
    del envelope["data"]["token"]["id"]
    with pytest.raises(UndecodableEvent):
        decode_event(event.routing_key, json.dumps(envelope).encode())


def test_a_client_event_with_token_data_is_refused() -> None:
    body = json.loads(encode_event(_event(ClientEventType.APPROVED), "ns"))
    body["data"] = {"token": TOKEN, "actor": "alice", "command_id": "op-1"}
    with pytest.raises(UndecodableEvent):
        decode_event("client.oauth2.approved", json.dumps(body).encode())
