"""How one command message is taken from the queue and settled.

Order of work, and why:
1. decode; a message that is not a command goes to the dead-letter queue;
2. if the operation already finished (a redelivery), answer again and ack;
3. apply the handler (the write to MongoDB happens here);
4. publish the events with confirms, then record the outcome, then ack.
A MongoDB or broker failure in 2-4 is retried with backoff while the message is
held, never acked: the command stays safe in the queue until it is applied.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from pymongo.errors import PyMongoError

from common.bus import BrokerUnavailable, IncomingCommand, MessageBus
from common.commands import Command, UndecodableCommand, decode_command
from common.events import encode_event
from common.outcomes import ErrorCode, OperationError, OperationStatus, Outcome
from worker.handlers import handle
from worker.repository import ClientStore

log = logging.getLogger(__name__)

RETRY_FIRST_S = 0.2
RETRY_MAX_S = 5.0
_TRANSIENT = (PyMongoError, BrokerUnavailable, OSError)


@dataclass
class CommandConsumer:
    bus: MessageBus
    store: ClientStore
    namespace: str
    stopping: asyncio.Event

    async def on_message(self, message: IncomingCommand) -> None:
        try:
            command = decode_command(message.body)
        except UndecodableCommand as exc:
            await self._reject(message, exc)
            return
        delay = RETRY_FIRST_S
        while True:
            try:
                await self._apply(command, message.reply_to)
                break
            except _TRANSIENT as exc:
                if self.stopping.is_set():
                    log.warning("stopping with %s %s unfinished; it goes back to the queue",
                                command.kind, command.id)
                    await message.requeue()
                    return
                log.warning("%s %s: %s; retrying in %.1fs", command.kind, command.id,
                            type(exc).__name__, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)
        await message.ack()

    async def _apply(self, command: Command, reply_to: str | None) -> None:
        outcome = await self.store.get_outcome(command.id)
        if outcome is None:
            applied = await handle(command, self.store)
            for event in applied.events:
                await self.bus.publish_event(event.routing_key,
                                             encode_event(event, self.namespace),
                                             message_id=event.id)
            outcome = applied.outcome
            await self.store.record_outcome(outcome)
            log.info("%s %s %s %s", command.kind, command.id, outcome.status.value,
                     outcome.client_key or "")
        if reply_to:
            await self.bus.publish_reply(reply_to, outcome.encode(), correlation_id=command.id)

    async def _reject(self, message: IncomingCommand, exc: UndecodableCommand) -> None:
        log.error("dead-lettering a message that is not a command: %s", exc)
        if exc.command_id:
            outcome = Outcome(exc.command_id, "unknown", OperationStatus.FAILED,
                              error=OperationError(ErrorCode.UNDELIVERABLE, str(exc)))
            try:
                await self.store.record_outcome(outcome)
            except PyMongoError:
                log.warning("could not record the failure of %s", exc.command_id)
        await message.dead_letter()
