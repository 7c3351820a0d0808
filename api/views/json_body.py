"""Reading a request body as a JSON object, and refusing what must not go further.

A body arrives within `CLIENTKEYS_BODY_TIMEOUT_S` (408 otherwise: `read_body`,
which every reader of a body uses), is JSON in UTF-8 (RFC 8259 §8.1), at most
`client_max_size` bytes (aiohttp answers 413 beyond it), an object, nested no
deeper than any request of this API needs, and its text is Unicode that can be
stored: JSON's `\\ud800` escapes can spell lone surrogates, which Python accepts
but UTF-8, BSON and the keyring cannot encode. Such a string would fail a worker
on every delivery, so it is refused here, with a 400 naming the problem.

orjson parses it: several times faster than `json.loads`, and stricter.
Besides what is not JSON at all, it refuses lone surrogate escapes, NaN and
Infinity (not JSON either), numbers beyond a double (1e400) and nesting past
1024 levels; `json.loads` reads all but the last. Such a body is read once
more by `json.loads`, on the error path only, so that the 400 names the
problem as it always has; NaN and its kind, which no field of this API takes,
are "not valid JSON".
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import orjson
from aiohttp import web

from api import keys
from api.problems import Problem
from common.media_types import JSON_TYPE

# Deeper than any request body of this API (object -> list -> string is 2).
MAX_DEPTH = 8


async def read_body(request: web.Request) -> bytes:
    """The whole body, within CLIENTKEYS_BODY_TIMEOUT_S; raises Problem 408 (aiohttp: 413).

    Every read of a body goes through here: aiohttp waits for a body as long as
    its sender keeps the connection open, so a caller trickling a byte now and
    then would hold a request, its memory and its connection without end. The
    bound is on the whole body, not between chunks, which a trickle would meet.
    """
    limit = request.app[keys.SETTINGS].body_timeout_s
    try:
        async with asyncio.timeout(limit):
            return await request.read()
    except TimeoutError:
        raise Problem(408, f"The request body did not arrive within {limit:g} seconds; "
                      "nothing was done.") from None


async def read_json_object(request: web.Request) -> dict[str, Any]:
    """The body as a dict; raises Problem 415, 408 or 400 (aiohttp: 413) otherwise."""
    charset = (request.charset or "utf-8").lower()
    if request.content_type != JSON_TYPE or charset not in ("utf-8", "utf8"):
        raise Problem(415, "Send the request body as application/json, in UTF-8.")
    return _object(_parse(await read_body(request)))


def _parse(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        pass
    try:
        body = json.loads(raw.decode("utf-8"))
    except RecursionError:
        raise _too_deep() from None
    except ValueError:  # not UTF-8, or not JSON
        raise _not_json() from None
    _object(body)
    try:
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise Problem(400, "The request body holds text that is not valid Unicode "
                      "(an unpaired surrogate escape such as \\ud800).") from None
    raise _not_json()  # NaN, Infinity or 1e400, which json.loads reads as floats


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise Problem(400, "The request body must be a JSON object.")
    if _depth(body) > MAX_DEPTH:
        raise _too_deep()
    return body


def _not_json() -> Problem:
    return Problem(400, "The request body is not valid JSON.")


def _too_deep() -> Problem:
    return Problem(400, f"The request body is nested more than {MAX_DEPTH} levels deep.")


def _depth(value: Any) -> int:
    """How deeply `value` nests objects and arrays (a scalar is 0); iterative, so bounded."""
    deepest = 0
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        item, level = pending.pop()
        children = item.values() if isinstance(item, dict) else item \
            if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, level + 1)
        if deepest > MAX_DEPTH:
            return deepest
        pending.extend((child, level + 1) for child in children)
    return deepest
