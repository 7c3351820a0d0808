"""JSON responses of the gateway (errors have their own shape: api.problems)."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web


def json_response(data: Any, *, status: int = 200,
                  headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, text=json.dumps(data), content_type="application/json",
                        headers=headers)
