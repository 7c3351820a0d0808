"""JSON responses: the gateway's bodies and problems, and both processes' probes.

orjson writes them, several times faster than `json.dumps`, and the same JSON
to any reader: compact and in UTF-8 rather than spaced and `\\u`-escaped.
Keys that are not strings (marshmallow keys the errors of a list's items by
index) become strings, as `json.dumps` makes them. The few values orjson
refuses and `json.dumps` writes, such as text with a lone surrogate (a header
decoded with `surrogateescape` can hold one) or an integer beyond 64 bits,
are written by `json.dumps` as before, rather than failing the request. A
float NaN becomes null, where `json.dumps` writes `NaN`, which is not JSON.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from aiohttp import web

from common.media_types import JSON_TYPE

# Datetimes and dataclasses are not JSON to json.dumps either: no silent format for them.
_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME \
    | orjson.OPT_PASSTHROUGH_DATACLASS


def json_bytes(data: Any) -> bytes:
    try:
        return orjson.dumps(data, option=_OPTIONS)
    except orjson.JSONEncodeError:
        return json.dumps(data).encode()


def json_response(data: Any, *, status: int = 200, headers: dict[str, str] | None = None,
                  content_type: str = JSON_TYPE) -> web.Response:
    return web.Response(status=status, body=json_bytes(data), content_type=content_type,
                        charset="utf-8", headers=headers)
