"""`clientkeys events tail`: the events as they are published, for people on call.

A temporary subscriber: an exclusive, auto-delete queue of the subscriber
prefix (`<ns>.subscriber.tail.<random>`, so the subscriber broker user may make
it), bound to the events exchange with the given patterns (default `#`). It
takes nothing from the services' own queues and goes away with its connection,
so a tail leaves nothing behind however it ends. One line per event (time,
type, client key, actor), or the event's JSON with `--json`. Events carry no
secret, so printing them whole is safe; control characters are escaped so a
strange message cannot play tricks on the terminal.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import uuid
from collections.abc import Callable
from typing import Any, TextIO

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue
from aio_pika.exceptions import CONNECTION_EXCEPTIONS, ChannelNotFoundEntity

from common.amqp_bus import declare_own_queue
from common.clients import ClientType
from common.events import (
    ClientEventType,
    RegistrationTokenEventType,
    UndecodableEvent,
    decode_event,
)
from common.memory_bus import topic_matches
from common.settings import (
    PREFIX,
    Settings,
    SettingsError,
    Unreachable,
    load_settings,
    redact_url,
)
from common.topology import Topology, event_routing_key, token_event_routing_key

CONNECT_TIMEOUT_S = 10
ROUTING_KEY_MAX_BYTES = 255  # AMQP 0-9-1 short string
_TYPE_WIDTH = max(len(event_type.value) for event_type in ClientEventType)


def routing_keys() -> list[str]:
    """Every routing key an event of this service can have."""
    return [*(event_routing_key(client_type, event_type)
              for event_type in ClientEventType for client_type in ClientType),
            *(token_event_routing_key(event_type.short)
              for event_type in RegistrationTokenEventType)]


def binding_pattern(text: str) -> str:
    """A `--bind` value: a topic pattern that matches at least one event's routing key."""
    if not text or len(text.encode()) > ROUTING_KEY_MAX_BYTES:
        raise argparse.ArgumentTypeError(
            f"a pattern has 1 to {ROUTING_KEY_MAX_BYTES} bytes, e.g. 'client.*.approved'")
    if not any(topic_matches(text, key) for key in routing_keys()):
        raise argparse.ArgumentTypeError(
            f"{text!r} matches no event: routing keys are client.<type>.<event>, types "
            f"{', '.join(t.value for t in ClientType)}, events "
            f"{', '.join(e.value for e in ClientEventType)}; and registration_token."
            f"<{'|'.join(e.short for e in RegistrationTokenEventType)}>")
    return text


def add_parser(commands: Any) -> None:
    events = commands.add_parser("events", help="the events other services subscribe to")
    events_commands = events.add_subparsers(dest="events_command", required=True)
    tail = events_commands.add_parser(
        "tail", help="print events as they are published, until Ctrl-C",
        description="Subscribe with a temporary queue of its own and print each event as it "
                    "arrives: time, type, client key, actor.")
    tail.add_argument("--bind", action="append", type=binding_pattern, metavar="PATTERN",
                      help="routing key pattern, e.g. 'client.*.approved' or 'client.oidc.#' "
                           "(repeat for more; default '#', every event)")
    tail.add_argument("--json", action="store_true",
                      help="print each event's CloudEvents JSON, one per line")


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def event_line(body: bytes, routing_key: str) -> str:
    """`time  type  key  actor` of one event (a token's id for its key); a line saying so
    for anything else."""
    try:
        event = decode_event(routing_key, body)
        fields = (event.time.isoformat(), event.type.value, event.subject, event.actor)
    except UndecodableEvent:
        return _printable(f"?  not a clientkeys event ({len(body)} bytes, routing key "
                          f"{routing_key!r})")
    time, event_type, key, actor = (_printable(field) for field in fields)
    return f"{time}  {event_type:<{_TYPE_WIDTH}}  {key}  {actor}"


def json_line(body: bytes, routing_key: str) -> str:
    """The event as one line of JSON (escaped to ASCII, so one line whatever it holds)."""
    try:
        return json.dumps(json.loads(body), separators=(",", ":"))
    except ValueError:
        return json.dumps({"not_json": True, "routing_key": routing_key, "bytes": len(body)})


async def tail_queue(channel: AbstractChannel, settings: Settings,
                     patterns: list[str]) -> AbstractQueue:
    """The tail's own queue of the subscriber prefix, bound with `patterns` to the events
    exchange, which is only looked up (SettingsError if it is not there)."""
    topology = Topology(settings.namespace)
    own = topology.own_events_queue(topology.subscriber_queue(f"tail.{uuid.uuid4().hex}"),
                                    patterns)
    try:
        return await declare_own_queue(channel, topology, own, passive_exchanges=True)
    except ChannelNotFoundEntity:
        raise SettingsError(
            f"RabbitMQ at {redact_url(settings.amqp_url)} has no exchange "
            f"{topology.events_exchange!r}: is {PREFIX}NAMESPACE right, and has a gateway or "
            "worker of it started once?") from None


async def tail(settings: Settings, patterns: list[str], *, as_json: bool = False,
               out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """Print events until SIGINT or SIGTERM (0) or until the broker goes away (1)."""
    exchange_name = Topology(settings.namespace).events_exchange
    try:
        connection = await aio_pika.connect(
            settings.amqp_url, timeout=CONNECT_TIMEOUT_S,
            client_properties={"connection_name": f"clientkeys events tail {settings.namespace}"})
    except (TimeoutError, *CONNECTION_EXCEPTIONS, ValueError) as exc:
        raise Unreachable("RabbitMQ", settings.amqp_url, exc) from None
    stop = asyncio.Event()
    lost: list[str] = []
    closing = False

    def on_close(_: Any, exc: BaseException | None) -> None:
        if not closing:
            lost.append(f"{type(exc).__name__}: {exc}" if exc else "closed")
            stop.set()

    connection.close_callbacks.add(on_close)
    loop = asyncio.get_running_loop()
    for number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(number, stop.set)
    line: Callable[[bytes, str], str] = json_line if as_json else event_line

    async def on_message(message: AbstractIncomingMessage) -> None:
        try:
            print(line(message.body, message.routing_key or ""), file=out, flush=True)
        except BrokenPipeError:  # e.g. piped into `head`: the reader has gone
            stop.set()

    try:
        queue = await tail_queue(await connection.channel(), settings, patterns)
        await queue.consume(on_message, no_ack=True)
        print(f"clientkeys: tailing {exchange_name} ({' '.join(patterns)}) on queue "
              f"{queue.name}; Ctrl-C to stop", file=err, flush=True)
        await stop.wait()
    finally:
        for number in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(number)
        closing = True
        await connection.close()
    if lost:
        print(f"clientkeys: lost the connection to RabbitMQ at "
              f"{redact_url(settings.amqp_url)} ({lost[0][:200]}); events published from "
              "now on are not shown", file=err, flush=True)
        return 1
    return 0


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    return asyncio.run(tail(settings, args.bind or ["#"], as_json=args.json))
