"""Optimistic concurrency over HTTP: ETag from a client's version, If-Match on changes.

The gateway refuses a stale If-Match at once (412); the command then carries the
expected version and the worker applies it only if that version still holds,
so two administrators never overwrite each other silently.
"""

from __future__ import annotations

from typing import Any

from aiohttp import hdrs, web
from aiohttp.helpers import ETAG_ANY

from api.problems import Problem


def etag(version: int) -> str:
    return f'"{version}"'


def etag_headers(client: dict[str, Any]) -> dict[str, str]:
    return {hdrs.ETAG: etag(int(client["version"]))}


def expected_version(request: web.Request, current_version: int) -> int | None:
    """The version the caller's If-Match pins the change to (None: no precondition).

    Comparison is strong, as RFC 9110 requires for If-Match: a weak tag never matches.
    """
    tags = request.if_match
    if tags is None or any(tag.value == ETAG_ANY for tag in tags):
        return None
    if any(not tag.is_weak and tag.value == str(current_version) for tag in tags):
        return current_version
    raise Problem(412, f"The client is at version {current_version} (ETag "
                  f"{etag(current_version)}); it changed since it was read.",
                  headers={hdrs.ETAG: etag(current_version)})
