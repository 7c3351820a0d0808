"""A client read started beside its command's operation, handed to the handler.

A command that changes one client reads it first, and starting its operation
does not depend on that read, so the consumer sends both at once: one round
trip of waiting instead of two. The handler sees an ordinary ClientStore whose
first plain read of that client is the one already made; every other call goes
to the store. Reading before the operation is started is harmless: the read
decides nothing until the start says the command may be applied, and the
write that follows is guarded by what was read.
"""

from __future__ import annotations

from datetime import datetime

from common.audit import AuditEntry
from common.client_documents import ClientDocument
from common.operations_store import Started
from common.outcomes import Outcome
from common.store import Document
from worker.repository import ClientStore


class ReadAhead:
    """`store`, except that the first `get_client(key)` answers `document`."""

    def __init__(self, store: ClientStore, key: str, document: ClientDocument | None) -> None:
        self._store = store
        self.tokens = store.tokens
        self._key: str | None = key
        self._document = document

    async def get_client(self, key: str, *, include_removed: bool = False
                         ) -> ClientDocument | None:
        if key == self._key and not include_removed:
            self._key = None  # once: a read after a lost race must be a new one
            return self._document
        return await self._store.get_client(key, include_removed=include_removed)

    async def claim_client_key(self, operation_id: str, candidate: str) -> str:
        return await self._store.claim_client_key(operation_id, candidate)

    async def insert_client(self, document: ClientDocument) -> None:
        await self._store.insert_client(document)

    async def update_client(self, current: ClientDocument, changes: ClientDocument,
                            command_id: str, event: Document | None) -> ClientDocument | None:
        return await self._store.update_client(current, changes, command_id, event)

    async def pending_events(self, key: str) -> list[Document]:
        return await self._store.pending_events(key)

    async def events_sent(self, key: str, event_ids: list[str]) -> None:
        await self._store.events_sent(key, event_ids)

    async def stale_outboxes(self, written_before: datetime, limit: int) -> list[str]:
        return await self._store.stale_outboxes(written_before, limit)

    async def outbox_backlog(self) -> int:
        return await self._store.outbox_backlog()

    async def start_operation(self, operation_id: str, kind: str, *,
                              claim_key: str | None = None, actor: str | None = None,
                              request_id: str | None = None) -> Started:
        return await self._store.start_operation(operation_id, kind, claim_key=claim_key,
                                                 actor=actor, request_id=request_id)

    async def record_outcome(self, outcome: Outcome) -> None:
        await self._store.record_outcome(outcome)

    async def record_audit(self, entry: AuditEntry) -> None:
        await self._store.record_audit(entry)
