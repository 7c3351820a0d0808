"""Live client events for browsers: the events exchange fanned out to SSE streams.

Each gateway subscribes once to `client.#` on a queue of its own and hands
every event to each open stream's bounded queue. A stream that cannot keep up
is not allowed to hold memory: its queue is emptied and it is told to `resync`
(read again), which is what it would do after a reconnect anyway. The streams
carry live events only, no replay: a page re-reads the clients when its stream
opens (the `ready` event) and after each reconnect.

`api.events_view` serves them as Server-Sent Events.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from api.problems import Problem

log = logging.getLogger(__name__)

# Past this many open streams a gateway answers 503: a stream holds a connection
# and a queue, and a dashboard left open in many tabs must not exhaust either.
MAX_STREAMS = 500
QUEUE_SIZE = 256


@dataclass(frozen=True)
class LiveEvent:
    id: str
    type: str
    data: str


RESYNC = LiveEvent("", "resync", "{}")


@dataclass(eq=False)
class Listener:
    """One stream's queue, and how to end that stream when the gateway shuts down."""

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

    def __init__(self, max_streams: int = MAX_STREAMS) -> None:
        self._max_streams = max_streams
        self._listeners: set[Listener] = set()
        self._closed = False

    @property
    def open_streams(self) -> int:
        return len(self._listeners)

    async def on_event(self, routing_key: str, body: bytes) -> None:
        try:
            cloud_event = json.loads(body)
            event = LiveEvent(str(cloud_event["id"]), str(cloud_event["type"]),
                              body.decode())
        except (ValueError, KeyError, TypeError):
            log.warning("not forwarding an unreadable event (routing key %s)", routing_key)
            return
        for listener in self._listeners:
            listener.offer(event)

    @contextlib.contextmanager
    def listen(self) -> Iterator[Listener]:
        """A listener of the events from now on; 503 when there are too many already."""
        if self._closed:
            raise Problem(503, "The gateway is shutting down.", headers={"Retry-After": "1"})
        if len(self._listeners) >= self._max_streams:
            raise Problem(503, "Too many event streams are open on this gateway; "
                          "try again later.", headers={"Retry-After": "30"})
        listener = Listener()
        self._listeners.add(listener)
        try:
            yield listener
        finally:
            self._listeners.discard(listener)

    def close(self) -> None:
        """End every stream (on shutdown): each handler then returns."""
        self._closed = True
        for listener in list(self._listeners):
            listener.stop()
