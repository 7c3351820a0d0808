"""The credential checks the platform's authorization servers call on every sign-in.

Served from this gateway's read model (`api.read_model`), never from the
database, and slowed down per client key after repeated failures.
"""

from __future__ import annotations

from aiohttp import web

from api import keys
from api.json_body import read_json_object
from api.problems import Problem
from api.responses import json_response
from api.verification import Reason
from common.schemas import VerifySecretRequest
from common.store import now

_VERIFY = VerifySecretRequest()


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
