"""Every kind of event the service publishes, read off RabbitMQ by the CloudEvents SDK.

A subscriber is not expected to use our decoder: the events are CloudEvents 1.0 in
structured mode (`application/cloudevents+json`), so the SDK's own RabbitMQ binding
(`cloudevents.core.bindings.rabbitmq`, whose v1 events validate every attribute as the
specification says: a URI-reference `source`, an RFC 3339 `time`, extension names of
lower-case letters and digits) must read each one as it arrived, and find in it what
our own decoder finds.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aio_pika.abc import AbstractIncomingMessage
from cloudevents.core.bindings.rabbitmq import RabbitMQMessage, from_rabbitmq_event
from cloudevents.core.v1.event import CloudEvent

from common.events import EVENT_TYPES, cloud_event_type, decode_event, event_source
from tests.e2e.conftest import Service, oauth1_client, oidc_client
from tests.e2e.registration_helpers import new_token
from tests.harness import event_tap

NEW_SECRET = "the-next-secret-value"


def read_by_sdk(message: AbstractIncomingMessage) -> CloudEvent:
    headers = {str(name): str(value) for name, value in (message.headers or {}).items()}
    return from_rabbitmq_event(RabbitMQMessage(headers=headers,
                                               content_type=message.content_type,
                                               body=message.body))


async def every_kind_of_event(service: Service) -> None:
    """A client through its whole life, a consumer, and an initial access token."""
    key = (await service.create(oidc_client()))["key"]
    for action in ("approve", "disapprove"):
        assert (await service.request("POST", f"/v1/clients/{key}/{action}")).status == 200
    edited = await service.request("PATCH", f"/v1/clients/{key}", json={"name": "Renamed"},
                                   headers={**service.admin, "If-Match": '"3"'})
    assert edited.status == 200, await edited.text()
    rotated = await service.request("POST", f"/v1/clients/{key}/secret/rotate", json={
        "secret": NEW_SECRET, "secret_confirmation": NEW_SECRET, "grace_seconds": 60})
    assert rotated.status == 200
    assert (await service.request("DELETE", f"/v1/clients/{key}")).status in (200, 204)
    await service.create(oauth1_client())
    token = await new_token(service)
    revoked = await service.request("DELETE", f"/v1/registration-tokens/{token['id']}")
    assert revoked.status in (200, 204), await revoked.text()


async def test_the_cloudevents_sdk_reads_every_event_as_published(service: Service) -> None:
    async with event_tap(service.settings) as tap:
        await every_kind_of_event(service)
        await tap.wait_for(9)
    kinds = set()
    for message in tap.messages:
        event = read_by_sdk(message)
        ours = decode_event(message.routing_key or "", message.body)
        kinds.add(event.get_type())
        assert message.content_type == "application/cloudevents+json"
        assert event.get_specversion() == "1.0"
        assert event.get_id() == ours.id == message.message_id
        assert event.get_source() == event_source(service.settings.namespace)
        assert event.get_type() == cloud_event_type(ours.type)
        assert event.get_subject() == ours.subject
        time = event.get_time()
        assert isinstance(time, datetime) and time == ours.time
        assert event.get_datacontenttype() == "application/json"
        data: Any = event.get_data()
        assert data == ours.data()
        assert event.get_extension("requestid") == ours.request_id
        # Nothing secret in what a subscriber reads.
        assert NEW_SECRET.encode() not in message.body
        assert b"consumer-secret-123" not in message.body
    # Every type the AsyncAPI document lists came by, and was read.
    assert kinds == {cloud_event_type(event_type) for event_type in EVENT_TYPES}
