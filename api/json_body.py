"""Reading a request body as a JSON object, and refusing what must not go further.

A body is JSON in UTF-8 (RFC 8259 §8.1), at most `client_max_size` bytes
(aiohttp answers 413 beyond it), an object, nested no deeper than any request
of this API needs, and its text is Unicode that can be stored: JSON's `\\ud800`
escapes can spell lone surrogates, which Python accepts but UTF-8, BSON and
the keyring cannot encode. Such a string would fail a worker on every delivery,
so it is refused here, with a 400 naming the problem.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from api.problems import Problem

JSON_TYPE = "application/json"
# Deeper than any request body of this API (object -> list -> string is 2).
MAX_DEPTH = 8


async def read_json_object(request: web.Request) -> dict[str, Any]:
    """The body as a dict; raises Problem 415 or 400 (aiohttp: 413) otherwise."""
    charset = (request.charset or "utf-8").lower()
    if request.content_type != JSON_TYPE or charset not in ("utf-8", "utf8"):
        raise Problem(415, "Send the request body as application/json, in UTF-8.")
    raw = await request.read()
    try:
        body = json.loads(raw.decode("utf-8"))
    except RecursionError:
        raise Problem(400, f"The request body is nested more than {MAX_DEPTH} levels deep.") \
            from None
    except ValueError:  # not UTF-8, or not JSON
        raise Problem(400, "The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise Problem(400, "The request body must be a JSON object.")
    if _depth(body) > MAX_DEPTH:
        raise Problem(400, f"The request body is nested more than {MAX_DEPTH} levels deep.")
    try:
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise Problem(400, "The request body holds text that is not valid Unicode "
                      "(an unpaired surrogate escape such as \\ud800).") from None
    return body


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
