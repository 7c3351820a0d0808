"""Idempotency-Key on POST (IETF httpapi draft, as Stripe does it).

The same key with the same request replays the first response; the same key
with a different request is 422; a retry while the first is still running is
409. Keys are per caller and kept 24 hours (TTL index). The request is
remembered by a keyed fingerprint and the response body is stored sealed, since
it may hold a generated secret, bound to its record (so it is replayed for that
key and caller only). `clientkeys keys rotate` re-seals the stored
bodies, but a fingerprint cannot be recomputed without its request: once its key
is retired from the keyring, a reused key is answered 422 rather than replayed
(so keep an old key 24 hours after a rotation). A 5xx answer is not remembered,
so the caller can retry it.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from aiohttp import hdrs, web
from cryptography.exceptions import InvalidTag
from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from api import keys
from api.json_body import read_body
from api.problems import Problem, answer_for
from common.keyring import KeyringError, SealedSecret, SecretKeyring, idempotent_response_aad
from common.store import IDEMPOTENCY_KEYS, Document, now

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
# Longer than any request can take (sync wait ≤ 60 s plus the publish timeout):
# after it, a request that died mid-way no longer blocks its retries.
LEASE = timedelta(seconds=120)
_KEY = re.compile(r'^"?([\x21\x23-\x7e]{1,255})"?$')
_KEPT_HEADERS = (hdrs.LOCATION, hdrs.ETAG, hdrs.RETRY_AFTER)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _key(request: web.Request) -> str | None:
    raw = request.headers.get(HEADER)
    if raw is None:
        return None
    match = _KEY.fullmatch(raw.strip())
    if match is None:
        raise Problem(400, f"{HEADER} must be 1-255 visible ASCII characters.")
    return match.group(1)


async def _fingerprint(request: web.Request, keyring: SecretKeyring,
                       key_id: str | None = None) -> tuple[str, str]:
    body = await read_body(request)  # bounded in time, like every read of a body
    return keyring.fingerprint(
        b"\0".join((request.method.encode(), request.path.encode(), body)), key_id)


def _replay(record: Document, keyring: SecretKeyring) -> web.Response:
    stored = record["response"]
    try:
        body = keyring.open(SealedSecret.from_document(stored["body"]),
                            idempotent_response_aad(record["_id"])).encode()
    except (KeyringError, InvalidTag):
        # Its key was retired, or the body was not sealed for this record.
        raise Problem(422, f"The answer to this {HEADER} can no longer be read; "
                      "use a new key.") from None
    response = web.Response(status=stored["status"], body=body,
                            content_type=stored["content_type"], headers=stored["headers"])
    response.headers[REPLAYED_HEADER] = "true"
    return response


async def _claim(records: AsyncCollection[Document], record_id: str, key_id: str,
                 fingerprint: str, request: web.Request, keyring: SecretKeyring
                 ) -> web.Response | None:
    """None when this request may run; otherwise the answer to give instead."""
    at = now()
    owner = str(uuid.uuid4())
    try:
        await records.insert_one({"_id": record_id, "kid": key_id, "fingerprint": fingerprint,
                                  "state": "running", "lease_until": at + LEASE,
                                  "owner": owner, "created_at": at})
        return None
    except DuplicateKeyError:
        pass
    record = await records.find_one({"_id": record_id})
    if record is None:  # expired just now: try once more
        return await _claim(records, record_id, key_id, fingerprint, request, keyring)
    if record.get("owner") == owner:  # our insert landed; its answer was lost
        return None
    try:
        _, expected = await _fingerprint(request, keyring, record["kid"])
    except KeyringError:
        # Its key was retired from the keyring: the requests cannot be compared,
        # and replaying an answer to what may be another request is not safe.
        raise Problem(422, f"This {HEADER} was used with a request that can no longer be "
                      "compared (its encryption key was retired); use a new key.") from None
    if expected != record["fingerprint"]:
        raise Problem(422, f"This {HEADER} was already used with a different request.")
    if record["state"] == "done":
        return _replay(record, keyring)
    taken_over = await records.find_one_and_update(
        {"_id": record_id, "state": "running", "lease_until": {"$lte": at}},
        {"$set": {"lease_until": at + LEASE}}, return_document=ReturnDocument.AFTER)
    if taken_over is None:
        raise Problem(409, f"A request with this {HEADER} is still in progress.",
                      headers={hdrs.RETRY_AFTER: "1"})
    return None


def _remembered(response: web.Response, keyring: SecretKeyring, record_id: str
                ) -> dict[str, Any]:
    body = bytes(response.body) if isinstance(response.body, bytes | bytearray) else b""
    return {
        "status": response.status,
        "content_type": response.content_type,
        "headers": {k: response.headers[k] for k in _KEPT_HEADERS if k in response.headers},
        "body": keyring.seal(body.decode(), idempotent_response_aad(record_id)).to_document(),
    }


@web.middleware
async def idempotency_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method != "POST" or keys.PRINCIPAL not in request:
        return await handler(request)
    key = _key(request)
    if key is None:
        return await handler(request)
    keyring = request.app[keys.KEYRING]
    records = request.app[keys.DB][IDEMPOTENCY_KEYS]
    record_id = hashlib.sha256(f"{request[keys.PRINCIPAL].subject}\0{key}".encode()).hexdigest()
    key_id, fingerprint = await _fingerprint(request, keyring)
    earlier = await _claim(records, record_id, key_id, fingerprint, request, keyring)
    if earlier is not None:
        return earlier
    try:
        response = await handler(request)
    except Exception as exc:
        answer = answer_for(exc)
        if answer is None or answer.status >= 500:
            await records.delete_one({"_id": record_id})
            raise
        response = answer
    if not isinstance(response, web.Response) or response.status >= 500:
        await records.delete_one({"_id": record_id})
        return response
    await records.update_one({"_id": record_id}, {"$set": {
        "state": "done", "response": _remembered(response, keyring, record_id)}})
    return response
