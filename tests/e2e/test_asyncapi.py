"""The running gateway serves its AsyncAPI document, and what the workers publish fits it."""

from __future__ import annotations

import copy
import json
from typing import Any

import aio_pika

from api.docs.asyncapi import build_document
from tests.asyncapi_contract import message_for_routing_key, payload_validator
from tests.e2e.conftest import Service, oauth1_client, oidc_client
from tests.harness import event_tap


async def served_document(service: Service) -> dict[str, Any]:
    response = await service.http.get("/asyncapi.json")  # no token: a public document
    assert response.status == 200
    assert response.content_type == "application/json"
    document: dict[str, Any] = await response.json()
    return document


async def test_the_document_is_public_and_names_the_service_namespace(
        service: Service) -> None:
    document = await served_document(service)
    assert document == build_document(service.settings.namespace)
    exchange = document["channels"]["clientApproved"]["bindings"]["amqp"]["exchange"]
    assert exchange["name"] == f"{service.settings.namespace}.events"


async def test_every_published_event_validates_against_its_message(service: Service) -> None:
    document = await served_document(service)
    async with event_tap(service.settings) as tap:
        oidc = await service.create(oidc_client())
        oauth1 = await service.create(oauth1_client())
        key = oidc["key"]
        for method, path, body in (
                ("PATCH", f"/v1/clients/{key}", {"name": "Renamed"}),
                ("POST", f"/v1/clients/{key}/approve", None),
                ("POST", f"/v1/clients/{key}/disapprove", None),
                ("DELETE", f"/v1/clients/{key}", None),
                ("POST", f"/v1/clients/{oauth1['key']}/approve", None)):
            response = await service.request(method, path, json=body)
            assert response.status in (200, 204), await response.text()
        await tap.wait_for(7)
    seen = set()
    for message in tap.messages:
        channel, name = message_for_routing_key(document, message.routing_key or "")
        described = document["components"]["messages"][name]
        body = json.loads(message.body)
        errors = [e.message for e in payload_validator(document, name).iter_errors(body)]
        assert errors == [], (message.routing_key, errors)
        assert message.content_type == described["contentType"]
        assert message.message_id == body["id"]
        assert message.exchange == \
            document["channels"][channel]["bindings"]["amqp"]["exchange"]["name"]
        operation = document["operations"][f"send{name[0].upper()}{name[1:]}"]
        assert message.delivery_mode == aio_pika.DeliveryMode(
            operation["bindings"]["amqp"]["deliveryMode"])
        seen.add(name)
    assert seen == {"clientCreated", "clientUpdated", "clientApproved", "clientDisapproved",
                    "clientRemoved"}

    approved = next(json.loads(m.body) for m in tap.messages
                    if m.routing_key == "client.oauth1.approved")
    validator = payload_validator(document, "clientApproved")
    without_key = copy.deepcopy(approved)
    del without_key["data"]["client"]["key"]
    assert not validator.is_valid(without_key)
    assert not validator.is_valid({**approved, "type": "clientkeys.client.created"})
    assert not payload_validator(document, "clientCreated").is_valid(approved)
