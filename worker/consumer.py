"""How one command message is taken from the queue and settled.

Order of work, and why:
0. check its MAC (common.command_mac) before reading anything of it: a message
   no key of the keyring vouches for was not sent by a gateway, so it is
   dead-lettered, counted and logged by message id, and nothing else happens
   (no operation, no audit entry, no reply);
1. decode; a message that is not a command goes to the dead-letter queue;
2. mark the operation started (a create claims its client's key in the same
   write) and, at the same time, read the client a command changes
   (worker.read_ahead); if the operation already finished (a redelivery),
   append its audit entry in case it was lost, answer again and ack; if the
   gateway withdrew it (its publish was never confirmed), answer and ack;
3. apply the handler: one write stores the change and its events (the outbox),
   and the outbox it left is known without reading it back;
4. publish that outbox with confirms; then, at the same time, clear it, append
   the audit entry (keyed by the command id, so once) and record the outcome;
   answer the gateway, ack.
So a command waits for three database round trips (tests/integration/
test_round_trips.py). The audit entry need not precede the outcome: until the
message is acked a redelivery comes, finds the outcome and appends the entry
again (a no-op if it is there), so none is lost; an outbox not cleared is
published again by the relay's sweep, with the same event ids.
A command whose operation is gone although it is older than finished operations
are kept (`operations_kept`) may have been withdrawn and its record expired
since: it is set aside, never applied (one younger than that lost its record
some other way, and is applied as before).
A MongoDB or broker failure in 2-4 is retried with backoff while the message is
held, never acked: the command stays safe in the queue until it is applied.
Any other failure is retried through the queue (counted by the broker) a few
times, then the command is dead-lettered and its operation marked failed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from common.audit import entry_for_command
from common.bus import BrokerUnavailable, IncomingCommand, MessageBus
from common.command_mac import sign_reply, verify_command
from common.commands import Command, UndecodableCommand, decode_command
from common.keyring import SecretKeyring
from common.logs import correlated
from common.operations_store import Started
from common.outcome_replies import OutcomeReply, StoredSecrets
from common.outcomes import ErrorCode, OperationError, OperationStatus, Outcome
from common.store import OPERATIONS_RETENTION_MIN_H, is_outage, now
from common.topology import COMMAND_DELIVERY_LIMIT
from worker.applied import KeptIn
from worker.handlers import handle, key_to_claim
from worker.read_ahead import ReadAhead
from worker.relay import OutboxRelay
from worker.repository import ClientStore
from worker.worker_metrics import WorkerMetrics

log = logging.getLogger(__name__)

RETRY_FIRST_S = 0.2
RETRY_MAX_S = 5.0


T = TypeVar("T")
U = TypeVar("U")


async def _both(first: Awaitable[T], second: Awaitable[U]) -> tuple[T, U]:
    """Both at once; if either fails, the first failure once both have ended."""
    a, b = await asyncio.gather(first, second, return_exceptions=True)
    for result in (a, b):
        if isinstance(result, BaseException):
            raise result
    return a, b  # type: ignore[return-value]  # neither is an exception here


async def _all(*writes: Awaitable[None]) -> None:
    """All at once; if any fails, the first failure once all have ended."""
    for result in await asyncio.gather(*writes, return_exceptions=True):
        if isinstance(result, BaseException):
            raise result


def _withdrawn(outcome: Outcome) -> bool:
    """Failed before any worker saw it (the gateway withdrew or fenced it)."""
    return outcome.error is not None and outcome.error.code is ErrorCode.UNDELIVERABLE


class OperationExpired(Exception):
    """The command's operation is gone and the command is older than operations are kept."""


def _is_outage(exc: BaseException) -> bool:
    """Retry in place (holding the message) only when a dependency is away."""
    return isinstance(exc, BrokerUnavailable | OSError) or is_outage(exc)


@dataclass
class CommandConsumer:
    bus: MessageBus
    store: ClientStore
    relay: OutboxRelay
    stopping: asyncio.Event
    metrics: WorkerMetrics
    keyring: SecretKeyring
    # How long finished operations are kept (CLIENTKEYS_OPERATIONS_RETENTION_H).
    operations_kept: timedelta = timedelta(hours=OPERATIONS_RETENTION_MIN_H)

    async def on_message(self, message: IncomingCommand) -> None:
        rejection = verify_command(self.keyring, message.body, message_id=message.message_id,
                                   reply_to=message.reply_to, headers=message.headers)
        if rejection is not None:
            # The message id only: the rest of an unauthenticated message is the sender's.
            log.warning("refused command message %r: %s", message.message_id,
                        rejection.value)
            self.metrics.commands_rejected.labels(rejection.value).inc()
            await message.dead_letter()
            return
        try:
            command = decode_command(message.body)
        except UndecodableCommand as exc:
            await self._set_aside(message, exc.command_id, "unknown", ErrorCode.UNDELIVERABLE,
                                  str(exc))
            return
        # Every line logged while it is handled carries where it came from.
        with correlated(request_id=command.request_id, command_id=command.id,
                        kind=command.kind):
            await self._handle(message, command)

    async def _handle(self, message: IncomingCommand, command: Command) -> None:
        delay = RETRY_FIRST_S
        while True:
            try:
                await self._apply(command, message.reply_to)
            except OperationExpired:
                await self._set_aside(
                    message, command.id, command.kind, ErrorCode.UNDELIVERABLE,
                    "Its operation had expired, so whether it was withdrawn is unknown; "
                    "not applied.", reply_to=message.reply_to)
                return
            except Exception as exc:
                if not _is_outage(exc):
                    log.exception("%s %s failed unexpectedly", command.kind, command.id)
                    await self._retry_later_or_set_aside(message, command)
                    return
                if self.stopping.is_set():
                    log.warning("stopping with %s %s unfinished; it goes back to the queue",
                                command.kind, command.id)
                    await message.requeue()
                    return
                log.warning("%s %s: %s; retrying in %.1fs", command.kind, command.id,
                            type(exc).__name__, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)
                continue
            await message.ack()
            return

    async def _retry_later_or_set_aside(self, message: IncomingCommand,
                                        command: Command) -> None:
        """A failure that is not an outage: try again a few times, then set it aside."""
        if message.previous_deliveries + 1 >= COMMAND_DELIVERY_LIMIT:
            await self._set_aside(
                message, command.id, command.kind, ErrorCode.INTERNAL,
                "The command failed on every attempt and was set aside in the dead-letter "
                "queue for an operator.", reply_to=message.reply_to, command=command)
            return
        await asyncio.sleep(RETRY_FIRST_S)
        await message.retry()

    async def _apply(self, command: Command, reply_to: str | None) -> None:
        started, store = await self._start(command)
        if started.recorded and self._older_than_operations(command):
            raise OperationExpired(command.id)
        outcome, stored = started.outcome, None
        if outcome is None:
            applied = await handle(command, store, self.keyring,
                                   claimed_key=started.client_key)
            outcome, stored = applied.outcome, applied.stored
            kept = applied.kept_in or (KeptIn(self.store, outcome.client_key)
                                       if outcome.client_key else None)
            sent: list[str] = []
            if kept and applied.outbox:
                sent = await self.relay.send(applied.outbox)
            writes = [self.store.record_audit(entry_for_command(command, outcome, now())),
                      self.store.record_outcome(outcome)]
            if kept and sent:
                writes.append(kept.outboxes.events_sent(kept.owner, sent))
            await _all(*writes)
            self._count(command, outcome)
        elif not _withdrawn(outcome):
            # Finished before: its entry was written beside the outcome, unless that
            # write was lost; appending it again is a no-op when it was not.
            await self.store.record_audit(entry_for_command(command, outcome, now()))
        if reply_to:
            await self._reply(reply_to, outcome, stored)

    async def _reply(self, reply_to: str, outcome: Outcome,
                     stored: Mapping[str, Any] | None = None) -> None:
        """The outcome to the gateway that waits for it, with its MAC (common.command_mac):
        the gateway applies it to its read model and answers its caller with it. With
        `stored` (the client, when the command wrote its secrets), also its `_id` and
        sealed secrets (common.outcome_replies)."""
        body = OutcomeReply(outcome, StoredSecrets.of(stored) if stored else None).encode()
        await self.bus.publish_reply(reply_to, body, correlation_id=outcome.operation_id,
                                     headers=sign_reply(self.keyring, body))

    def _older_than_operations(self, command: Command) -> bool:
        """Whether its operation may have finished and expired (no age: cannot tell)."""
        return (command.issued_at is not None
                and now() - command.issued_at > self.operations_kept)

    async def _start(self, command: Command) -> tuple[Started, ClientStore]:
        """Start the operation and, at the same time, read the client it changes."""
        start = self.store.start_operation(command.id, command.kind,
                                           claim_key=key_to_claim(command),
                                           actor=command.actor, request_id=command.request_id)
        key = command.client_key
        if key is None:
            return await start, self.store
        started, current = await _both(start, self.store.get_client(key))
        return started, ReadAhead(self.store, key, current)

    def _count(self, command: Command, outcome: Outcome) -> None:
        settled = ("succeeded" if outcome.status is OperationStatus.SUCCEEDED else "rejected")
        self.metrics.commands_applied.labels(command.kind, settled).inc()
        took_s = None
        if command.issued_at is not None:
            took_s = max(0.0, (now() - command.issued_at).total_seconds())
            self.metrics.command_duration.labels(command.kind).observe(took_s)
        log.info("command %s", settled, extra={
            "client_key": outcome.client_key,
            "error": outcome.error.code.value if outcome.error else None,
            "duration_ms": None if took_s is None else round(took_s * 1000, 2)})

    async def _set_aside(self, message: IncomingCommand, command_id: str | None, kind: str,
                         code: ErrorCode, reason: str, reply_to: str | None = None,
                         command: Command | None = None) -> None:
        """Dead-letter the message and mark its operation failed with the reason."""
        log.error("dead-lettering command %s: %s", command_id or "(no id)", reason)
        self.metrics.commands_failed.labels(kind).inc()
        if command_id:
            outcome = Outcome(command_id, kind, OperationStatus.FAILED,
                              error=OperationError(code, reason))
            try:
                if command is not None:
                    await self.store.record_audit(entry_for_command(command, outcome, now()))
                await self.store.record_outcome(outcome)
                if reply_to:
                    await self._reply(reply_to, outcome)
            except Exception as exc:
                if not _is_outage(exc):
                    raise
                log.warning("could not record the failure of %s", command_id)
        await message.dead_letter()
