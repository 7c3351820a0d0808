"""The AsyncAPI part of initial access tokens' events (common.token_events): one
channel, message and `send` operation per `RegistrationTokenEventType`, from the
same routing-key function and CloudEvents types the workers publish with."""

from __future__ import annotations

from typing import Any

import aio_pika
from marshmallow import fields

from api.docs.registration_schemas import RegistrationTokenSchema
from common.events import SPEC_VERSION, event_source
from common.media_types import EVENT_CONTENT_TYPE, JSON_TYPE
from common.token_events import (
    RegistrationTokenEventType,
    TokenCloudEventSchema,
    TokenEventDataSchema,
    token_cloud_event_type,
)
from common.topology import TOKEN_EVENTS, Topology, token_event_routing_key

SCHEMA_NAME = "RegistrationTokenEvent"
_SUMMARIES = {
    RegistrationTokenEventType.CREATED: "An administrator made an initial access token.",
    RegistrationTokenEventType.REVOKED: "An administrator revoked an initial access token.",
}
# What the payload holds: `data.token` is the token's record, never the token.
_Data = TokenEventDataSchema.from_dict(
    {"token": fields.Nested(RegistrationTokenSchema, required=True)},
    name="RegistrationTokenEventData")
TOKEN_EVENT_SCHEMA = TokenCloudEventSchema.from_dict(
    {"data": fields.Nested(_Data, required=True)}, name="RegistrationTokenEvent")


def message_name(event_type: RegistrationTokenEventType) -> str:
    """`registrationTokenCreated`: the message, channel and schema name."""
    first, *rest = event_type.value.split("_")
    return first + "".join(word.capitalize() for word in rest)


def token_events(topology: Topology, channels: dict[str, Any], operations: dict[str, Any],
                 messages: dict[str, Any], schemas: dict[str, Any], *,
                 binding_version: str) -> None:
    events = topology.exchange(topology.events_exchange)
    exchange = {"name": events.name, "type": events.kind, "durable": True,
                "autoDelete": False}
    for event_type in RegistrationTokenEventType:
        name = message_name(event_type)
        schema = name[0].upper() + name[1:]
        schemas[schema] = {
            "allOf": [{"$ref": f"#/components/schemas/{SCHEMA_NAME}"}],
            "properties": {"specversion": {"const": SPEC_VERSION},
                           "type": {"const": token_cloud_event_type(event_type)},
                           "source": {"const": event_source(topology.namespace)},
                           "datacontenttype": {"const": JSON_TYPE}},
        }
        messages[name] = {
            "name": name, "title": event_type.value.replace("_", " ").capitalize(),
            "summary": _SUMMARIES[event_type],
            "description": "A CloudEvents 1.0 event in structured JSON mode; `subject` is "
                           "the token's id, `data.token` its record (never the token, "
                           "never its hash). The AMQP `message_id` is the event `id`.",
            "contentType": EVENT_CONTENT_TYPE,
            "payload": {"$ref": f"#/components/schemas/{schema}"},
            "bindings": {"amqp": {"messageType": token_cloud_event_type(event_type),
                                  "bindingVersion": binding_version}},
        }
        channels[name] = {
            "address": token_event_routing_key(event_type.short),
            "title": f"Routing key of `{event_type}` events",
            "description": f"Routing key on the topic exchange `{topology.events_exchange}`; "
                           f"bind it, or `{TOKEN_EVENTS}`.",
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
            "bindings": {"amqp": {"is": "routingKey", "exchange": exchange,
                                  "bindingVersion": binding_version}},
        }
        operations[f"send{schema}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{name}"},
            "summary": f"Workers publish a `{event_type}` event from the token's outbox.",
            "messages": [{"$ref": f"#/channels/{name}/messages/{name}"}],
            "bindings": {"amqp": {"deliveryMode": int(aio_pika.DeliveryMode.PERSISTENT),
                                  "mandatory": False, "bindingVersion": binding_version}},
        }
