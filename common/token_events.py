"""Events about initial access tokens: `registration_token_created` and
`registration_token_revoked`.

They travel like client events (common.events): CloudEvents 1.0 in structured JSON
mode on the topic exchange `<namespace>.events`, from an outbox written in the
same write as the change (common.registration_tokens), published by the workers
(worker.token_relay), at least once with the event `id` as AMQP `message_id`.
Their routing keys are `registration_token.created|revoked`
(`common.topology.token_event_routing_key`), so a subscriber bound `client.#`
never sees them. `data.token` is the token's public record: never the token,
never its hash. Every reader decodes them with `decode_token_event`, comparing
`RegistrationTokenEventType`s, over the envelope schema of client events.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields

from common.events import SPEC_VERSION, CloudEventSchema, UndecodableEvent, event_source
from common.media_types import JSON_TYPE
from common.topology import token_event_routing_key


class RegistrationTokenEventType(StrEnum):
    CREATED = "registration_token_created"
    REVOKED = "registration_token_revoked"

    @property
    def short(self) -> str:
        """`created` or `revoked`: the last word of its routing key and CloudEvents type."""
        return self.value.removeprefix("registration_token_")


@dataclass(frozen=True)
class RegistrationTokenEvent:
    type: RegistrationTokenEventType
    token: dict[str, Any]  # the public record (common.registration_tokens.public_token)
    actor: str
    request_id: str | None = None
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    time: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def routing_key(self) -> str:
        return token_event_routing_key(self.type.short)

    def to_document(self) -> dict[str, Any]:
        """The event as kept in its token's outbox until the broker confirmed it."""
        return {"id": self.id, "type": self.type.value, "token": self.token,
                "actor": self.actor, "request_id": self.request_id, "time": self.time}

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> RegistrationTokenEvent:
        return cls(RegistrationTokenEventType(doc["type"]), dict(doc["token"]),
                   str(doc["actor"]), doc.get("request_id"), str(doc["id"]), doc["time"])


class TokenEventDataSchema(Schema):
    token = fields.Dict(required=True, metadata={
        "description": "The token's record: id, label, created_by, created_at, expires_at, "
                       "max_uses, uses_left, revoked, revoked_at, policy; never the token."})
    actor = fields.String(required=True)


# The envelope of client events, with a token's data.
TokenCloudEventSchema = CloudEventSchema.from_dict(
    {"data": fields.Nested(TokenEventDataSchema, required=True)}, name="TokenCloudEvent")
_CLOUD_EVENT = TokenCloudEventSchema()
_READ = TokenCloudEventSchema.from_dict(
    {"data": fields.Nested(TokenEventDataSchema(unknown=EXCLUDE), required=True)},
    name="ReadTokenCloudEvent")(unknown=EXCLUDE)


def token_cloud_event_type(event_type: RegistrationTokenEventType) -> str:
    return f"clientkeys.registration_token.{event_type.short}"


_TYPES = {token_cloud_event_type(event_type): event_type
          for event_type in RegistrationTokenEventType}


def encode_token_event(event: RegistrationTokenEvent, namespace: str) -> bytes:
    attributes: dict[str, Any] = {} if event.request_id is None else {
        "requestid": event.request_id}
    envelope = _CLOUD_EVENT.dump({
        **attributes, "specversion": SPEC_VERSION, "id": event.id,
        "source": event_source(namespace), "type": token_cloud_event_type(event.type),
        "subject": str(event.token["id"]), "time": event.time, "datacontenttype": JSON_TYPE,
        "data": {"token": event.token, "actor": event.actor}})
    return json.dumps(envelope, separators=(",", ":")).encode()


def decode_token_event(routing_key: str, body: bytes) -> RegistrationTokenEvent:
    """The event `encode_token_event` made of `body`, published under `routing_key`."""
    try:
        envelope = _READ.load(json.loads(body))
    except (ValueError, RecursionError, ValidationError):
        raise UndecodableEvent(f"not a token event (routing key {routing_key!r})") from None
    event_type = _TYPES.get(envelope["type"])
    token = envelope["data"]["token"]
    if event_type is None or not isinstance(token.get("id"), str):
        raise UndecodableEvent(f"not a token event (routing key {routing_key!r})")
    event = RegistrationTokenEvent(event_type, token, envelope["data"]["actor"],
                                   envelope.get("requestid"), envelope["id"], envelope["time"])
    if event.routing_key != routing_key:
        raise UndecodableEvent(f"an event of {event.routing_key!r} under the routing key "
                               f"{routing_key!r}")
    return event
