"""The credential checks the platform's authorization servers call on every sign-in.

Served from this gateway's read model (`api.verify.read_model`), never from the
database, and slowed down after repeated failures per client key *and source*:
the address of whoever presented the credential to the authorization server
(`remote_addr` in the body), else the caller's own address. Keyed on the client
key alone, anyone could shut out a client's right secret by failing on purpose.
A coarser ceiling per client key bounds a guesser spread over many sources, but
it holds back only sources that have failed for that key themselves: the right
secret from a source that has not failed is always checked. `remote_addr` is taken
on the word of the caller, which holds `clients:verify`: an authorization server.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from api import keys
from api.docs.request_schemas import (
    ClientAuthenticationRequest,
    OAuth1VerifyRequest,
    VerifySecretRequest,
)
from api.docs.route_docs import ID_MAX
from api.problems import Problem
from api.remote import caller_address, limiter_source
from api.verify.assertion_replay import ReplayStoreUnavailable
from api.verify.client_authentication import AuthenticationReason, presented_by
from api.verify.oauth1_nonces import NonceStoreUnavailable
from api.verify.oauth1_signatures import Consumer, SignedRequest, consumer_key_of
from api.verify.oauth1_signatures import Reason as OAuth1Reason
from api.verify.presented_credentials import PresentedMethod
from api.verify.profile import client_profile
from api.verify.secret import Reason
from api.views.json_body import read_json_object
from api.views.preconditions import etag_headers
from common.clients import ClientType, Status
from common.json_responses import json_response
from common.store import now

_VERIFY = VerifySecretRequest()
_AUTHENTICATE = ClientAuthenticationRequest()
_OAUTH1 = OAuth1VerifyRequest()
# Refusals that prove nothing about who signed: counted towards the key's limit.
_GUESSES = frozenset({OAuth1Reason.BAD_SIGNATURE})
# Refusals of a client authentication that count towards the client's limit: of a secret,
# the wrong one; of an assertion, every one but those that say nothing wrong was
# presented (the client not approved, its keys out of reach).
_SECRET_GUESSES = frozenset({AuthenticationReason.INVALID_CLIENT})
_ASSERTION_GUESSES = frozenset(AuthenticationReason) - {
    AuthenticationReason.OK, AuthenticationReason.NOT_APPROVED,
    AuthenticationReason.SECRET_EXPIRED, AuthenticationReason.JWKS_UNAVAILABLE}


def _source_key(request: web.Request, data: dict[str, Any], key: str) -> str:
    """The limiter's key for this client and this source (the source first: keys are cut)."""
    given = data.get("remote_addr")
    source = str(given) if given is not None else caller_address(request)
    return f"{limiter_source(source)} {key}"


async def _not_held_back(request: web.Request, key: str, pair: str) -> None:
    by_source = request.app[keys.SECRET_FAILURES]
    wait = await by_source.retry_after(pair)
    if wait is None and by_source.has_failed(pair):
        wait = await request.app[keys.CLIENT_SECRET_FAILURES].retry_after(key)
    if wait is not None:
        raise Problem(429, "Too many failed secret checks for this client from this source; "
                      "try again later.", headers={"Retry-After": str(wait)})
    _loaded(request)


def _loaded(request: web.Request) -> None:
    """Credential checks and profiles are answered from memory alone: not before it is."""
    if not request.app[keys.READ_MODEL].loaded.is_set():
        raise Problem(503, "This gateway is still loading clients; try again shortly.",
                      headers={"Retry-After": "1"})


async def _failed(request: web.Request, key: str, pair: str) -> None:
    await request.app[keys.SECRET_FAILURES].failed(pair)
    await request.app[keys.CLIENT_SECRET_FAILURES].failed(key)


async def verify_client(request: web.Request) -> web.StreamResponse:
    data = _VERIFY.load(await read_json_object(request))
    key = request.match_info["key"]
    pair = _source_key(request, data, key)
    await _not_held_back(request, key, pair)
    at = now()
    verdict = request.app[keys.SECRET_CHECKER].check(key, data["secret"], at)
    if verdict.reason is Reason.INVALID_CLIENT:
        await _failed(request, key, pair)
    elif verdict.valid and verdict.client is not None and verdict.matched is not None:
        request.app[keys.SECRET_USAGE].note(verdict.client, verdict.matched, at)
    return json_response(verdict.to_dict())


async def verify_oauth1_request(request: web.Request) -> web.StreamResponse:
    data = _OAUTH1.load(await read_json_object(request))
    headers = {"Authorization": data["authorization"]} if "authorization" in data else {}
    signed = SignedRequest(data["method"], data["url"], headers, data.get("form"))
    key = consumer_key_of(signed) or ""
    pair = _source_key(request, data, key)
    await _not_held_back(request, key, pair)
    client = request.app[keys.READ_MODEL].get(key)
    consumer = None
    at = now()
    places: tuple[int, ...] = ()
    if client is not None and client.type == ClientType.OAUTH1:
        opened = request.app[keys.SECRET_CHECKER].secrets_of(client, at)
        places = tuple(place for _secret, place in opened)
        consumer = Consumer(client.status == Status.APPROVED,
                            tuple(secret for secret, _place in opened))
    try:
        verdict = request.app[keys.OAUTH1_VERIFIER].verify(
            signed, lambda asked: consumer if asked == key else None, data.get("token_secret"))
    except NonceStoreUnavailable as exc:
        # A good signature whose nonce cannot be recorded can be neither accepted
        # (it could be a replay) nor refused (it may be fresh): the caller retries.
        raise Problem(503, "This gateway cannot record the request's nonce now (too many "
                      "recent requests); nothing was decided, try again after Retry-After.",
                      headers={"Retry-After": str(exc.retry_after_s)}) from None
    if verdict.reason in _GUESSES:
        await _failed(request, key, pair)
    elif verdict.valid and client is not None and verdict.matched is not None:
        request.app[keys.SECRET_USAGE].note(client, places[verdict.matched], at)
    shown = consumer is not None and verdict.reason in (OAuth1Reason.OK,
                                                         OAuth1Reason.NOT_APPROVED)
    return json_response({"valid": verdict.valid, "reason": verdict.reason.value,
                          "client_key": key if shown else None,
                          "status": client.status if shown and client else None})


async def client_profile_view(request: web.Request) -> web.StreamResponse:
    key = request.match_info["key"]
    _loaded(request)
    entry = request.app[keys.READ_MODEL].get(key) if len(key) <= ID_MAX else None
    if entry is None:
        raise Problem(404, f"There is no client with key {key[:100]!r}.")
    profile = client_profile(entry, now())
    return json_response(profile, headers=etag_headers(profile))


async def authenticate_client(request: web.Request) -> web.StreamResponse:
    data = _AUTHENTICATE.load(await read_json_object(request))
    presented = presented_by(data.get("authorization"), data.get("form", {}))
    # Failures are held back per the client the request names (none: one shared key).
    key = "" if presented is None else presented.client_id
    pair = _source_key(request, data, key)
    await _not_held_back(request, key, pair)
    at = now()
    if presented is not None and presented.method is PresentedMethod.PRIVATE_KEY_JWT:
        try:
            verdict = await request.app[keys.ASSERTION_CHECKER].authenticate(
                presented, data["audiences"], at)
        except ReplayStoreUnavailable:
            raise Problem(503, "This gateway cannot record the assertion's jti now; nothing "
                          "was decided, try again shortly.", headers={"Retry-After": "1"}) \
                from None
        guesses = _ASSERTION_GUESSES
    else:
        verdict = request.app[keys.CLIENT_AUTHENTICATOR].authenticate(presented, at)
        guesses = _SECRET_GUESSES
    if verdict.reason in guesses:
        await _failed(request, key, pair)
    elif verdict.valid and verdict.used is not None:
        request.app[keys.SECRET_USAGE].note(*verdict.used, at)
    return json_response(verdict.to_dict())
