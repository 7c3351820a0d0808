"""What every request leaves behind: its request id, a log line and its metrics.

The log line is at INFO for a change (an audited route) or a failure (4xx, 5xx)
and at DEBUG for a successful read or credential check: those are the hot paths,
thousands a second, and the metrics already count and time them. Formatting a
line costs a fifth of a credential check (measured with `make bench` and py-spy).

The request id is the caller's `X-Request-ID` when it is usable, else a new
one. It is returned on every answer, bound to every log line written while the
request is handled, put into the commands the request queues (so the worker's
lines and the events carry it too) and into the audit trail.
"""

from __future__ import annotations

import logging
import os
import re
import time

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler

from api import keys
from api.remote import caller_address
from common.logs import bind_ids, unbind_ids

log = logging.getLogger("clientkeys.http")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
REQUEST_ID_HEADER = "X-Request-ID"
UNMATCHED = "unmatched"
NO_STORE = "no-store"
# The admin page and its static files (api.views.page).
PAGE_ROUTES = frozenset({"admin_page", "admin_page_script", "admin_page_style"})


class _RandomIds:
    """New request ids: random (version 4) UUIDs, as `str(uuid.uuid4())` writes them.

    `uuid.uuid4` asks the kernel for 16 bytes and builds a UUID object for each: a
    few microseconds of every request (py-spy under `python -m bench.reads`). These
    come from one read of random bytes per 256 ids, formatted directly."""

    _BATCH = 256

    def __init__(self) -> None:
        self._random = b""
        self._at = 0

    def new(self) -> str:
        if self._at >= len(self._random):
            self._random, self._at = os.urandom(16 * self._BATCH), 0
        raw = bytearray(self._random[self._at:self._at + 16])
        self._at += 16
        raw[6] = raw[6] & 0x0F | 0x40  # version 4
        raw[8] = raw[8] & 0x3F | 0x80  # the RFC 4122 variant
        text = raw.hex()
        return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


new_request_id = _RandomIds().new


def request_id(request: web.Request) -> str:
    """The caller's X-Request-ID when usable, else a new one; the same for the whole request."""
    known = request.get(keys.REQUEST_ID)
    if known is None:
        given = request.headers.get(REQUEST_ID_HEADER, "")
        known = given if given and _REQUEST_ID.fullmatch(given) else new_request_id()
        request[keys.REQUEST_ID] = known
    return known


async def return_request_id(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: also reaches streamed answers and aiohttp's own error pages."""
    response.headers[REQUEST_ID_HEADER] = request_id(request)


async def forbid_storing(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: no cache or proxy keeps any answer of the gateway.

    Answers hold clients, secrets shown once, tokens' permissions and problems
    about them; none is worth keeping. The admin page and its files (no data,
    the same for everyone) keep their own `no-cache`, revalidated by ETag; their
    errors do not.
    """
    if response.status < 400 and _route(request) in PAGE_ROUTES:
        return
    response.headers[hdrs.CACHE_CONTROL] = NO_STORE


def _route(request: web.Request) -> str:
    # The route's name, never the path: a path holds client keys (unbounded label values).
    name = request.match_info.route.name
    return name if name else UNMATCHED


@web.middleware
async def observe_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    status = 500
    # Bound for every line logged while the request is handled (common.logs.correlated,
    # without a context manager's cost on every request).
    ids = bind_ids(request_id=request_id(request))
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        try:
            elapsed = time.perf_counter() - started
            route = _route(request)
            request.app[keys.METRICS].request_answered(route, request.method, status, elapsed)
            level = logging.INFO if status >= 400 or route in request.app[keys.AUDITED_ROUTES] \
                else logging.DEBUG
            if log.isEnabledFor(level):
                log.log(level, "request", extra={"method": request.method, "route": route,
                                                 "status": status,
                                                 "duration_ms": round(elapsed * 1000, 2),
                                                 "remote_addr": caller_address(request)})
        finally:
            unbind_ids(ids)  # after the line, which carries the id
