"""RFC 7591 registration checked by an independent implementation: Authlib.

Authlib has no client-side registration call (its RFC 7591 and 7592 support is the
server's endpoint), so the request goes over plain HTTP, as RFC 7591 section 3.1's
example does; what Authlib adds is its reading of the client metadata, the
`ClientMetadataClaims` its own registration endpoint validates requests with. The
request a client would send must pass it, and so must the metadata this server
answers with; and the client_secret_basic header Authlib makes from the answer
(its ClientAuth) carries the credentials this server then verifies.
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import unquote

from authlib.oauth2.auth import ClientAuth
from authlib.oauth2.rfc7591 import ClientMetadataClaims

from api import keys
from tests.e2e.conftest import Service
from tests.e2e.registration_helpers import new_token, register, rfc7591_client


def _authlib_valid(metadata: dict[str, Any]) -> dict[str, Any]:
    claims = ClientMetadataClaims(
        {k: v for k, v in metadata.items() if k in ClientMetadataClaims.REGISTERED_CLAIMS}, {})
    claims.validate()  # raises on what Authlib's registration endpoint would refuse
    return dict(claims)


async def test_a_registration_authlib_accepts_both_ways(service: Service) -> None:
    request = _authlib_valid(rfc7591_client(
        client_uri="https://client.example.org", tos_uri="https://client.example.org/tos"))
    token = await new_token(service)
    status, answer, headers = await register(service, token["token"], request)
    assert status == 201, answer
    assert headers["Cache-Control"] == "no-store"
    registered = _authlib_valid(answer)
    # What was asked for is what was registered, as Authlib reads both.
    assert {k: registered[k] for k in request} == request

    # The credentials the answer gives, as Authlib sends them at a token endpoint.
    auth = ClientAuth(answer["client_id"], answer["client_secret"],
                      answer["token_endpoint_auth_method"])
    _, sent, _ = auth.prepare("POST", "https://as.example/token", {}, "")
    client_id, _, secret = base64.b64decode(
        sent["Authorization"].removeprefix("Basic ")).decode().partition(":")
    assert unquote(client_id) == answer["client_id"]
    assert (await service.request("POST", f"/v1/clients/{answer['client_id']}/approve")
            ).status == 200
    await service.http.app[keys.READ_MODEL].refresh(answer["client_id"])
    verified = await service.request("POST", f"/v1/clients/{answer['client_id']}/verify",
                                     headers=service.everything,
                                     json={"secret": unquote(secret)})
    assert (await verified.json())["valid"] is True
