"""The broker users of deploy/rabbitmq/definitions.json on the machine's RabbitMQ.

In a virtual host of its own, each user is made with `rabbitmqctl` and given the
permissions the definitions give it. The gateway, the worker and a subscriber
then do their jobs through the service's own code, and each is refused what is
not its job: above all, only a gateway may publish to the commands exchange.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import subprocess
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

import aio_pika
import pytest
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage
from aiormq.exceptions import ChannelAccessRefused

from common.amqp_bus import AmqpBus
from common.bus import IncomingCommand
from common.settings import Settings
from common.topology import Topology
from tests.conftest import DEFAULT_AMQP_URL
from tests.deployment import DEPLOY
from tests.rabbitmq_definitions import BROKER_USERS
from worker.dead_letters import run_dlq

# The namespace the definitions' permissions are written for; the vhost keeps it apart.
TOPOLOGY = Topology("clientkeys")


def rabbitmqctl(*args: str) -> str:
    return subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True, text=True,
                          check=True, timeout=60).stdout


def _usable() -> str | None:
    """Why rabbitmqctl cannot make users here, or None."""
    if shutil.which("rabbitmqctl") is None:
        return "rabbitmqctl is not installed"
    try:
        rabbitmqctl("list_vhosts")
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        return f"rabbitmqctl cannot reach the node: {detail.strip().splitlines()[:1]}"
    return None


@dataclass
class BrokerUsers:
    urls: dict[str, str]  # role -> AMQP URL of its user in the test vhost


def _in_vhost(url: str, vhost: str, user: str | None = None,
              password: str | None = None) -> str:
    parts = urlsplit(url)
    host = f"{parts.hostname}:{parts.port or 5672}"
    credentials = f"{quote(user or parts.username or '')}:{quote(password or parts.password or '')}"
    return urlunsplit(parts._replace(netloc=f"{credentials}@{host}", path="/" + quote(vhost,
                                                                                      safe="")))


@pytest.fixture(scope="module")
def broker_users() -> Iterator[BrokerUsers]:
    """One vhost for the module (rabbitmqctl takes a second or two a call), with the
    durable topology made in it as the definitions make it before any process connects."""
    reason = _usable()
    if reason is not None:
        pytest.skip(f"{reason}: the broker users cannot be made on this machine")
    amqp_url = os.environ.get("CLIENTKEYS_AMQP_URL", DEFAULT_AMQP_URL)
    definitions = json.loads((DEPLOY / "rabbitmq" / "definitions.json").read_text())
    grants = {p["user"]: p for p in definitions["permissions"]}
    vhost = f"ckt-users-{secrets.token_hex(6)}"
    made: list[str] = []
    rabbitmqctl("add_vhost", vhost)
    try:
        guest = urlsplit(amqp_url).username or "guest"
        rabbitmqctl("set_permissions", "-p", vhost, guest, ".*", ".*", ".*")
        urls = {}
        for role, name in BROKER_USERS.items():
            user, password = f"{vhost}-{role}", secrets.token_hex(24)
            rabbitmqctl("add_user", user, password)
            made.append(user)
            grant = grants[name]
            rabbitmqctl("set_permissions", "-p", vhost, user, grant["configure"],
                        grant["write"], grant["read"])
            urls[role] = _in_vhost(amqp_url, vhost, user, password)
        asyncio.run(_make_topology(_in_vhost(amqp_url, vhost)))
        yield BrokerUsers(urls)
    finally:
        for user in made:
            rabbitmqctl("delete_user", user)
        rabbitmqctl("delete_vhost", vhost)


async def _make_topology(url: str) -> None:
    bus = await AmqpBus.connect(url, TOPOLOGY)
    await bus.close()


@pytest.mark.timeout(60)
async def test_each_process_does_its_job_as_its_own_user(
        broker_users: BrokerUsers, settings: Settings) -> None:
    urls = broker_users.urls
    gateway = await AmqpBus.connect(urls["gateway"], TOPOLOGY)
    worker = await AmqpBus.connect(urls["worker"], TOPOLOGY)
    subscriber = await aio_pika.connect(urls["subscriber"])
    try:
        replies: asyncio.Queue[bytes] = asyncio.Queue()
        address = await gateway.listen_for_replies(lambda body, headers: replies.put_nowait(
            body))
        seen_by_gateway: asyncio.Queue[str] = asyncio.Queue()

        async def on_event(routing_key: str, body: bytes, headers: Mapping[str, object]
                           ) -> None:
            seen_by_gateway.put_nowait(routing_key)

        await gateway.subscribe_events(["client.#"], on_event)
        channel = await subscriber.channel()
        events = await channel.get_exchange(TOPOLOGY.events_exchange, ensure=True)
        billing = await channel.declare_queue(TOPOLOGY.subscriber_queue("billing"),
                                              exclusive=True)
        await billing.bind(events, routing_key="client.*.created")
        seen_by_subscriber: asyncio.Queue[bytes] = asyncio.Queue()

        async def on_subscribed(message: AbstractIncomingMessage) -> None:
            seen_by_subscriber.put_nowait(message.body)

        await billing.consume(on_subscribed, no_ack=True)

        async def apply(message: IncomingCommand) -> None:
            await worker.publish_event("client.oidc.created", b"event", message_id="e1",
                                       headers={})
            assert message.reply_to is not None
            await worker.publish_reply(message.reply_to, b"outcome", correlation_id="m1",
                                       headers={})
            await message.ack()

        await worker.consume_commands(apply, prefetch=1)
        await gateway.publish_command(b"command", message_id="m1", reply_to=address,
                                      headers={})  # confirmed by the broker
        assert await asyncio.wait_for(replies.get(), 10) == b"outcome"
        assert await asyncio.wait_for(seen_by_gateway.get(), 10) == "client.oidc.created"
        assert await asyncio.wait_for(seen_by_subscriber.get(), 10) == b"event"
        assert (await gateway.queue_depths()).consumers == 1
        # The dead-letter tooling runs with the gateway's user.
        listed = await run_dlq(settings.with_overrides(amqp_url=urls["gateway"],
                                                       namespace=TOPOLOGY.namespace),
                               "list", [], False)
        assert listed.letters == []
    finally:
        await subscriber.close()
        await worker.close()
        await gateway.close()


Attempt = Callable[[AbstractChannel], Awaitable[object]]


async def _publish_to(channel: AbstractChannel, exchange: str) -> None:
    target = await channel.get_exchange(exchange, ensure=False)
    await target.publish(aio_pika.Message(b'{"kind": "update_client"}'), routing_key=(
        TOPOLOGY.commands_routing_key))


def _publish(exchange: str) -> Attempt:
    return lambda channel: _publish_to(channel, exchange)


async def _ignore(message: AbstractIncomingMessage) -> None:
    return None


async def _consume_commands(channel: AbstractChannel) -> None:
    queue = await channel.declare_queue(TOPOLOGY.commands_queue, passive=True)
    await queue.consume(_ignore)


async def _bind_to_commands(channel: AbstractChannel) -> None:
    queue = await channel.declare_queue(TOPOLOGY.subscriber_queue("spy"), exclusive=True)
    await queue.bind(TOPOLOGY.commands_exchange, routing_key=TOPOLOGY.commands_routing_key)


async def _declare_queue(channel: AbstractChannel, name: str) -> None:
    await channel.declare_queue(name, exclusive=True)


@pytest.mark.parametrize(("role", "attempt"), [
    pytest.param("subscriber", _publish(TOPOLOGY.commands_exchange),
                 id="subscriber-publishes-a-command"),  # the attack
    pytest.param("worker", _publish(TOPOLOGY.commands_exchange),
                 id="worker-publishes-a-command"),
    pytest.param("subscriber", _publish(TOPOLOGY.events_exchange),
                 id="subscriber-publishes-an-event"),
    pytest.param("gateway", _publish(TOPOLOGY.events_exchange),
                 id="gateway-publishes-an-event"),
    pytest.param("subscriber", _publish(TOPOLOGY.replies_exchange),
                 id="subscriber-publishes-a-reply"),
    pytest.param("subscriber", _publish("amq.default"), id="subscriber-uses-the-default"),
    pytest.param("subscriber", _consume_commands, id="subscriber-reads-commands"),
    pytest.param("gateway", _consume_commands, id="gateway-reads-commands"),
    pytest.param("subscriber", _bind_to_commands, id="subscriber-taps-commands"),
    pytest.param("worker", lambda channel: channel.queue_delete(TOPOLOGY.commands_queue),
                 id="worker-deletes-the-commands-queue"),
    pytest.param("gateway", lambda channel: channel.exchange_delete(TOPOLOGY.events_exchange),
                 id="gateway-deletes-the-events-exchange"),
    pytest.param("subscriber",
                 lambda channel: _declare_queue(channel, TOPOLOGY.reply_queue("a" * 32)),
                 id="subscriber-takes-a-reply-queue-name"),
    pytest.param("worker",
                 lambda channel: _declare_queue(channel, TOPOLOGY.subscriber_queue("w")),
                 id="worker-declares-a-queue"),
])
@pytest.mark.timeout(30)
async def test_each_user_is_refused_what_is_not_its_job(
        broker_users: BrokerUsers, role: str, attempt: Attempt) -> None:
    connection = await aio_pika.connect(broker_users.urls[role])
    try:
        channel = await connection.channel(publisher_confirms=True)
        with pytest.raises(ChannelAccessRefused):
            await asyncio.wait_for(attempt(channel), 10)
    finally:
        await connection.close()
