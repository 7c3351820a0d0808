"""The gateway's HTTP server: aiohttp's, except for requests it cannot read.

aiohttp answers a request it cannot parse (a header over its 8190-byte limit,
a forbidden character in a header) with the parser's message, and logs it with
the traceback; both quote the offending bytes, up to a hundred of them, which is
an `Authorization` header's token when that header is the one too long. Such a
request never reaches the app (no middleware, no `on_response_prepare`), so the
only place to answer it is the connection's request handler: here it gets a
fixed problem document and one log line that name the kind of failure only.

`run_gateway_server` does what `web.run_app` does (signals, graceful shutdown,
the cleanup contexts) with that handler in place; `clientkeys.bootstrap` sets the
runner up for both `clientkeys gateway` and `clientkeys dev`. aiohttp has no
public hook for this, so `GatewayRunner` overrides
`AppRunner._make_server` and rebuilds the server from its `_loop` and `_kwargs`:
`tests/e2e/test_gateway_process_security.py` fails if a release changes them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from contextlib import suppress
from typing import Any

from aiohttp import hdrs, web
from aiohttp.http_exceptions import HttpProcessingError, LineTooLong
from aiohttp.web_protocol import RequestHandler

from api.observe import NO_STORE
from api.problems import problem_response

log = logging.getLogger("clientkeys.http")

TOO_LARGE = "The request line or a header of the request is too large."
UNREADABLE = "The request is not valid HTTP."
SHUTDOWN_TIMEOUT_S = 15


class _Protocol(RequestHandler):
    def handle_error(self, request: Any, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        if not isinstance(exc, HttpProcessingError):
            return super().handle_error(request, status, exc, message)
        too_large = isinstance(exc, LineTooLong)
        # The peer only: the request's headers are what could not be read.
        log.info("unreadable request", extra={"peer": request.remote,
                                              "error": type(exc).__name__})
        response = problem_response(431 if too_large else 400,
                                    TOO_LARGE if too_large else UNREADABLE,
                                    headers={hdrs.CACHE_CONTROL: NO_STORE})
        response.force_close()
        return response


class _Server(web.Server):
    def __call__(self) -> RequestHandler:
        return _Protocol(self, loop=self._loop, **self._kwargs)


class GatewayRunner(web.AppRunner):
    """An AppRunner whose connections answer unreadable requests with `_Protocol`."""

    async def _make_server(self) -> web.Server:
        made = await super()._make_server()
        return _Server(made.request_handler, request_factory=made.request_factory,
                       handler_cancellation=made.handler_cancellation, loop=made._loop,
                       **made._kwargs)


def run_gateway_server(serve: Coroutine[Any, Any, None],
                       loop: asyncio.AbstractEventLoop) -> None:
    """Run `serve` (which sets a `GatewayRunner` up with `handle_signals=True` and
    serves until cancelled) on `loop` until SIGTERM or SIGINT; its cleanup then runs
    with requests in progress given the runner's shutdown timeout."""
    asyncio.set_event_loop(loop)
    main = loop.create_task(serve)
    try:
        loop.run_until_complete(main)
    except (web.GracefulExit, KeyboardInterrupt):
        pass
    finally:
        if not main.done():
            main.cancel()
            with suppress(asyncio.CancelledError, web.GracefulExit):
                loop.run_until_complete(main)
        left = asyncio.all_tasks(loop)
        for task in left:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*left, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
        asyncio.set_event_loop(None)
