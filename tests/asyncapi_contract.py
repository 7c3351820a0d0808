"""Checking messages and the AsyncAPI document itself, for the contract tests.

The AsyncAPI Initiative's own parser (npm) reads the whole document in
`tests/unit/test_asyncapi_parser.py`; no package on PyPI ships it or the official
AsyncAPI 3.0 JSON Schema, so the document is also checked here, from Python, for
what that schema and the specification require of the parts it uses: the
fixed fields, references that resolve, operations whose messages belong to
their channel, channel parameters that appear in their
address, AMQP bindings of the form the AMQP bindings 0.3.0 define, and payload
schemas that are valid JSON Schema (draft 07, which the AsyncAPI schema format
extends). A message is checked with `jsonschema` against its payload schema,
with the `$ref`s resolved inside the document.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from jsonschema import Draft7Validator
from referencing import Registry
from referencing.jsonschema import DRAFT7

DOCUMENT_URI = "urn:clientkeys:asyncapi"
_COMPONENT_KEY = re.compile(r"^[\w\d.\-_]+$")
_PARAMETER = re.compile(r"\{([^}]+)\}")
_AMQP_EXCHANGE_TYPES = {"topic", "direct", "fanout", "default", "headers"}
_AMQP_CHANNEL = {"is", "exchange", "queue", "bindingVersion"}
_AMQP_OPERATION = {"expiration", "userId", "cc", "priority", "deliveryMode", "mandatory", "bcc",
                   "replyTo", "timestamp", "ack", "bindingVersion"}
_AMQP_MESSAGE = {"contentEncoding", "messageType", "bindingVersion"}


def resolve(document: dict[str, Any], ref: str) -> Any:
    """The object a local `$ref` (`#/a/b`) points at; KeyError if there is none."""
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _amqp_problems(where: str, binding: dict[str, Any], allowed: set[str]) -> list[str]:
    problems = [f"{where}: unknown AMQP binding field {key!r}" for key in binding
                if key not in allowed and not key.startswith("x-")]
    if not isinstance(binding.get("bindingVersion"), str):
        problems.append(f"{where}: no bindingVersion")
    return problems


def _channel_binding_problems(name: str, binding: dict[str, Any]) -> list[str]:
    where = f"channel {name}"
    problems = _amqp_problems(where, binding, _AMQP_CHANNEL)
    kind = binding.get("is", "routingKey")
    if kind == "routingKey":
        exchange = binding.get("exchange")
        if not isinstance(exchange, dict) or "queue" in binding:
            problems.append(f"{where}: a routingKey binding names an exchange and no queue")
        elif exchange.get("type") not in _AMQP_EXCHANGE_TYPES or not exchange.get("name"):
            problems.append(f"{where}: exchange needs a name and a known type")
    elif kind == "queue":
        queue = binding.get("queue")
        if not isinstance(queue, dict) or not queue.get("name") or "exchange" in binding:
            problems.append(f"{where}: a queue binding names a queue and no exchange")
    else:
        problems.append(f"{where}: `is` must be routingKey or queue, not {kind!r}")
    return problems


def structural_problems(document: dict[str, Any]) -> list[str]:
    """What breaks the AsyncAPI 3.0 rules this document relies on; empty if nothing."""
    problems: list[str] = []
    if document.get("asyncapi") != "3.0.0":
        problems.append("asyncapi must be 3.0.0")
    info = document.get("info", {})
    if not (isinstance(info.get("title"), str) and isinstance(info.get("version"), str)):
        problems.append("info needs a title and a version")
    for ref in _refs(document):
        try:
            resolve(document, ref)
        except (KeyError, TypeError, AssertionError):
            problems.append(f"$ref {ref} does not resolve")
    for section, entries in document.get("components", {}).items():
        problems += [f"components.{section}: bad key {key!r}" for key in entries
                     if not _COMPONENT_KEY.match(key)]
    for name, channel in document.get("channels", {}).items():
        in_address = set(_PARAMETER.findall(channel.get("address") or ""))
        if in_address != set(channel.get("parameters", {})):
            problems.append(f"channel {name}: parameters {sorted(channel.get('parameters', {}))}"
                            f" do not match its address {channel.get('address')!r}")
        for parameter in channel.get("parameters", {}).values():
            if set(parameter) - {"enum", "default", "description", "examples", "location"}:
                problems.append(f"channel {name}: a 3.0 parameter has no schema, only enum, "
                                "default, description, examples, location")
        if "amqp" in channel.get("bindings", {}):
            problems += _channel_binding_problems(name, channel["bindings"]["amqp"])
    for name, operation in document.get("operations", {}).items():
        if operation.get("action") not in ("send", "receive"):
            problems.append(f"operation {name}: action must be send or receive")
        channel_ref = operation.get("channel", {}).get("$ref", "")
        if not channel_ref.startswith("#/channels/"):
            problems.append(f"operation {name}: channel must be a $ref to #/channels/")
            continue
        for message in operation.get("messages", []):
            if not message.get("$ref", "").startswith(channel_ref + "/messages/"):
                problems.append(f"operation {name}: message {message} is not of its channel")
        if "amqp" in operation.get("bindings", {}):
            binding = operation["bindings"]["amqp"]
            problems += _amqp_problems(f"operation {name}", binding, _AMQP_OPERATION)
            if binding.get("deliveryMode", 2) not in (1, 2):
                problems.append(f"operation {name}: deliveryMode must be 1 or 2")
    for name, message in document.get("components", {}).get("messages", {}).items():
        if "payload" not in message:
            problems.append(f"message {name}: no payload")
        if "amqp" in message.get("bindings", {}):
            problems += _amqp_problems(f"message {name}", message["bindings"]["amqp"],
                                       _AMQP_MESSAGE)
    for name, schema in document.get("components", {}).get("schemas", {}).items():
        try:
            Draft7Validator.check_schema(schema)
        except Exception as exc:  # jsonschema.SchemaError, with the reason
            problems.append(f"schema {name}: {exc}")
    return problems


def payload_validator(document: dict[str, Any], message_name: str, part: str = "payload"
                      ) -> Draft7Validator:
    """A validator of the payload (or the `headers`) of `components.messages[message_name]`."""
    registry: Registry[Any] = Registry().with_resource(DOCUMENT_URI,
                                                       DRAFT7.create_resource(document))
    return Draft7Validator(
        {"$ref": f"{DOCUMENT_URI}#/components/messages/{message_name}/{part}"},
        registry=registry)


def channel_addresses(document: dict[str, Any], channel: dict[str, Any]) -> list[str]:
    """Every address of a channel, its parameters replaced by each of their values."""
    addresses = [channel["address"]]
    for name, parameter in channel.get("parameters", {}).items():
        addresses = [address.replace(f"{{{name}}}", value)
                     for address in addresses for value in parameter["enum"]]
    return addresses


def message_for_routing_key(document: dict[str, Any], routing_key: str) -> tuple[str, str]:
    """(channel name, message name) of the one channel whose address is `routing_key`."""
    found = [(name, channel) for name, channel in document["channels"].items()
             if routing_key in channel_addresses(document, channel)]
    assert len(found) == 1, f"{routing_key}: channels {[name for name, _ in found]}"
    name, channel = found[0]
    (message_ref,) = channel["messages"].values()
    return name, str(message_ref["$ref"]).rsplit("/", 1)[1]
