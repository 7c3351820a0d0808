"""Events: what happened to a client, for the services that subscribe.

Each event is a CloudEvents 1.0 event in structured JSON mode, published to the
topic exchange `<namespace>.events` with routing key `client.<type>.<event>`.
The envelope is built here rather than with the CloudEvents SDK: structured
JSON mode is a flat object of a few attributes, and a marshmallow schema keeps
it in the same form as the other contracts (and documentable from them).
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
from common.topology import event_routing_key

SPEC_VERSION = "1.0"


class ClientEventType(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    APPROVED = "approved"
    DISAPPROVED = "disapproved"
    REMOVED = "removed"
    # A new secret, the replaced one still valid for a while (never a secret in the event).
    SECRET_ROTATED = "secret_rotated"


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
    def routing_key(self) -> str:
        return event_routing_key(str(self.client["type"]), self.type)

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


class EventDataSchema(Schema):
    client = fields.Dict(required=True)
    actor = fields.String(required=True)
    command_id = fields.String(required=True)
    previous_status = fields.String(allow_none=True)
    changed_fields = fields.List(fields.String(), allow_none=True)


class CloudEventSchema(Schema):
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
    data = fields.Nested(EventDataSchema, required=True)


_CLOUD_EVENT = CloudEventSchema()
# Read leniently: an attribute or data field this version does not know (a CloudEvents
# extension, a newer worker's addition) is skipped, not a reason to drop the event.
_READ_CLOUD_EVENT = CloudEventSchema.from_dict(
    {"data": fields.Nested(EventDataSchema(unknown=EXCLUDE), required=True)},
    name="ReadCloudEvent")(unknown=EXCLUDE)


def event_source(namespace: str) -> str:
    return f"urn:clientkeys:{namespace}"


def cloud_event_type(event_type: ClientEventType) -> str:
    """The CloudEvents `type` of an event of `event_type`."""
    return f"clientkeys.client.{event_type.value}"


def cloud_event(event: ClientEvent, namespace: str) -> dict[str, Any]:
    data: dict[str, Any] = {
        "client": event.client,
        "actor": event.actor,
        "command_id": event.command_id,
    }
    if event.previous_status is not None:
        data["previous_status"] = event.previous_status
    if event.changed_fields is not None:
        data["changed_fields"] = event.changed_fields
    attributes: dict[str, Any] = {} if event.request_id is None else {
        "requestid": event.request_id}
    envelope: dict[str, Any] = _CLOUD_EVENT.dump({
        **attributes,
        "specversion": SPEC_VERSION,
        "id": event.id,
        "source": event_source(namespace),
        "type": cloud_event_type(event.type),
        "subject": event.client_key,
        "time": event.time,
        "datacontenttype": JSON_TYPE,
        "data": data,
    })
    return envelope


def encode_event(event: ClientEvent, namespace: str) -> bytes:
    return json.dumps(cloud_event(event, namespace), separators=(",", ":")).encode()


class UndecodableEvent(ValueError):
    """A message on the events exchange that is not a client event of this service."""


# Each event type by its CloudEvents `type`.
_EVENT_TYPES = {cloud_event_type(event_type): event_type for event_type in ClientEventType}


def decode_event(routing_key: str, body: bytes) -> ClientEvent:
    """The event `encode_event` made of `body`, published under `routing_key`.

    Every reader (the gateway's read model and live stream, the events tail) reads
    events through this one function and compares `ClientEventType`s. An event whose
    routing key is not its own is refused: a subscriber binds by routing key, so it
    would otherwise get an event it did not ask for.
    """
    try:
        envelope = _READ_CLOUD_EVENT.load(json.loads(body))
    except (ValueError, RecursionError, ValidationError):
        raise UndecodableEvent(f"not a client event (routing key {routing_key!r})") from None
    event_type = _EVENT_TYPES.get(envelope["type"])
    data = envelope["data"]
    client = data["client"]
    if (event_type is None or not isinstance(client.get("key"), str)
            or not isinstance(client.get("type"), str)):
        raise UndecodableEvent(f"not a client event (routing key {routing_key!r})")
    event = ClientEvent(event_type, client, data["actor"], data["command_id"],
                        data.get("previous_status"), data.get("changed_fields"),
                        envelope.get("requestid"), envelope["id"], envelope["time"])
    if event.routing_key != routing_key:
        raise UndecodableEvent(f"an event of {event.routing_key!r} under the routing key "
                               f"{routing_key!r}")
    return event
