"""Events: what happened to a client or an initial access token, for the services that
subscribe.

Each event is a CloudEvents 1.0 event in structured JSON mode, published to the
topic exchange `<namespace>.events`: a client's under routing key
`client.<type>.<event>`, an initial access token's under
`registration_token.<created|revoked>`. Both kinds are written into the outbox
of the document they are about in the same write as the change, published by
the workers' outbox relay (worker.relay), encoded by `encode_event` and read
back by `decode_event`: one envelope, one decoder, whose readers compare event
type enums. The envelope is built here rather than with the CloudEvents SDK:
structured JSON mode is a flat object of a few attributes, and a marshmallow
schema keeps it in the same form as the other contracts (and documentable from
them).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields

from common.media_types import JSON_TYPE
from common.topology import event_routing_key, token_event_routing_key

SPEC_VERSION = "1.0"
_CLIENT = "client"
_REGISTRATION_TOKEN = "registration_token"


class ClientEventType(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    APPROVED = "approved"
    DISAPPROVED = "disapproved"
    REMOVED = "removed"
    # A new secret, the replaced one still valid for a while (never a secret in the event).
    SECRET_ROTATED = "secret_rotated"

    @property
    def subject(self) -> str:
        """What the event is about: the middle word of its CloudEvents type."""
        return _CLIENT

    @property
    def short(self) -> str:
        """The last word of its CloudEvents type."""
        return self.value


class RegistrationTokenEventType(StrEnum):
    CREATED = "registration_token_created"
    REVOKED = "registration_token_revoked"

    @property
    def subject(self) -> str:
        return _REGISTRATION_TOKEN

    @property
    def short(self) -> str:
        """`created` or `revoked`: the last word of its routing key and CloudEvents type."""
        return self.value.removeprefix(f"{_REGISTRATION_TOKEN}_")


EventType = ClientEventType | RegistrationTokenEventType
EVENT_TYPES: tuple[EventType, ...] = (*ClientEventType, *RegistrationTokenEventType)


@dataclass(frozen=True)
class ClientEvent:
    """One change to one client. `client` is its public view after the change."""

    type: ClientEventType
    client: dict[str, Any]
    actor: str
    command_id: str
    previous_status: str | None = None
    changed_fields: list[str] | None = None
    # The HTTP request that caused it (X-Request-ID), so a subscriber can correlate.
    request_id: str | None = None
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    time: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def client_key(self) -> str:
        return str(self.client["key"])

    @property
    def subject(self) -> str:
        """The CloudEvents `subject`: the client key."""
        return self.client_key

    @property
    def routing_key(self) -> str:
        return event_routing_key(str(self.client["type"]), self.type)

    def data(self) -> dict[str, Any]:
        data: dict[str, Any] = {"client": self.client, "actor": self.actor,
                                "command_id": self.command_id}
        if self.previous_status is not None:
            data["previous_status"] = self.previous_status
        if self.changed_fields is not None:
            data["changed_fields"] = self.changed_fields
        return data

    def to_document(self) -> dict[str, Any]:
        """The event as kept in its client's outbox until the broker confirmed it."""
        return {"id": self.id, "type": self.type.value, "client": self.client,
                "actor": self.actor, "command_id": self.command_id,
                "previous_status": self.previous_status,
                "changed_fields": self.changed_fields, "request_id": self.request_id,
                "time": self.time}

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> ClientEvent:
        return cls(ClientEventType(doc["type"]), dict(doc["client"]), str(doc["actor"]),
                   str(doc["command_id"]), doc.get("previous_status"),
                   doc.get("changed_fields"), doc.get("request_id"), str(doc["id"]),
                   doc["time"])

    @classmethod
    def from_data(cls, event_type: ClientEventType, data: dict[str, Any],
                  envelope: dict[str, Any]) -> ClientEvent:
        return cls(event_type, data["client"], data["actor"], data["command_id"],
                   data.get("previous_status"), data.get("changed_fields"),
                   envelope.get("requestid"), envelope["id"], envelope["time"])


@dataclass(frozen=True)
class RegistrationTokenEvent:
    """An initial access token made or revoked. `token` is its public record
    (common.registration_tokens.public_token): never the token, never its digest."""

    type: RegistrationTokenEventType
    token: dict[str, Any]
    actor: str
    command_id: str
    request_id: str | None = None
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    time: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def subject(self) -> str:
        """The CloudEvents `subject`: the token's id."""
        return str(self.token["id"])

    @property
    def routing_key(self) -> str:
        return token_event_routing_key(self.type.short)

    def data(self) -> dict[str, Any]:
        return {"token": self.token, "actor": self.actor, "command_id": self.command_id}

    def to_document(self) -> dict[str, Any]:
        """The event as kept in its token's outbox until the broker confirmed it."""
        return {"id": self.id, "type": self.type.value, "token": self.token,
                "actor": self.actor, "command_id": self.command_id,
                "request_id": self.request_id, "time": self.time}

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> RegistrationTokenEvent:
        return cls(RegistrationTokenEventType(doc["type"]), dict(doc["token"]),
                   str(doc["actor"]), str(doc["command_id"]), doc.get("request_id"),
                   str(doc["id"]), doc["time"])

    @classmethod
    def from_data(cls, event_type: RegistrationTokenEventType, data: dict[str, Any],
                  envelope: dict[str, Any]) -> RegistrationTokenEvent:
        return cls(event_type, data["token"], data["actor"], data["command_id"],
                   envelope.get("requestid"), envelope["id"], envelope["time"])


Event = ClientEvent | RegistrationTokenEvent
_TOKEN_TYPES = frozenset(event_type.value for event_type in RegistrationTokenEventType)


def event_from_document(doc: dict[str, Any]) -> Event:
    """An event as kept in an outbox, whichever document's outbox it is."""
    if doc["type"] in _TOKEN_TYPES:
        return RegistrationTokenEvent.from_document(doc)
    return ClientEvent.from_document(doc)


class _EventData(Schema):
    """What the data of every event holds."""

    actor = fields.String(required=True)
    command_id = fields.String(required=True)


class EventDataSchema(_EventData):
    """The data of a client's event."""

    client = fields.Dict(required=True)
    previous_status = fields.String(allow_none=True)
    changed_fields = fields.List(fields.String(), allow_none=True)


class TokenEventDataSchema(_EventData):
    """The data of an initial access token's event."""

    token = fields.Dict(required=True, metadata={
        "description": "The token's record: id, label, created_by, created_at, expires_at, "
                       "max_uses, uses_left, revoked, revoked_at, policy; never the token."})


class CloudEventSchema(Schema):
    """The envelope of every event; `data` is its subject's data schema."""

    specversion = fields.String(required=True)
    id = fields.String(required=True)
    source = fields.String(required=True)
    type = fields.String(required=True)
    subject = fields.String(required=True)
    time = fields.AwareDateTime(required=True)
    datacontenttype = fields.String(required=True)
    # Extension attribute: the X-Request-ID of the HTTP request that caused the event.
    requestid = fields.String(metadata={"description": "The X-Request-ID of the HTTP request "
                                        "that caused the event (a CloudEvents extension)."})
    data = fields.Dict(required=True)


_CLOUD_EVENT = CloudEventSchema()
# Read leniently: an attribute or data field this version does not know (a CloudEvents
# extension, a newer worker's addition) is skipped, not a reason to drop the event.
_READ_CLOUD_EVENT = CloudEventSchema(unknown=EXCLUDE)
_READ_DATA: dict[str, Schema] = {_CLIENT: EventDataSchema(unknown=EXCLUDE),
                                 _REGISTRATION_TOKEN: TokenEventDataSchema(unknown=EXCLUDE)}


def event_source(namespace: str) -> str:
    return f"urn:clientkeys:{namespace}"


def cloud_event_type(event_type: EventType) -> str:
    """The CloudEvents `type` of an event of `event_type`."""
    return f"clientkeys.{event_type.subject}.{event_type.short}"


def cloud_event(event: Event, namespace: str) -> dict[str, Any]:
    attributes: dict[str, Any] = {} if event.request_id is None else {
        "requestid": event.request_id}
    envelope: dict[str, Any] = _CLOUD_EVENT.dump({
        **attributes,
        "specversion": SPEC_VERSION,
        "id": event.id,
        "source": event_source(namespace),
        "type": cloud_event_type(event.type),
        "subject": event.subject,
        "time": event.time,
        "datacontenttype": JSON_TYPE,
        "data": event.data(),
    })
    return envelope


def encode_event(event: Event, namespace: str) -> bytes:
    return json.dumps(cloud_event(event, namespace), separators=(",", ":")).encode()


class UndecodableEvent(ValueError):
    """A message on the events exchange that is not an event of this service."""


# Each event type by its CloudEvents `type`.
_EVENT_TYPES = {cloud_event_type(event_type): event_type for event_type in EVENT_TYPES}


def _decoded(event_type: EventType, data: dict[str, Any], envelope: dict[str, Any]) -> Event:
    if isinstance(event_type, RegistrationTokenEventType):
        if not isinstance(data["token"].get("id"), str):
            raise KeyError("id")
        return RegistrationTokenEvent.from_data(event_type, data, envelope)
    client = data["client"]
    if not isinstance(client.get("key"), str) or not isinstance(client.get("type"), str):
        raise KeyError("key")
    return ClientEvent.from_data(event_type, data, envelope)


def decode_event(routing_key: str, body: bytes) -> Event:
    """The event `encode_event` made of `body`, published under `routing_key`.

    Every reader (the gateway's read model and live stream, the events tail) reads
    events through this one function and compares event type enums. An event whose
    routing key is not its own is refused: a subscriber binds by routing key, so it
    would otherwise get an event it did not ask for.
    """
    unreadable = UndecodableEvent(f"not an event of this service (routing key "
                                  f"{routing_key!r})")
    try:
        envelope = _READ_CLOUD_EVENT.load(json.loads(body))
        event_type = _EVENT_TYPES[envelope["type"]]
        data = _READ_DATA[event_type.subject].load(envelope["data"])
        event = _decoded(event_type, data, envelope)
    except (ValueError, RecursionError, ValidationError, KeyError):
        raise unreadable from None
    if event.routing_key != routing_key:
        raise UndecodableEvent(f"an event of {event.routing_key!r} under the routing key "
                               f"{routing_key!r}")
    return event
