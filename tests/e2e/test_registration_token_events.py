"""Making and revoking an initial access token are commands the workers apply, announced
by `registration_token_created` and `registration_token_revoked` from the token's outbox
through the relay every event takes, never with the token."""

from __future__ import annotations

import json

from api.docs.asyncapi import build_document
from common.events import RegistrationTokenEvent, RegistrationTokenEventType, decode_event
from common.topology import TOKEN_EVENTS
from tests.asyncapi_contract import message_for_routing_key, payload_validator
from tests.e2e.conftest import Service
from tests.e2e.registration_helpers import new_token
from tests.harness import event_tap


async def test_a_token_made_and_revoked_gives_two_events(service: Service) -> None:
    async with event_tap(service.settings, TOKEN_EVENTS) as tap:
        token = await new_token(service, max_uses=2, client_types=["oidc"])
        revoked = await service.request("DELETE", f"/v1/registration-tokens/{token['id']}")
        assert revoked.status == 204
        again = await service.request("DELETE", f"/v1/registration-tokens/{token['id']}")
        assert again.status == 204  # revoked before: no second event
        await tap.wait_for(2)
    events = [decode_event(m.routing_key or "", m.body) for m in tap.messages]
    assert [(e.type, e.routing_key) for e in events] == [
        (RegistrationTokenEventType.CREATED, "registration_token.created"),
        (RegistrationTokenEventType.REVOKED, "registration_token.revoked")]
    created, gone = events
    assert isinstance(created, RegistrationTokenEvent) and isinstance(gone, RegistrationTokenEvent)
    # Each was written by the command that made the change (the operation of its request).
    assert created.command_id != gone.command_id
    assert created.token["id"] == gone.token["id"] == token["id"]
    assert created.actor == "alice" and created.token["policy"]["client_types"] == ["oidc"]
    assert (created.token["revoked"], gone.token["revoked"]) == (False, True)
    assert all(token["token"] not in m.body.decode() for m in tap.messages)
    assert all(json.loads(m.body)["subject"] == token["id"] for m in tap.messages)
    assert [m.message_id for m in tap.messages] == [e.id for e in events]
    # Each fits its message in the AsyncAPI document.
    document = build_document(service.settings.namespace)
    for message in tap.messages:
        _, name = message_for_routing_key(document, message.routing_key or "")
        body = json.loads(message.body)
        errors = [e.message for e in payload_validator(document, name).iter_errors(body)]
        assert errors == [], (name, errors)
        assert message.content_type == document["components"]["messages"][name]["contentType"]
