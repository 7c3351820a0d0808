"""Events no worker signed, published straight to the broker, change no gateway's clients.

A gateway's read model believes what an event says of a client's status at once, and
its credential checks believe the read model. So whoever can publish to the events
exchange (a broker user with write on it) sends an event that a pending client was
approved: with no MAC, a guessed one, one under a key retired from the keyring, a
worker's genuine MAC over another event, and a gateway's genuine command MAC over
this very body. The gateway refuses each before reading it, counts it by reason, and
the client stays pending to every read and check; the same event signed as a worker
signs it is applied, so the gateway was listening all along.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from api import keys
from api.app import create_app
from api.auth.principals import CLIENTS_VERIFY, CONFIGURE_SERVER
from common.client_view import public_client
from common.command_mac import sign_command, sign_event
from common.events import ClientEvent, ClientEventType, encode_event
from common.keyring import Keyring, new_key_entry
from common.settings import Settings
from common.store import CLIENTS
from common.topology import Topology
from tests.e2e.conftest import AiohttpClient
from tests.faults.conftest import wait_until
from tests.harness import add_token, bearer, publish_straight, running_workers


async def publish_event_raw(settings: Settings, routing_key: str, body: bytes,
                            headers: Mapping[str, str]) -> None:
    """What an attacker with write permission on the events exchange can do."""
    await publish_straight(settings, Topology(settings.namespace).events_exchange,
                           routing_key, body, "forged", dict(headers))


def approval(stored: dict[str, Any], namespace: str) -> tuple[str, bytes]:
    """The routing key and body of an event saying `stored` was approved, one version on."""
    view = public_client({**stored, "status": "approved", "version": stored["version"] + 1})
    event = ClientEvent(ClientEventType.APPROVED, view, "mallory", "forged-approve")
    return event.routing_key, encode_event(event, namespace)


async def status_seen(http: TestClient[Any, Any], key: str, token: str) -> str:
    answer = await http.get(f"/v1/clients/{key}", headers=bearer(token))
    assert answer.status == 200, await answer.text()
    return str((await answer.json())["status"])


@pytest.mark.timeout(120)
async def test_forged_events_change_no_client_and_are_counted(
        settings: Settings, aiohttp_client: AiohttpClient, topology_cleanup: None) -> None:
    admin = add_token(settings, "alice", CONFIGURE_SERVER, CLIENTS_VERIFY)
    http = await aiohttp_client(create_app(settings))
    db = http.app[keys.DB]
    async with running_workers(settings, 1):
        created = await http.post("/v1/clients", headers=bearer(admin), json={
            "type": "oauth2", "name": "Target", "generate_secret": True,
            "redirect_uris": ["https://app.example.com/cb"],
            "grant_types": ["authorization_code"], "response_types": ["code"]})
        assert created.status == 201, await created.text()
        key, secret = (await created.json())["key"], (await created.json())["secret"]
        stored = await db[CLIENTS].find_one({"key": key})
        assert stored is not None
        routing_key, body = approval(stored, settings.namespace)
        other_key, other_body = approval({**stored, "name": "Another"}, settings.namespace)
        gateway_keys = settings.keyring()
        guessed = Keyring.parse(new_key_entry(gateway_keys.current_key_id))
        retired = Keyring.parse(new_key_entry("retired"))
        forgeries = [
            ("missing", {}),
            ("bad_mac", sign_event(guessed, routing_key, body)),
            ("unknown_key", sign_event(retired, routing_key, body)),
            ("bad_mac", sign_event(gateway_keys, other_key, other_body)),  # over another body
            ("bad_mac", sign_command(gateway_keys, body, message_id="forged", reply_to=None)),
        ]
        registry = http.app[keys.METRICS].registry

        def count(reason: str) -> float:
            return registry.get_sample_value("clientkeys_gateway_messages_rejected_total",
                                             {"kind": "event", "reason": reason}) or 0.0

        async def counted(wanted: dict[str, float]) -> bool:
            return {r: count(r) for r in wanted} == wanted

        expected = {"missing": 0.0, "unknown_key": 0.0, "bad_mac": 0.0}
        for position, (reason, headers) in enumerate(forgeries, start=1):
            await publish_event_raw(settings, routing_key, body, headers)
            expected[reason] += 1

            await wait_until(functools.partial(counted, dict(expected)), 20,
                             f"forgery {position} ({reason}) refused")
            assert await status_seen(http, key, admin) == "pending", f"forgery {position}"
            checked = await http.post(f"/v1/clients/{key}/verify", headers=bearer(admin),
                                      json={"secret": secret})
            assert (await checked.json())["reason"] == "not_approved", f"forgery {position}"

        # The same event as a worker signs it is applied: the gateway was listening.
        await publish_event_raw(settings, routing_key, body,
                                sign_event(gateway_keys, routing_key, body))

        async def applied() -> bool:
            return await status_seen(http, key, admin) == "approved"

        await wait_until(applied, 20, "the genuine event to be applied")
