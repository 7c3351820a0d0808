"""`GET /v1/events`: client events as Server-Sent Events, for the admin page and dashboards.

aiohttp-sse writes the frames and the keep-alive pings (which also notice a
browser that went away). The data of each event is the CloudEvent as
published, which holds no secret. A stream ends when its reader goes away or
the gateway shuts down (`api.views.live_events.LiveEvents.close`). Each caller (token
subject) may hold `CLIENTKEYS_EVENT_STREAMS_PER_TOKEN` streams on a gateway; a
stream whose reader left frees its slot as soon as another is asked for, without
waiting for the ping that would notice it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp_sse import sse_response

from api import keys
from api.auth.middleware import principal_of
from api.views.live_events import LiveEvent

PING_INTERVAL_S = 15.0
RETRY_MS = 2000  # how long a browser's EventSource waits before reconnecting
READY = LiveEvent("", "ready", "{}")  # first on every stream: read the current state now


async def _forward(queue: asyncio.Queue[LiveEvent],
                   send: Callable[[LiveEvent], Awaitable[None]]) -> None:
    await send(READY)
    while True:
        await send(await queue.get())


def _connected(request: web.Request) -> Callable[[], bool]:
    """Whether the reader is still there: aiohttp drops the transport when it leaves."""
    def connected() -> bool:
        transport = request.transport
        return transport is not None and not transport.is_closing()

    return connected


async def event_stream(request: web.Request) -> web.StreamResponse:
    """`GET /v1/events`: client events as they happen, as Server-Sent Events."""
    # Refused (429, 503) before the answer starts, while a problem can still be sent.
    with request.app[keys.LIVE_EVENTS].listen(principal_of(request).subject,
                                              _connected(request)) as listener:
        async with sse_response(request, ping_interval=PING_INTERVAL_S,
                                headers={"Cache-Control": "no-store"}) as stream:
            listener.stop = stream.stop_streaming

            async def send(event: LiveEvent) -> None:
                await stream.send(event.data, id=event.id or None, event=event.type,
                                  retry=RETRY_MS if event is READY else None)

            # Every write happens in this task: a reader that went away ends it, and
            # its error, being no fault of ours, is not raised into the request.
            forwarding = asyncio.create_task(_forward(listener.queue, send))
            closed = asyncio.create_task(stream.wait())
            try:
                # Until the reader goes away or the gateway ends the stream.
                await asyncio.wait([forwarding, closed], return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (forwarding, closed):
                    task.cancel()
                await asyncio.gather(forwarding, closed, return_exceptions=True)
    return stream
