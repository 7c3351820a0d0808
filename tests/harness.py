"""Running the service in tests: tokens, gateways, workers, an event tap and a wire tap."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import aio_pika
from aio_pika.abc import AbstractIncomingMessage

from api.auth.tokens import token_digest
from clientkeys import cli
from clientkeys.bootstrap import create_worker
from common.keyring import new_key_entry
from common.settings import Settings
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


def with_keyring_file(settings: Settings, folder: Path) -> Settings:
    """The settings with their keyring in a file that running processes follow.

    The file is looked at on every use, so a test never waits for a reload.
    """
    path = folder / "keyring"
    path.write_text(new_key_entry("before") + "\n")
    path.chmod(0o600)
    return settings.with_overrides(encryption_keys="", encryption_keys_file=path,
                                   keyring_check_interval_s=0.0)


async def run_cli(settings: Settings, *args: str) -> int:
    """`clientkeys ARGS` as an operator runs it, with the settings' environment.

    It runs in a thread (the command has its own event loop); the levels it
    gives the broker client's loggers are put back afterwards.
    """
    env = {"CLIENTKEYS_AMQP_URL": settings.amqp_url,
           "CLIENTKEYS_MONGODB_URI": settings.mongodb_uri,
           "CLIENTKEYS_NAMESPACE": settings.namespace,
           "CLIENTKEYS_ENCRYPTION_KEYS": settings.encryption_keys,
           "CLIENTKEYS_ENCRYPTION_KEYS_FILE": str(settings.encryption_keys_file or "")}
    loggers = [logging.getLogger(name) for name in ("aio_pika", "aiormq")]
    levels = [logger.level for logger in loggers]
    try:
        with mock.patch.dict(os.environ, env):
            return await asyncio.to_thread(cli.main, list(args))
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@asynccontextmanager
async def running_workers(settings: Settings, count: int) -> AsyncIterator[list[Worker]]:
    """`count` workers wired as `clientkeys worker` wires one, each with its own
    broker connection and MongoDB client."""
    async with AsyncExitStack() as stack:
        workers: list[Worker] = []
        for _ in range(count):
            parts = await stack.enter_async_context(
                create_worker(settings, app_name="clientkeys-test-worker"))
            stack.push_async_callback(parts.worker.stop, timeout_s=10)
            await parts.worker.start()
            workers.append(parts.worker)
        yield workers


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


@dataclass
class WireTap:
    """Copies of every message that passed through any exchange of the namespace."""

    messages: list[AbstractIncomingMessage] = field(default_factory=list)

    def exchanges_seen(self) -> set[str]:
        return {m.exchange or "" for m in self.messages}

    def raw(self) -> list[bytes]:
        """Each message as bytes: its body and every property and header."""
        return [m.body + repr(m.info()).encode() for m in self.messages]


@asynccontextmanager
async def wire_tap(settings: Settings, *, reply_addresses: Sequence[str] = ()
                   ) -> AsyncIterator[WireTap]:
    """An exclusive queue bound to every exchange the topology declares.

    A topic exchange is bound with `#`; a direct exchange with each routing key
    it is used with: the fixed ones, and the given gateways' reply addresses.
    """
    topology = Topology(settings.namespace)
    connection = await aio_pika.connect(settings.amqp_url)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(exclusive=True)
        for spec in topology.exchanges:
            exchange = await channel.declare_exchange(
                spec.name, aio_pika.ExchangeType(spec.kind), durable=True)
            keys: Sequence[str] = ("#",) if spec.kind == "topic" else (
                reply_addresses if spec.name == topology.replies_exchange
                else topology.fixed_routing_keys(spec.name))
            assert keys, f"the tap has no routing key for {spec.name}"
            for key in keys:
                await queue.bind(exchange, routing_key=key)
        tap = WireTap()

        async def on_message(message: AbstractIncomingMessage) -> None:
            tap.messages.append(message)

        await queue.consume(on_message, no_ack=True)
        yield tap
    finally:
        await connection.close()


async def publish_straight(settings: Settings, exchange: str, routing_key: str, body: bytes,
                           message_id: str, headers: dict[str, str]) -> None:
    """What anyone with write permission on `exchange` can do: publish, no gateway or
    worker in between."""
    connection = await aio_pika.connect(settings.amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        target = await channel.get_exchange(exchange)
        await target.publish(
            aio_pika.Message(body, message_id=message_id, headers=dict(headers),
                             delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
            routing_key=routing_key)
    finally:
        await connection.close()


async def dead_letter_count(settings: Settings) -> int:
    """How many commands the namespace's dead-letter queue holds, as the broker counts."""
    connection = await aio_pika.connect(settings.amqp_url)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(Topology(settings.namespace).dead_letter_queue,
                                            passive=True)
        return int(queue.declaration_result.message_count or 0)
    finally:
        await connection.close()
