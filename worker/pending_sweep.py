"""Self-registered clients nobody approved are removed after
`PENDING_REGISTRATION_TTL_DAYS`, with a `removed` event.

Self-registration makes a client at once, so anyone with an initial access token
(or anyone at all, with open registration) leaves clients behind that an
administrator never looked at. A periodic sweep in each worker finds those
pending since their creation for longer than the setting, through the partial
index `pending_self_registered` (status_changed_at of the self-registered clients
still pending, and of no others: never a scan, on SecantusDB either), and
removes each the way a `remove_client` command does: the same handler, the same
single write of the tombstone with its event in the outbox, the relay, the
audit entry (actor `system:pending-registration-expiry`). Each removal is
pinned to the version read, so a client approved in between stays. "Never
approved" is a client whose status never changed (`status_changed_at` is its
`created_at`): one an RFC 7592 update sent back to pending was approved once
and stays until an administrator decides.

Several workers may sweep at once: the version guard lets one removal through
and the others find the client gone. Stopping cancels the loop between batches.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Final

from pymongo.asynchronous.database import AsyncDatabase

from common.audit import entry_for_command
from common.client_documents import LIVE
from common.client_origin import OriginKind
from common.clients import Status
from common.commands import RemoveClient
from common.keyring import SecretKeyring
from common.outcomes import OperationStatus
from common.store import CLIENTS, PENDING_SELF_REGISTERED, Document, now
from worker.every import run_every
from worker.handlers import handle
from worker.relay import OutboxRelay
from worker.repository import ClientStore

log = logging.getLogger(__name__)

SWEEP_EVERY_S: Final = 3600.0
SWEEP_BATCH: Final = 500
SWEEP_ACTOR: Final = "system:pending-registration-expiry"


class PendingSweep:
    def __init__(self, db: AsyncDatabase[Document], store: ClientStore, relay: OutboxRelay,
                 keyring: SecretKeyring, ttl_days: int, every_s: float = SWEEP_EVERY_S
                 ) -> None:
        self._db, self._store, self._relay, self._keyring = db, store, relay, keyring
        self._ttl = timedelta(days=ttl_days)
        self._every_s = every_s

    async def expired(self, at: datetime) -> list[tuple[str, int]]:
        """(key, version) of the self-registered clients pending since before the TTL."""
        found = self._db[CLIENTS].find(
            {"status": Status.PENDING.value, "origin.kind": OriginKind.REGISTRATION.value,
             "status_changed_at": {"$lt": at - self._ttl}, **LIVE},
            {"key": 1, "version": 1, "created_at": 1, "status_changed_at": 1},
        ).hint(PENDING_SELF_REGISTERED).limit(SWEEP_BATCH)
        return [(doc["key"], doc["version"]) async for doc in found
                if doc.get("status_changed_at") == doc.get("created_at")]

    async def sweep(self) -> int:
        """Remove what expired; returns how many were removed."""
        removed = 0
        for key, version in await self.expired(now()):
            command_id = str(uuid.uuid4())
            command = RemoveClient(id=command_id, actor=SWEEP_ACTOR, request_id=command_id,
                                   client_key=key, expected_version=version)
            applied = await handle(command, self._store, self._keyring)
            if applied.outbox:
                await self._relay.publish(key, applied.outbox)
            await self._store.record_audit(entry_for_command(command, applied.outcome, now()))
            removed += applied.outcome.status is OperationStatus.SUCCEEDED
        if removed:
            log.info("removed %d self-registered client(s) never approved", removed)
        return removed

    async def run(self) -> None:
        await run_every(self._every_s, self.sweep, "pending registration sweep", log)
