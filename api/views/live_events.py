"""Live client events for browsers: the events exchange fanned out to SSE streams.

Each gateway's one queue on the events exchange (which also feeds its read
model, `api.app`) hands every event to each open stream's bounded queue. A
stream that cannot keep up is not allowed to hold memory: its queue is emptied
and it is told to `resync` (read again), which is what it would do after a
reconnect anyway. The streams carry live events only, no replay: a page
re-reads the clients when its stream opens (the `ready` event) and after each
reconnect.

`api.views.events` serves them as Server-Sent Events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from api.problems import Problem
from common.events import UndecodableEvent, cloud_event_type, decode_event

log = logging.getLogger(__name__)

# Past this many open streams a gateway answers 503: a stream holds a connection
# and a queue, and a dashboard left open in many tabs must not exhaust either.
MAX_STREAMS = 500
# Past this many of one caller's, 429 (CLIENTKEYS_EVENT_STREAMS_PER_TOKEN): one
# token cannot take the gateway's streams from everybody else.
STREAMS_PER_CALLER = 5
# A stream ends only when its reader goes away, so no moment can be promised:
# this is how long a reader should wait before trying again.
STREAMS_RETRY_AFTER_S = 10
QUEUE_SIZE = 256


@dataclass(frozen=True)
class LiveEvent:
    id: str
    type: str
    data: str


RESYNC = LiveEvent("", "resync", "{}")


@dataclass(eq=False)
class Listener:
    """One stream's queue, whose it is, and how to end it (its reader left, or shutdown)."""

    caller: str = ""
    # False once the reader's connection is gone, which the stream itself may only
    # notice at its next write (a keep-alive ping, seconds away).
    connected: Callable[[], bool] = lambda: True
    queue: asyncio.Queue[LiveEvent] = field(
        default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    stop: Callable[[], None] = lambda: None

    def offer(self, event: LiveEvent) -> None:
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(RESYNC)


class LiveEvents:
    """The fan-out: one subscription in, any number of streams out."""

    def __init__(self, max_streams: int = MAX_STREAMS,
                 per_caller: int = STREAMS_PER_CALLER) -> None:
        self._max_streams = max_streams
        self._per_caller = per_caller
        self._listeners: set[Listener] = set()
        self._closed = False

    @property
    def open_streams(self) -> int:
        return len(self._listeners)

    async def on_event(self, routing_key: str, body: bytes) -> None:
        try:
            decoded = decode_event(routing_key, body)
        except UndecodableEvent:
            log.warning("not forwarding an unreadable event (routing key %s)", routing_key)
            return
        # Forwarded as published: a reader gets the very CloudEvent a subscriber does.
        event = LiveEvent(decoded.id, cloud_event_type(decoded.type), body.decode())
        for listener in self._listeners:
            listener.offer(event)

    @contextlib.contextmanager
    def listen(self, caller: str = "",
               connected: Callable[[], bool] = lambda: True) -> Iterator[Listener]:
        """A listener of the events from now on for `caller`, while `connected()` holds.

        429 when `caller` has its share of streams open already, 503 when the
        gateway has. A stream whose reader went away counts for neither: it is
        ended here and its slot is free at once, not at its next ping.
        """
        if self._closed:
            raise Problem(503, "The gateway is shutting down.", headers={"Retry-After": "1"})
        self._end_disconnected()
        if sum(1 for other in self._listeners if other.caller == caller) >= self._per_caller:
            raise Problem(429, f"This token has {self._per_caller} event streams open on this "
                          "gateway already, the most it may; close one first.",
                          headers={"Retry-After": str(STREAMS_RETRY_AFTER_S)})
        if len(self._listeners) >= self._max_streams:
            raise Problem(503, "Too many event streams are open on this gateway; "
                          "try again later.", headers={"Retry-After": "30"})
        listener = Listener(caller, connected)
        self._listeners.add(listener)
        try:
            yield listener
        finally:
            self._listeners.discard(listener)

    def _end_disconnected(self) -> None:
        for listener in [other for other in self._listeners if not other.connected()]:
            self._listeners.discard(listener)
            listener.stop()

    def close(self) -> None:
        """End every stream (on shutdown): each handler then returns."""
        self._closed = True
        for listener in list(self._listeners):
            listener.stop()
