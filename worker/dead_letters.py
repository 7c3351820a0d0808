"""The dead-letter queue, for operators: `clientkeys dlq list|replay|purge`.

A command lands there when it failed on every delivery (the worker set it
aside, or the broker's delivery limit did). Replaying resets its failed
operation to pending and queues it again, once the cause is fixed; purging
drops it and marks its operation failed. `run_dlq` carries out an action and
returns what it saw and did; the CLI (clientkeys.cli) prints it. Only metadata
is ever returned: a command holds its secret sealed, and none of it is shown.

A replay is not signed again: it keeps the body, message id, `reply_to` and
MAC headers it arrived with (common.command_mac), so a command a gateway
signed is accepted again. A message no key of the keyring vouches for (a
worker refused it unread) is listed as `unauthenticated` without reading its
body, which is its sender's word: it is never replayed, and purging it drops
it without touching the operation it may name.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractIncomingMessage, AbstractQueue
from aio_pika.exceptions import ChannelNotFoundEntity

from common import command_mac
from common.amqp_bus import declare_exchanges, declare_queue
from common.commands import UndecodableCommand, decode_command
from common.keyring import SecretKeyring
from common.operations_store import fail_purged, reset_for_replay
from common.settings import PREFIX, Settings, SettingsError
from common.store import connect, database
from common.topology import Topology

UNAUTHENTICATED = "unauthenticated"


@dataclass
class DeadLetter:
    message: AbstractIncomingMessage
    command_id: str
    kind: str
    client_key: str | None
    reason: str
    # A gateway signed it (common.command_mac); otherwise nothing of it is believed.
    authentic: bool = True

    def summary(self) -> dict[str, Any]:
        return {"command_id": self.command_id, "kind": self.kind,
                "client_key": self.client_key, "reason": self.reason}


@dataclass(frozen=True)
class DlqResult:
    """What one dlq action saw and did."""

    action: str
    # The dead-lettered commands listed, or those replayed or purged (DeadLetter.summary).
    letters: list[dict[str, Any]]
    # Command ids a replay left alone: no gateway signed them, so only a purge may take them.
    not_replayed: list[str]
    # How many commands the dead-letter queue held.
    found: int


def _dead_letter(message: AbstractIncomingMessage, keyring: SecretKeyring) -> DeadLetter:
    headers = message.headers or {}
    rejection = command_mac.verify_command(keyring, message.body, message_id=message.message_id,
                                           reply_to=message.reply_to, headers=headers)
    if rejection is not None:
        shown_id = "".join(c if c.isprintable() else "?" for c in message.message_id or "?")
        return DeadLetter(message, shown_id, UNAUTHENTICATED, None,
                          f"{UNAUTHENTICATED} ({rejection.value})", authentic=False)
    reason = str(headers.get("x-first-death-reason", "unknown"))
    try:
        command = decode_command(message.body)
        return DeadLetter(message, command.id, command.kind, command.client_key, reason)
    except UndecodableCommand as exc:
        return DeadLetter(message, exc.command_id or str(message.message_id or "?"),
                          "undecodable", None, reason)


async def checked_dead_letters(channel: AbstractChannel, topology: Topology
                               ) -> tuple[AbstractExchange, AbstractQueue]:
    """The commands exchange (replays go there) and the dead-letter queue of the table:
    checked, not declared, since the gateway's broker user may configure neither."""
    try:
        exchanges = await declare_exchanges(
            channel, [topology.exchange(topology.commands_exchange)], passive=True)
        queue = await declare_queue(channel, topology.queue(topology.dead_letter_queue),
                                    passive=True)
    except ChannelNotFoundEntity:
        raise SettingsError(
            f"RabbitMQ has no {topology.commands_exchange!r} exchange or "
            f"{topology.dead_letter_queue!r} queue: is {PREFIX}NAMESPACE right, and has a "
            "gateway or worker of it started once?") from None
    return exchanges[topology.commands_exchange], queue


async def _take_all(queue: AbstractQueue, keyring: SecretKeyring) -> list[DeadLetter]:
    """Every message of the queue, held unacknowledged until settled by the caller."""
    taken = []
    while (message := await queue.get(no_ack=False, fail=False)) is not None:
        taken.append(_dead_letter(message, keyring))
    return taken


def _replayed(message: AbstractIncomingMessage) -> aio_pika.Message:
    """The command as it was first published: what its MAC covers is kept as it was."""
    headers = message.headers or {}
    return aio_pika.Message(
        message.body, message_id=message.message_id, correlation_id=message.correlation_id,
        reply_to=message.reply_to, content_type=message.content_type,
        headers={name: headers[name] for name in command_mac.HEADERS if name in headers},
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT)


def _chosen(letters: list[DeadLetter], ids: Iterable[str], everything: bool
            ) -> list[DeadLetter]:
    wanted = set(ids)
    return [d for d in letters if everything or d.command_id in wanted]


async def run_dlq(settings: Settings, action: str, ids: list[str], everything: bool
                  ) -> DlqResult:
    """Carry out one dlq action; returns what it listed or touched."""
    topology = Topology(settings.namespace)
    keyring = settings.live_keyring()  # which letters a gateway signed
    connection = await aio_pika.connect(settings.amqp_url)
    client = connect(settings.mongodb_uri, app_name="clientkeys-dlq")
    try:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        commands, queue = await checked_dead_letters(channel, topology)
        letters = await _take_all(queue, keyring)
        chosen = [] if action == "list" else _chosen(letters, ids, everything)
        kept_forged = [d for d in chosen if action == "replay" and not d.authentic]
        chosen = [d for d in chosen if d not in kept_forged]
        db = database(client)
        for letter in chosen:
            if action == "replay":
                await reset_for_replay(db, letter.command_id)
                await commands.publish(_replayed(letter.message),
                                       routing_key=topology.commands_routing_key)
            elif letter.authentic:
                await fail_purged(db, letter.command_id)
            await letter.message.ack()
        for letter in letters:
            if letter not in chosen:
                await letter.message.nack(requeue=True)
        shown = letters if action == "list" else chosen
        return DlqResult(action, [d.summary() for d in shown],
                         [d.command_id for d in kept_forged], len(letters))
    finally:
        await client.close()
        await connection.close()
