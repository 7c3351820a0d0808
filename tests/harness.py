"""Running the service in tests: tokens, gateways, workers and an event tap."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage

from api.tokens import token_digest
from common.amqp_bus import AmqpBus
from common.settings import Settings
from common.store import connect, database
from common.topology import Topology
from worker.service import Worker


def add_token(settings: Settings, subject: str, *permissions: str) -> str:
    """Append a new token to the settings' tokens file; returns the token."""
    assert settings.tokens_file is not None
    token = secrets.token_urlsafe(24)
    entries = json.loads(settings.tokens_file.read_text())
    entries.append({"subject": subject, "sha256": token_digest(token),
                    "permissions": list(permissions)})
    settings.tokens_file.write_text(json.dumps(entries))
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@asynccontextmanager
async def running_workers(settings: Settings, count: int) -> AsyncIterator[list[Worker]]:
    """`count` workers, each with its own broker connection and MongoDB client."""
    started: list[tuple[Worker, AmqpBus, Any]] = []
    try:
        for _ in range(count):
            client = connect(settings.mongodb_uri, app_name="clientkeys-test-worker")
            bus = await AmqpBus.connect(settings.amqp_url, Topology(settings.namespace))
            worker = Worker(bus, database(client), namespace=settings.namespace,
                            prefetch=settings.worker_prefetch)
            await worker.start()
            started.append((worker, bus, client))
        yield [w for w, _, _ in started]
    finally:
        for worker, bus, client in started:
            await worker.stop(timeout_s=10)
            await bus.close()
            await client.close()


@dataclass
class EventTap:
    """An exclusive queue bound to the events exchange, collecting every event."""

    messages: list[AbstractIncomingMessage] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(m.body) for m in self.messages]

    async def wait_for(self, count: int, timeout_s: float = 10.0) -> list[dict[str, Any]]:
        async def enough() -> None:
            while len(self.messages) < count:
                self.arrived.clear()
                await self.arrived.wait()

        await asyncio.wait_for(enough(), timeout_s)
        return self.bodies()


@asynccontextmanager
async def event_tap(settings: Settings, binding: str = "#") -> AsyncIterator[EventTap]:
    connection = await aio_pika.connect(settings.amqp_url)
    try:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(
            Topology(settings.namespace).events_exchange, aio_pika.ExchangeType.TOPIC,
            durable=True)
        queue = await channel.declare_queue(exclusive=True)
        await queue.bind(exchange, routing_key=binding)
        tap = EventTap()

        async def on_message(message: AbstractIncomingMessage) -> None:
            tap.messages.append(message)
            tap.arrived.set()

        await queue.consume(on_message, no_ack=True)
        yield tap
    finally:
        await connection.close()
