"""Self-registration's secrets and tokens show up nowhere but the one answer that makes them.

An initial access token is made (and at the end revoked: both announced), a client
registers with it (a generated secret and a registration access token), reads itself,
replaces its metadata (a new registration access token), removes itself, and an OAuth
1.0a consumer asks for a key with a recognisable secret. None of them is in any log
record, any message on any exchange, any byte of any stored document (which keep only
digests of the tokens), or any answer but the one that made it — looked for in the forms
of test_secrets_stay_secret.
"""

from __future__ import annotations

from typing import Any

import pytest

from api import keys
from common.topology import Topology
from tests.e2e.conftest import Service
from tests.e2e.registration_helpers import new_token, rfc7591_client, with_token
from tests.e2e.test_secrets_stay_secret import (
    debug_logs,
    encodings,
    log_texts,
    raw_documents,
    wait_for_events,
)
from tests.harness import wire_tap

__all__ = ["debug_logs"]  # the fixture, used by name below

CONSUMER_SECRET = "CANARY-consumer-1c9e7b20"
# created (client), updated (its own PUT), removed, created (consumer), and the token's
# registration_token_created and registration_token_revoked
EVENTS_EXPECTED = 6


async def test_registration_secrets_and_tokens_show_up_nowhere(
        debug_logs: pytest.LogCaptureFixture, service: Service) -> None:
    topology = Topology(service.settings.namespace)
    db = service.http.app[keys.DB]
    responses: list[bytes] = []

    async def call(method: str, path: str, token: str | None, body: Any = None) -> Any:
        response = await service.http.request(method, path, json=body,
                                              headers=with_token(token))
        raw = await response.read()
        responses.append(raw + repr(sorted(response.headers.items())).encode())
        assert response.status < 300, raw
        return await response.json() if response.status != 204 else None

    address = service.http.app[keys.REPLY_ADDRESS]
    async with wire_tap(service.settings, reply_addresses=[address]) as tap:
        made = await new_token(service)
        responses.append(repr(made).encode())
        initial = made["token"]
        client = await call("POST", "/oauth/register", initial, rfc7591_client())
        uri = f"/oauth/register/{client['client_id']}"
        first_access, client_secret = client["registration_access_token"], \
            client["client_secret"]
        await call("GET", uri, first_access)
        replaced = await call("PUT", uri, first_access, {
            "client_id": client["client_id"], "client_name": "Renamed",
            "redirect_uris": client["redirect_uris"]})
        second_access = replaced["registration_access_token"]
        consumer = await call("POST", "/oauth1/consumer-key-requests", initial,
                              {"name": "Jazz tool", "secret": CONSUMER_SECRET})
        listed = await service.request("GET", "/v1/registration-tokens")
        responses.append(await listed.read())
        audit = await service.request("GET", "/v1/audit")
        responses.append(await audit.read())
        stored = await raw_documents(db)
        await call("DELETE", uri, second_access)
        revoked = await service.request("DELETE", f"/v1/registration-tokens/{made['id']}")
        assert revoked.status == 204
        await wait_for_events(tap, topology.events_exchange, EVENTS_EXPECTED)
        stored += await raw_documents(db)
    logs = log_texts(debug_logs)

    assert consumer["status"] == "pending"
    assert sum(m.exchange == topology.events_exchange for m in tap.messages) \
        == EVENTS_EXPECTED
    assert stored and logs
    wire = tap.raw()
    # Where each is shown: the answer that made it, once (the consumer's secret never).
    shown_in = {initial: 0, client_secret: 1, first_access: 1, second_access: 3}
    for secret in (initial, client_secret, first_access, second_access, CONSUMER_SECRET):
        for needle in encodings(secret):
            assert not any(needle in text for text in logs), (secret, needle)
            assert not any(needle in message for message in wire), (secret, needle)
            assert not any(needle in document for document in stored), (secret, needle)
            showing = [i for i, body in enumerate(responses) if needle in body]
            assert showing == ([shown_in[secret]] if secret in shown_in
                               and needle == secret.encode() else []), (secret, needle)
