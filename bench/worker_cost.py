"""What one command costs the worker in database work: round trips and database time.

A worker built in this process (the same consumer, store and relay as
`clientkeys worker`, with an in-memory broker so only the database is timed)
applies creates and approvals against the benchmark's database, with every
client seeded, while PyMongo's command monitoring records each command it
sends, and when. Round trips are counted as the worker waits for them:
commands sent while others are still out share one. Database time is the
time the worker waited for the database: from each round trip's first command
sent to its last answer (commands sent together overlap, and a server that
serves one at a time queues them, so their own durations would count the
queueing twice).

Then the same worker's throughput alone (`command_throughput`): many commands
with 16 in hand at once, as a consumer with prefetch has them, still with the
in-memory broker, beside the raw write of the same run: what the worker's
database work allows, without the gateway, the broker or HTTP.

Last, the writes of a create alone (`create_writes`): the worker's own store makes
them, 16 creates at a time, from documents the create handler made beforehand:
the start of the operation (claiming the key), the client with its outbox, then
together the audit entry, the outcome and the outbox's clear. No handler, consumer
or broker runs meanwhile, so the rate is what the database allows for those writes
on the service's indexes: the ceiling of a create on that database, whatever the
service around them does.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import cast

from prometheus_client import CollectorRegistry
from pymongo import AsyncMongoClient
from pymongo.monitoring import (
    CommandFailedEvent,
    CommandListener,
    CommandStartedEvent,
    CommandSucceededEvent,
)

from bench.report import Row
from bench.seed import Collected
from common.audit import entry_for_command
from common.client_documents import ClientDocument
from common.clients import ClientType
from common.command_mac import sign_command
from common.commands import (
    ApproveClient,
    Command,
    CreateClient,
    DisapproveClient,
    encode_command,
)
from common.keyring import Keyring, command_secret_aad, generate_secret
from common.memory_bus import MemoryBus
from common.outcomes import Outcome
from common.store import Document, database, now
from worker.consumer import CommandConsumer
from worker.handlers import create_client, key_to_claim
from worker.relay import OutboxRelay
from worker.repository import ClientStore, MongoClientStore
from worker.worker_metrics import WorkerMetrics

# Round trips each command may take (issue 17's targets).
MOST_ROUND_TRIPS = 3


@dataclass
class Monitor(CommandListener):
    """The commands of one command's application: count, round trips, time waited."""

    commands: int = 0
    round_trips: int = 0
    waited_s: float = 0.0
    out: set[int] = field(default_factory=set)
    trip_began: float = 0.0

    def reset(self) -> None:
        self.commands = self.round_trips = 0
        self.waited_s = 0.0
        self.out.clear()

    def started(self, event: CommandStartedEvent) -> None:
        if not self.out:
            self.round_trips += 1
            self.trip_began = time.perf_counter()
        self.out.add(event.request_id)
        self.commands += 1

    def succeeded(self, event: CommandSucceededEvent) -> None:
        self._answered(event.request_id)

    def failed(self, event: CommandFailedEvent) -> None:
        self._answered(event.request_id)

    def _answered(self, request_id: int) -> None:
        self.out.discard(request_id)
        if not self.out:
            self.waited_s += time.perf_counter() - self.trip_began


@dataclass
class _Message:
    """A command message as a gateway signs it; settling it only records how."""

    body: bytes
    message_id: str | None
    headers: Mapping[str, object]
    reply_to: str | None = None
    redelivered: bool = False
    previous_deliveries: int = 0
    settled: list[str] = field(default_factory=list)

    async def ack(self) -> None:
        self.settled.append("ack")

    async def requeue(self) -> None:
        self.settled.append("requeue")

    async def retry(self) -> None:
        self.settled.append("retry")

    async def dead_letter(self) -> None:
        self.settled.append("dead_letter")


@dataclass(frozen=True)
class Cost:
    kind: str
    samples: int
    round_trips: float
    commands: float
    database_ms: float  # the median over the samples of the time waited for the database
    worker_ms: float    # the median time from the message to its ack

    def row(self, clients: int) -> Row:
        met = self.round_trips <= MOST_ROUND_TRIPS
        return Row(f"worker cost: {self.kind} among {clients:,} clients",
                   f"{self.round_trips:g} round trips ({self.commands:g} commands); "
                   f"waits {self.database_ms:.1f} ms for the database of {self.worker_ms:.1f} ms "
                   f"in all (median of {self.samples})",
                   "—", "—", f"≤ {MOST_ROUND_TRIPS} round trips", met)


def _create(keyring: Keyring, number: int) -> CreateClient:
    command_id = str(uuid.uuid4())
    return CreateClient(
        id=command_id, actor="bench", request_id=f"cost-{number}", type=ClientType.OIDC,
        name=f"Costed {number}",
        secret=keyring.seal(generate_secret(), command_secret_aad(command_id,
                                                                  CreateClient.kind)),
        redirect_uris=["https://portal.example.com/callback"],
        grant_types=["authorization_code"], response_types=["code"])


def _signed(keyring: Keyring, command: Command) -> _Message:
    body = encode_command(command)
    return _Message(body, command.id, sign_command(keyring, body, message_id=command.id,
                                                   reply_to=None))


async def _monitored_store(uri: str, monitor: Monitor
                           ) -> tuple[AsyncMongoClient[Document], MongoClientStore]:
    """The worker's store on the benchmark's database, its commands seen by `monitor`."""
    client: AsyncMongoClient[Document] = AsyncMongoClient(
        uri, tz_aware=True, uuidRepresentation="standard", event_listeners=[monitor])
    # Connections for the commands a worker sends together, opened before timing.
    await asyncio.gather(*(database(client).command("ping") for _ in range(8)))
    return client, MongoClientStore(database(client))


async def _in_process_worker(uri: str, keyring: Keyring, monitor: Monitor
                             ) -> tuple[AsyncMongoClient[Document], CommandConsumer]:
    """A worker's consumer on the benchmark's database, with an in-memory broker."""
    client, store = await _monitored_store(uri, monitor)
    bus = MemoryBus()
    metrics = WorkerMetrics(CollectorRegistry())
    consumer = CommandConsumer(bus, store, OutboxRelay(bus, store, "bench", metrics, keyring),
                               asyncio.Event(), metrics, keyring)
    return client, consumer


async def command_costs(uri: str, keyring: Keyring, pending_keys: list[str]) -> list[Cost]:
    """Creates, then approvals of `pending_keys` (each key once), one at a time."""
    monitor = Monitor()
    client, consumer = await _in_process_worker(uri, keyring, monitor)

    async def cost(kind: str, commands: list[Command]) -> Cost:
        trips, sent, server_ms, took_ms = [], [], [], []
        loop = asyncio.get_running_loop()
        for command in commands:
            # As on the usual path, no gateway recorded it: the worker's start does.
            message = _signed(keyring, command)
            monitor.reset()
            began = loop.time()
            await consumer.on_message(message)
            took_ms.append((loop.time() - began) * 1000)
            if message.settled != ["ack"]:
                raise RuntimeError(f"{kind} {command.id} was not applied: {message.settled}")
            trips.append(monitor.round_trips)
            sent.append(monitor.commands)
            server_ms.append(monitor.waited_s * 1000)
        return Cost(kind, len(commands), statistics.median(trips), statistics.median(sent),
                    statistics.median(server_ms), statistics.median(took_ms))

    try:
        creates = [_create(keyring, n) for n in range(len(pending_keys))]
        approvals: list[Command] = [
            ApproveClient(id=str(uuid.uuid4()), actor="bench", request_id=f"cost-a{n}",
                          client_key=key) for n, key in enumerate(pending_keys)]
        return [await cost("create", list(creates)), await cost("approve", approvals)]
    finally:
        await client.close()


@dataclass(frozen=True)
class Throughput:
    kind: str
    rate: float  # commands applied a second
    commands: float  # database commands sent a command applied
    # Whose rate: the whole worker, or only the database writes of its commands.
    alone: str = "worker alone"

    def row(self, in_flight: int, raw_name: str, raw_rate: float) -> Row:
        ratio = self.rate / raw_rate if raw_rate else 0.0
        return Row(f"{self.alone}, {in_flight} in hand: {self.kind}",
                   f"{self.rate:,.0f}/s, {self.commands:.2f} database commands a command",
                   f"{raw_name}: {raw_rate:,.0f}/s", f"{ratio:.0%}", "printed", None)


async def command_throughput(uri: str, keyring: Keyring, disapproved_keys: list[str], *,
                             in_flight: int = 16) -> list[Throughput]:
    """Creates, then approvals and disapprovals of `disapproved_keys` (which end as they
    began), `in_flight` at a time; as on the usual path, each worker's start records its
    operation (no gateway did)."""
    monitor = Monitor()
    client, consumer = await _in_process_worker(uri, keyring, monitor)
    slots = asyncio.Semaphore(in_flight)

    async def apply(command: Command) -> None:
        async with slots:
            message = _signed(keyring, command)
            await consumer.on_message(message)
            if message.settled != ["ack"]:
                raise RuntimeError(f"{command.kind} {command.id} was not applied")

    async def rate(kind: str, commands: list[Command]) -> Throughput:
        monitor.reset()
        began = time.perf_counter()
        await asyncio.gather(*(apply(command) for command in commands))
        seconds = time.perf_counter() - began
        return Throughput(kind, len(commands) / seconds, monitor.commands / len(commands))

    try:
        creates: list[Command] = [_create(keyring, n) for n in range(len(disapproved_keys))]
        changes: list[Command] = [
            command(id=str(uuid.uuid4()), actor="bench", request_id=f"rate-{n}",
                    client_key=key)
            for command in (ApproveClient, DisapproveClient)
            for n, key in enumerate(disapproved_keys)]
        return [await rate("create", creates),
                await rate("approve / disapprove", changes)]
    finally:
        await client.close()


@dataclass(frozen=True)
class _Made:
    """A create the handler made beforehand: its command, client key, document, outcome."""

    command: CreateClient
    key: str
    document: ClientDocument
    outcome: Outcome


async def _made(keyring: Keyring, count: int) -> list[_Made]:
    kept = Collected()
    made = []
    for number in range(count):
        command = _create(keyring, number)
        key = key_to_claim(command)
        assert key is not None
        applied = await create_client(command, cast(ClientStore, kept), keyring,
                                      claimed_key=key)
        if applied.outcome.error is not None:
            raise RuntimeError(f"create {number}: {applied.outcome.error.message}")
        made.append(_Made(command, key, kept.documents[-1], applied.outcome))
    return made


async def create_writes(uri: str, keyring: Keyring, count: int, *, in_flight: int = 16
                        ) -> Throughput:
    """`count` creates' writes by the worker's store, `in_flight` creates at a time."""
    monitor = Monitor()
    creates = await _made(keyring, count)
    client, store = await _monitored_store(uri, monitor)
    slots = asyncio.Semaphore(in_flight)

    async def write(made: _Made) -> None:
        async with slots:
            command = made.command
            await store.start_operation(command.id, command.kind, claim_key=made.key,
                                        actor=command.actor, request_id=command.request_id)
            await store.insert_client(made.document)
            sent = [event["id"] for event in made.document.get("outbox", [])]
            await asyncio.gather(
                store.record_audit(entry_for_command(command, made.outcome, now())),
                store.record_outcome(made.outcome), store.events_sent(made.key, sent))

    try:
        monitor.reset()
        began = time.perf_counter()
        await asyncio.gather(*(write(made) for made in creates))
        seconds = time.perf_counter() - began
        return Throughput("create", count / seconds, monitor.commands / count,
                          alone="its database writes alone")
    finally:
        await client.close()
