"""The AsyncAPI 3.0 document of the messages other services see: events and commands
(and, for operators, the outcome replies workers send the gateways).

It is generated from what the code uses, so it cannot drift from it: one
channel, message and `send` operation per event type of `common.events`, a client's and
an initial access token's alike (address from
`common.topology`'s routing key, CloudEvents `type` from `common.events`), one
message per command kind of `common.commands` on the commands channel (a
`receive` operation), the outcome reply of `common.outcome_replies` on the replies
channel, exchange and queue names from `common.topology`, and
payload schemas converted from the marshmallow schemas the code dumps and loads
(apispec's converter, as for the OpenAPI document).

Names of exchanges and queues carry the namespace (`CLIENTKEYS_NAMESPACE`,
default `clientkeys`); the document is built for one namespace, the one of the
process that serves it, so every name in it is the real one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from typing import Any, cast

import aio_pika
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec.ext.marshmallow.openapi import OpenAPIConverter
from marshmallow import fields

from common.client_view import ClientSchema
from common.clients import ClientType
from common.command_mac import (
    EVENT_SCHEME,
    KEY_ID_HEADER,
    MAC_HEADER,
    REPLY_SCHEME,
    SCHEME,
    SCHEME_HEADER,
)
from common.commands import COMMAND_SCHEMAS, COMMAND_TYPES, SealedSecretField
from common.events import (
    EVENT_TYPES,
    SPEC_VERSION,
    ClientEventType,
    CloudEventSchema,
    EventDataSchema,
    EventType,
    RegistrationTokenEventType,
    TokenEventDataSchema,
    cloud_event_type,
    event_source,
)
from common.keyring import BOUND_FORMAT, SealedSecret
from common.media_types import EVENT_CONTENT_TYPE, JSON_TYPE
from common.outcome_replies import STORED
from common.outcomes import ErrorCode, OperationStatus
from common.registration_tokens import RegistrationTokenSchema
from common.topology import (
    ALL_EVENTS,
    COMMAND_DELIVERY_LIMIT,
    TOKEN_EVENTS,
    Topology,
    event_routing_key,
    token_event_routing_key,
)

ASYNCAPI_VERSION = "3.0.0"
AMQP_BINDING_VERSION = "0.3.0"
DEFAULT_NAMESPACE = "clientkeys"
# JSON Schema as apispec writes it for OpenAPI 3.1: nullable fields as `type: [T, "null"]`,
# which the AsyncAPI schema format (a superset of JSON Schema draft 07) reads as it is.
_CONVERTER_OPENAPI_VERSION = "3.1.0"
_SCHEMAS = "#/components/schemas/"
_CLIENT_TYPE = "clientType"

# Event types missing here are documented all the same, with a generic summary.
_EVENT_SUMMARIES: dict[EventType, str] = {
    ClientEventType.CREATED: "A client was registered (status `pending`).",
    ClientEventType.UPDATED: "A client's fields were edited; `changed_fields` names them.",
    ClientEventType.APPROVED: "A client was approved; `previous_status` says from what.",
    ClientEventType.DISAPPROVED: "A client was disapproved; `previous_status` says from what.",
    ClientEventType.REMOVED: "A client was removed; `client` is its view as it was removed.",
    ClientEventType.SECRET_ROTATED: "A client's secret was replaced; the replaced one stays "
                                    "valid until its `previous_secrets[].expires_at`.",
    RegistrationTokenEventType.CREATED: "An administrator made an initial access token.",
    RegistrationTokenEventType.REVOKED: "An administrator revoked an initial access token.",
}


# The schemas of common.events, with `data` as what the worker puts there: the public
# view of the client, or the record of the initial access token.
_EventData = EventDataSchema.from_dict({"client": fields.Nested(ClientSchema, required=True)},
                                       name="ClientEventData")
_ClientEvent = CloudEventSchema.from_dict({"data": fields.Nested(_EventData, required=True)},
                                          name="ClientEvent")
_TokenEventData = TokenEventDataSchema.from_dict(
    {"token": fields.Nested(RegistrationTokenSchema, required=True)},
    name="RegistrationTokenEventData")
_TokenEvent = CloudEventSchema.from_dict(
    {"data": fields.Nested(_TokenEventData, required=True)}, name="RegistrationTokenEvent")


def _sealed_secret(converter: OpenAPIConverter, field: fields.Field[Any],
                   **kwargs: Any) -> dict[str, Any]:
    if not isinstance(field, SealedSecretField):
        return {}
    reference = {"$ref": _SCHEMAS + "SealedSecret"}
    return {"anyOf": [reference, {"type": "null"}]} if field.allow_none else reference


def _sealed_secret_schema() -> dict[str, Any]:
    legacy = SealedSecret("kid", b"", b"", bound=False).to_wire()
    marker = set(SealedSecret("kid", b"", b"").to_wire()) - set(legacy)
    return {"type": "object", "required": sorted(legacy),
            "properties": {**{name: {"type": "string", "minLength": 1} for name in legacy},
                           **{name: {"type": "integer", "const": BOUND_FORMAT}
                              for name in marker}},
            "additionalProperties": False,
            "description": "A secret sealed with AES-256-GCM under the keyring key `kid` "
                           "(nonce and ciphertext in base64url): the broker never carries "
                           "a secret in the clear. With `v` 2 it is sealed for its command "
                           "only (associated data: the command's kind and id), and the "
                           "worker seals it again for the client it stores it in; without "
                           "`v`, by a gateway from before that binding."}


def _component_schemas() -> dict[str, Any]:
    """The marshmallow schemas of the messages, converted to JSON Schema by apispec."""
    plugin = MarshmallowPlugin()
    spec = APISpec(title="clientkeys", version="0", openapi_version=_CONVERTER_OPENAPI_VERSION,
                   plugins=[plugin])
    cast(Any, plugin.converter).add_attribute_function(_sealed_secret)
    spec.components.schema("Client", schema=ClientSchema)
    spec.components.schema("ClientEventData", schema=_EventData)
    spec.components.schema("ClientEvent", schema=_ClientEvent)
    spec.components.schema("SealedSecret", _sealed_secret_schema())
    spec.components.schema("RegistrationTokenEvent", schema=_TokenEvent)
    for kind, schema in COMMAND_SCHEMAS.items():  # each command type's own wire form
        spec.components.schema(_schema_name(command_message_name(kind)), schema=schema)
    schemas: dict[str, Any] = spec.to_dict()["components"]["schemas"]
    return schemas


def _camel(*words: str) -> str:
    parts = [part for word in words for part in word.split("_")]
    return parts[0] + "".join(part.capitalize() for part in parts[1:])


def event_message_name(event_type: EventType) -> str:
    """`clientCreated`, `clientSecretRotated`, `registrationTokenCreated`: the message,
    channel and schema name."""
    return _camel(event_type.subject, event_type.short)


def command_message_name(kind: str) -> str:
    return _camel(kind)


def _schema_name(message_name: str) -> str:
    return message_name[0].upper() + message_name[1:]


@dataclass(frozen=True)
class _Subject:
    """How the events about one kind of thing are documented."""

    schema: str  # the payload's base schema
    description: str  # of each of its messages
    parameters: dict[str, Any]  # of its channels' addresses

    def address(self, event_type: EventType) -> str:
        if isinstance(event_type, ClientEventType):  # the client type is the parameter
            return event_routing_key(f"{{{_CLIENT_TYPE}}}", event_type)
        return token_event_routing_key(event_type.short)

    def bind_hint(self, event_type: EventType) -> str:
        if isinstance(event_type, ClientEventType):
            return f"`client.*.{event_type}` or `{ALL_EVENTS}`"
        return f"`{token_event_routing_key(event_type.short)}` or `{TOKEN_EVENTS}`"


_SUBJECTS = {
    ClientEventType.CREATED.subject: _Subject(
        "ClientEvent",
        "A CloudEvents 1.0 event in structured JSON mode; `subject` is the client key, "
        "`data.client` its public view after the change (never a secret). The AMQP "
        "`message_id` is the event `id`: a redelivered event has the same one.",
        {_CLIENT_TYPE: {"enum": [client_type.value for client_type in ClientType],
                        "description": "The type of the client the event is about."}}),
    RegistrationTokenEventType.CREATED.subject: _Subject(
        "RegistrationTokenEvent",
        "A CloudEvents 1.0 event in structured JSON mode; `subject` is the token's id, "
        "`data.token` its record (never the token, never its hash). The AMQP `message_id` "
        "is the event `id`: a redelivered event has the same one.", {}),
}


def _events(topology: Topology, channels: dict[str, Any], operations: dict[str, Any],
            messages: dict[str, Any], schemas: dict[str, Any]) -> None:
    events = topology.exchange(topology.events_exchange)
    exchange = {"name": events.name, "type": events.kind, "durable": True,
                "autoDelete": False}
    schemas["EventMacHeaders"] = _event_mac_headers()
    for event_type in EVENT_TYPES:
        subject = _SUBJECTS[event_type.subject]
        name = event_message_name(event_type)
        schemas[_schema_name(name)] = {
            "allOf": [{"$ref": _SCHEMAS + subject.schema}],
            "properties": {"specversion": {"const": SPEC_VERSION},
                           "type": {"const": cloud_event_type(event_type)},
                           "source": {"const": event_source(topology.namespace)},
                           "datacontenttype": {"const": JSON_TYPE}},
        }
        title = f"{event_type.subject} {event_type.short}".replace("_", " ")
        messages[name] = {
            "name": name,
            "title": title.capitalize(),
            "summary": _EVENT_SUMMARIES.get(event_type, f"A `{event_type}` event."),
            "description": subject.description,
            "contentType": EVENT_CONTENT_TYPE,
            "headers": {"$ref": _SCHEMAS + "EventMacHeaders"},
            "payload": {"$ref": _SCHEMAS + _schema_name(name)},
            "bindings": {"amqp": {"messageType": cloud_event_type(event_type),
                                  "bindingVersion": AMQP_BINDING_VERSION}},
        }
        channels[name] = {
            "address": subject.address(event_type),
            "title": f"Routing key of `{event_type}` events",
            "description": f"Routing key on the topic exchange `{topology.events_exchange}`; "
                           f"bind e.g. {subject.bind_hint(event_type)}.",
            **({"parameters": subject.parameters} if subject.parameters else {}),
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
            "bindings": {"amqp": {"is": "routingKey", "exchange": exchange,
                                  "bindingVersion": AMQP_BINDING_VERSION}},
        }
        operations[f"send{_schema_name(name)}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{name}"},
            "summary": f"Workers publish a `{event_type}` event once the change is stored.",
            "messages": [{"$ref": f"#/channels/{name}/messages/{name}"}],
            "bindings": {"amqp": {"deliveryMode": int(aio_pika.DeliveryMode.PERSISTENT),
                                  "mandatory": False,
                                  "bindingVersion": AMQP_BINDING_VERSION}},
        }


def _command_summary(command_type: type[Any], kind: str) -> str:
    doc = command_type.__doc__ or ""
    # A dataclass without a docstring gets its signature as one.
    if not doc or doc.startswith(command_type.__name__ + "("):
        return f"The `{kind}` command."
    return doc.strip().splitlines()[0]


def _mac_headers(scheme: str, description: str) -> dict[str, Any]:
    """The AMQP headers that authenticate a message of the kind `scheme` names
    (common.command_mac)."""
    return {
        "type": "object",
        "description": description + " HMAC-SHA256, under the command key derived from the "
                       "keyring entry named by the key id, of the scheme, the key id, the "
                       "message id, the address and the body, each prefixed by its length "
                       "as 8 bytes big-endian.",
        "required": [MAC_HEADER, KEY_ID_HEADER, SCHEME_HEADER],
        "properties": {
            MAC_HEADER: {"type": "string", "pattern": "^[A-Za-z0-9_-]{43}$",
                         "description": "The MAC, 32 bytes in unpadded base64url."},
            KEY_ID_HEADER: {"type": "string", "minLength": 1,
                            "description": "The keyring entry whose command key made it: "
                                           "the current one when it was signed."},
            SCHEME_HEADER: {"const": scheme, "description": "What was signed, and how."},
        },
    }


def _command_mac_headers() -> dict[str, Any]:
    return _mac_headers(SCHEME, (
        "A worker applies a command only if these verify; otherwise it is dead-lettered "
        "unread and counted by `clientkeys_worker_commands_rejected_total`. The message id "
        "is `message_id`, the address `reply_to`."))


def _event_mac_headers() -> dict[str, Any]:
    return _mac_headers(EVENT_SCHEME, (
        "Made by the worker that published the event. The service's gateways apply an "
        "event to their clients only if these verify (otherwise it is dropped and counted "
        "by `clientkeys_gateway_messages_rejected_total{kind=\"event\"}`); other "
        "subscribers, which hold no key, may ignore them. The message id signed is empty "
        "(the event's `id` is in its body), the address is the routing key."))


def _reply_mac_headers() -> dict[str, Any]:
    return _mac_headers(REPLY_SCHEME, (
        "Made by the worker that applied the command. The gateway that waits for the "
        "outcome uses it only if these verify (otherwise it is dropped and counted by "
        "`clientkeys_gateway_messages_rejected_total{kind=\"reply\"}`). The message id "
        "signed is empty (the operation's id is in the body), and so is the address."))


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def _outcome_reply_schema() -> dict[str, Any]:
    """`common.outcome_replies.OutcomeReply.encode`, as JSON Schema."""
    sealed = {"$ref": _SCHEMAS + "SealedSecret"}
    error = {"type": "object", "required": ["code", "message"], "properties": {
        "code": {"enum": [code.value for code in ErrorCode]},
        "message": {"type": "string"},
        "fields": {"type": "object", "additionalProperties": {
            "type": "array", "items": {"type": "string"}}}}}
    stored = {
        "type": "object", "required": ["_id", "secret", "previous_secrets"],
        "additionalProperties": False,
        "description": "Sent only by a command that wrote the client's secrets (a create, a "
                       "rotation, an edit that set a secret, the end of a grace): the "
                       "document's `_id` and its secrets as stored, sealed for the client "
                       "and slot they are stored in (not for a command), so that the "
                       "gateway holds the client without reading it back. Never a secret "
                       "in the clear.",
        "properties": {
            "_id": {"type": "string", "pattern": "^[0-9a-f]{24}$",
                    "description": "The client document's ObjectId, in hex."},
            "secret": _nullable(sealed),
            "previous_secrets": {"type": "array", "items": {
                "type": "object", "required": ["secret", "expires_at"],
                "additionalProperties": False,
                "properties": {"secret": sealed,
                               "expires_at": {"type": "string", "format": "date-time"}}}},
        }}
    return {
        "type": "object",
        "required": ["operation_id", "kind", "status", "client_key", "client", "error",
                     "warnings", "token"],
        "additionalProperties": False,
        "properties": {
            "operation_id": {"type": "string", "minLength": 1,
                             "description": "The command's `id`, also the message's "
                                            "`correlation_id`."},
            "kind": {"enum": list(COMMAND_TYPES)},
            "status": {"enum": [status.value for status in OperationStatus
                                if status is not OperationStatus.PENDING]},
            "client_key": {"type": ["string", "null"]},
            "client": _nullable({"$ref": _SCHEMAS + "Client"}),
            "error": _nullable(error),
            "warnings": {"type": "array", "items": {"type": "string"}},
            "token": {"type": ["object", "null"],
                      "description": "The initial access token's record (a token command)."},
            STORED: stored,
        },
    }


def _replies(topology: Topology, channels: dict[str, Any], operations: dict[str, Any],
             messages: dict[str, Any], schemas: dict[str, Any]) -> None:
    name = "outcomeReply"
    replies = topology.exchange(topology.replies_exchange)
    schemas["ReplyMacHeaders"] = _reply_mac_headers()
    schemas["OutcomeReply"] = _outcome_reply_schema()
    messages[name] = {
        "name": name,
        "title": "Outcome reply",
        "summary": "How a command ended, for the gateway that sent it.",
        "contentType": JSON_TYPE,
        "headers": {"$ref": _SCHEMAS + "ReplyMacHeaders"},
        "payload": {"$ref": _SCHEMAS + "OutcomeReply"},
    }
    channels["outcomeReplies"] = {
        "address": None,  # the command's `reply_to`: one per gateway
        "title": "Outcome replies",
        "description": f"Published by a worker to the direct exchange "
                       f"`{topology.replies_exchange}` with the command's `reply_to` as "
                       f"routing key: the name of the sending gateway's own exclusive queue "
                       f"(`{topology.reply_queue('<gateway id>')}`), bound under it. Sent "
                       "once the outcome is stored in the operation, which stays the record: "
                       "a reply lost or refused only makes the gateway answer 202. Internal "
                       "to clientkeys: documented for operators.",
        "messages": {name: {"$ref": f"#/components/messages/{name}"}},
        "bindings": {"amqp": {
            "is": "routingKey",
            "exchange": {"name": replies.name, "type": replies.kind, "durable": True,
                         "autoDelete": False},
            "bindingVersion": AMQP_BINDING_VERSION}},
    }
    operations["sendOutcomeReply"] = {
        "action": "send",
        "channel": {"$ref": "#/channels/outcomeReplies"},
        "summary": "Workers answer the gateway that sent a command with its outcome.",
        "messages": [{"$ref": f"#/channels/outcomeReplies/messages/{name}"}],
    }


def _commands(topology: Topology, channels: dict[str, Any], operations: dict[str, Any],
              messages: dict[str, Any], schemas: dict[str, Any]) -> None:
    names = []
    schemas["CommandMacHeaders"] = _command_mac_headers()
    for kind, command_type in COMMAND_TYPES.items():
        name = command_message_name(kind)
        names.append(name)
        messages[name] = {
            "name": name,
            "title": kind.replace("_", " ").capitalize(),
            "summary": _command_summary(command_type, kind),
            "contentType": JSON_TYPE,
            "headers": {"$ref": _SCHEMAS + "CommandMacHeaders"},
            "payload": {"$ref": _SCHEMAS + _schema_name(name)},
            "bindings": {"amqp": {"messageType": kind, "bindingVersion": AMQP_BINDING_VERSION}},
        }
    queue = topology.queue(topology.commands_queue)
    (route,) = (binding for binding in topology.bindings if binding.queue == queue.name)
    channels["commands"] = {
        "address": route.routing_key,
        "title": "Commands",
        "description": f"Published by the gateway to the direct exchange "
                       f"`{route.exchange}` with this routing key, which routes "
                       f"them to the quorum queue `{queue.name}`; workers "
                       "compete on it. `message_id` and `correlation_id` are the command "
                       f"`id`; the outcome goes to `reply_to` through `{topology.replies_exchange}`"
                       f". Every command carries a MAC in its headers (`{MAC_HEADER}`, "
                       f"`{KEY_ID_HEADER}`, `{SCHEME_HEADER}`) made by the gateway; one "
                       "without a valid MAC is dead-lettered unread. "
                       f"After {COMMAND_DELIVERY_LIMIT} failed deliveries a command is "
                       f"dead-lettered to `{topology.dead_letter_queue}`. Internal to "
                       "clientkeys: documented for operators, not for other services to "
                       "publish to (only the gateways' broker user may).",
        "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in names},
        "bindings": {"amqp": {
            "is": "queue",
            "queue": {"name": queue.name, "durable": queue.durable,
                      "exclusive": queue.exclusive, "autoDelete": queue.exclusive},
            "x-queue-arguments": dict(queue.arguments),
            "bindingVersion": AMQP_BINDING_VERSION}},
    }
    operations["receiveCommands"] = {
        "action": "receive",
        "channel": {"$ref": "#/channels/commands"},
        "summary": "Workers apply each command and ack it once its outcome is stored.",
        "messages": [{"$ref": f"#/channels/commands/messages/{name}"} for name in names],
        "bindings": {"amqp": {"ack": True, "bindingVersion": AMQP_BINDING_VERSION}},
    }


def _version() -> str:
    try:
        return version("clientkeys")
    except PackageNotFoundError:
        return "0.0.0"


def build_document(namespace: str = DEFAULT_NAMESPACE) -> dict[str, Any]:
    """The AsyncAPI 3.0 document for the exchanges and queues of `namespace`."""
    topology = Topology(namespace)
    schemas = _component_schemas()
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    _events(topology, channels, operations, messages, schemas)
    _commands(topology, channels, operations, messages, schemas)
    _replies(topology, channels, operations, messages, schemas)
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "clientkeys events and commands",
            "version": _version(),
            "description": (
                f"What clientkeys publishes on RabbitMQ (AMQP 0-9-1), for namespace "
                f"`{namespace}`: every name below starts with the namespace "
                f"(`CLIENTKEYS_NAMESPACE`, default `{DEFAULT_NAMESPACE}`). Subscribe to the "
                f"topic exchange `{topology.events_exchange}` with a queue of your own "
                f"(`{topology.subscriber_queue('<your service>')}`, the prefix a subscriber's "
                "broker user may declare and read) bound to routing keys "
                "`client.<type>.<event>` (and `registration_token.<event>` for initial "
                "access tokens). Delivery is at least once: a "
                "duplicate has the same `id` (= AMQP `message_id`); the events of one "
                "client are published in the order they happened."),
        },
        "defaultContentType": JSON_TYPE,
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages},
    }


@cache
def document_body(namespace: str) -> bytes:
    """The document as served: built once per namespace."""
    return json.dumps(build_document(namespace)).encode()
