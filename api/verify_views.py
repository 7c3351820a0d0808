"""The credential checks the platform's authorization servers call on every sign-in.

Served from this gateway's read model (`api.read_model`), never from the
database, and slowed down per client key after repeated failures.
"""

from __future__ import annotations

from aiohttp import web

from api import keys
from api.json_body import read_json_object
from api.oauth1_nonces import NonceStoreUnavailable
from api.oauth1_signatures import Consumer, SignedRequest, consumer_key_of
from api.oauth1_signatures import Reason as OAuth1Reason
from api.problems import Problem
from api.verification import Reason
from common.clients import ClientType, Status
from common.json_responses import json_response
from common.schemas import OAuth1VerifyRequest, VerifySecretRequest
from common.store import now

_VERIFY = VerifySecretRequest()
_OAUTH1 = OAuth1VerifyRequest()
# Refusals that prove nothing about who signed: counted towards the key's limit.
_GUESSES = frozenset({OAuth1Reason.BAD_SIGNATURE})


async def _not_held_back(request: web.Request, key: str) -> None:
    wait = await request.app[keys.SECRET_FAILURES].retry_after(key)
    if wait is not None:
        raise Problem(429, "Too many failed secret checks for this client; try again later.",
                      headers={"Retry-After": str(wait)})
    if not request.app[keys.READ_MODEL].loaded.is_set():
        raise Problem(503, "This gateway is still loading clients; try again shortly.",
                      headers={"Retry-After": "1"})


async def verify_client(request: web.Request) -> web.StreamResponse:
    data = _VERIFY.load(await read_json_object(request))
    key = request.match_info["key"]
    await _not_held_back(request, key)
    verdict = request.app[keys.SECRET_CHECKER].check(key, data["secret"], now())
    if verdict.reason is Reason.INVALID_CLIENT:
        await request.app[keys.SECRET_FAILURES].failed(key)
    return json_response(verdict.to_dict())


async def verify_oauth1_request(request: web.Request) -> web.StreamResponse:
    data = _OAUTH1.load(await read_json_object(request))
    headers = {"Authorization": data["authorization"]} if "authorization" in data else {}
    signed = SignedRequest(data["method"], data["url"], headers, data.get("form"))
    key = consumer_key_of(signed) or ""
    await _not_held_back(request, key)
    client = request.app[keys.READ_MODEL].get(key)
    consumer = None
    if client is not None and client.type == ClientType.OAUTH1:
        opened = request.app[keys.SECRET_CHECKER].secrets_of(client, now())
        consumer = Consumer(client.status == Status.APPROVED, opened)
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
        await request.app[keys.SECRET_FAILURES].failed(key)
    shown = consumer is not None and verdict.reason in (OAuth1Reason.OK,
                                                         OAuth1Reason.NOT_APPROVED)
    return json_response({"valid": verdict.valid, "reason": verdict.reason.value,
                          "client_key": key if shown else None,
                          "status": client.status if shown and client else None})
