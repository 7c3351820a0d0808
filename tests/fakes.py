"""Small recording fakes for unit tests of the worker's logic."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import cast

from common.audit import AuditEntry
from common.client_documents import ClientDocument
from common.command_mac import sign_command
from common.keyring import Keyring, new_key_entry
from common.memory_bus import MemoryBus
from common.operations_store import Started
from common.outcomes import OperationStatus, Outcome
from common.registration_tokens import RegistrationTokenDocument
from common.store import APPLIED_COMMANDS_KEPT, Document, now
from worker.repository import AlreadyCreated
from worker.token_store import TokenExists

# The keyring the fake gateway signs commands with and the consumer under test checks.
FAKE_KEYRING = Keyring.parse(new_key_entry("fake"))
# FakeMessage's default headers: sign the message as a gateway would.
SIGNED: Mapping[str, object] = MappingProxyType({})


class InMemoryTokenStore:
    """TokenStore in a dict, with the same guards as worker.token_store's writes."""

    def __init__(self) -> None:
        self.tokens: dict[str, RegistrationTokenDocument] = {}

    async def get_token(self, id_: str) -> RegistrationTokenDocument | None:
        found = self.tokens.get(id_)
        return None if found is None else copy.deepcopy(found)

    async def insert_token(self, document: RegistrationTokenDocument) -> None:
        if document["_id"] in self.tokens:
            raise TokenExists(copy.deepcopy(self.tokens[document["_id"]]))
        self.tokens[document["_id"]] = copy.deepcopy(document)

    async def revoke_token(self, id_: str, command_id: str, at: datetime,
                           event: Document) -> bool:
        token = self.tokens.get(id_)
        if token is None or token["revoked"]:
            return False
        token["revoked"], token["revoked_at"], token["outbox_since"] = True, at, at
        token.setdefault("outbox", []).append(copy.deepcopy(event))
        token.setdefault("applied_commands", []).append(command_id)
        return True

    async def take_use(self, id_: str, command_id: str, at: datetime) -> bool:
        token = self.tokens.get(id_)
        if token is None:
            return False
        if command_id in token.get("used_by", []):
            return True
        if token["uses_left"] <= 0 or token["revoked"] or token["expires_at"] <= at:
            return False
        token["uses_left"] -= 1
        token.setdefault("used_by", []).append(command_id)
        return True

    async def pending_events(self, id_: str) -> list[Document]:
        return copy.deepcopy(self.tokens.get(id_, {}).get("outbox", []))

    async def events_sent(self, id_: str, event_ids: list[str]) -> None:
        token = self.tokens.get(id_)
        if token is not None:
            token["outbox"] = [e for e in token.get("outbox", []) if e["id"] not in event_ids]
            if not token["outbox"]:
                token.pop("outbox_since", None)

    async def stale_outboxes(self, written_before: datetime, limit: int) -> list[str]:
        return [id_ for id_, t in self.tokens.items()
                if "outbox_since" in t and t["outbox_since"] < written_before][:limit]

    async def outbox_backlog(self) -> int:
        return sum(len(t.get("outbox", [])) for t in self.tokens.values())


class InMemoryClientStore:
    """ClientStore in a dict, with the same version guard and uniqueness as MongoDB."""

    def __init__(self) -> None:
        self.tokens = InMemoryTokenStore()
        # Plain dicts, so that a test may store any shape it wants to see handled.
        self.clients: dict[str, Document] = {}
        self.outcomes: dict[str, Outcome] = {}
        self.audit: dict[str, AuditEntry] = {}
        self.claimed_keys: dict[str, str] = {}
        self.started: list[str] = []
        self.fail_next: list[Exception] = []

    def _maybe_fail(self) -> None:
        if self.fail_next:
            raise self.fail_next.pop(0)

    async def get_client(self, key: str, *, include_removed: bool = False
                         ) -> ClientDocument | None:
        self._maybe_fail()
        found = self.clients.get(key)
        if found is None or (found.get("removed_at") and not include_removed):
            return None
        return cast(ClientDocument, copy.deepcopy(found))

    async def claim_client_key(self, operation_id: str, candidate: str) -> str:
        self._maybe_fail()
        return self.claimed_keys.setdefault(operation_id, candidate)

    async def insert_client(self, document: ClientDocument) -> None:
        self._maybe_fail()
        existing = self.clients.get(document["key"])
        if existing is not None:
            if existing["created_by"] == document["created_by"]:
                raise AlreadyCreated(cast(ClientDocument, copy.deepcopy(existing)))
            raise KeyError(f"duplicate key {document['key']}")
        self.clients[document["key"]] = cast(Document, copy.deepcopy(document))

    async def update_client(self, read: ClientDocument, changes: ClientDocument,
                            command_id: str, event: Document | None) -> ClientDocument | None:
        self._maybe_fail()
        current = self.clients.get(read["key"])
        if (current is None or current["version"] != read["version"]
                or current.get("removed_at")
                or len(current.get("outbox", [])) != len(read.get("outbox", []))):
            return None
        current.update(copy.deepcopy(changes))
        current["version"] += 1
        current["applied_commands"] = (current["applied_commands"] + [command_id])[
            -APPLIED_COMMANDS_KEPT:]
        if event is not None:
            current.setdefault("outbox", []).append(copy.deepcopy(event))
            current["outbox_since"] = now()
        return cast(ClientDocument, copy.deepcopy(current))

    async def pending_events(self, key: str) -> list[Document]:
        self._maybe_fail()
        return copy.deepcopy(self.clients.get(key, {}).get("outbox", []))

    async def events_sent(self, key: str, event_ids: list[str]) -> None:
        self._maybe_fail()
        current = self.clients.get(key)
        if current is None:
            return
        current["outbox"] = [e for e in current.get("outbox", []) if e["id"] not in event_ids]
        if not current["outbox"]:
            current.pop("outbox_since", None)

    async def stale_outboxes(self, written_before: datetime, limit: int) -> list[str]:
        self._maybe_fail()
        waiting = sorted((c["outbox_since"], key) for key, c in self.clients.items()
                         if c.get("outbox_since") and c["outbox_since"] < written_before)
        return [key for _, key in waiting[:limit]]

    async def outbox_backlog(self) -> int:
        return sum(len(c.get("outbox", [])) for c in self.clients.values())

    async def start_operation(self, operation_id: str, kind: str, *,
                              claim_key: str | None = None, actor: str | None = None,
                              request_id: str | None = None) -> Started:
        self._maybe_fail()
        self.started.append(operation_id)
        outcome = self.outcomes.get(operation_id)
        if outcome and outcome.status is not OperationStatus.PENDING:
            return Started(outcome)
        if claim_key is None:
            return Started()
        return Started(client_key=self.claimed_keys.setdefault(operation_id, claim_key))

    async def record_outcome(self, outcome: Outcome) -> None:
        self._maybe_fail()
        self.outcomes[outcome.operation_id] = outcome

    async def record_audit(self, entry: AuditEntry) -> None:
        self._maybe_fail()
        self.audit.setdefault(entry.id, entry)


class RecordingBus(MemoryBus):
    """The in-memory bus (so it keeps the bus contract, tests/integration/
    test_bus_contract.py), recording what is published; `fail_events` makes the
    next event publishes fail with the exceptions given."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[tuple[str, bytes]] = []
        self.replies: list[tuple[str, bytes]] = []
        # The MAC headers each event and reply was published with, in the same order.
        self.event_headers: list[dict[str, str]] = []
        self.reply_headers: list[dict[str, str]] = []
        self.fail_events: list[Exception] = []

    async def publish_event(self, routing_key: str, body: bytes, *, message_id: str,
                            headers: Mapping[str, str],
                            correlation_id: str | None = None) -> None:
        if self.fail_events:
            raise self.fail_events.pop(0)
        self.events.append((routing_key, body))
        self.event_headers.append(dict(headers))
        await super().publish_event(routing_key, body, message_id=message_id,
                                    headers=headers, correlation_id=correlation_id)

    async def publish_reply(self, reply_to: str, body: bytes, *, correlation_id: str,
                            headers: Mapping[str, str]) -> None:
        self.replies.append((reply_to, body))
        self.reply_headers.append(dict(headers))
        await super().publish_reply(reply_to, body, correlation_id=correlation_id,
                                    headers=headers)


@dataclass
class FakeMessage:
    """A command message as a gateway sends it: signed under FAKE_KEYRING unless
    other `headers` are given."""

    body: bytes
    reply_to: str | None = "gateway-1"
    redelivered: bool = False
    previous_deliveries: int = 0
    settled: list[str] = field(default_factory=list)
    message_id: str | None = "message-1"
    headers: Mapping[str, object] = field(default_factory=lambda: SIGNED)

    def __post_init__(self) -> None:
        if self.headers is SIGNED:
            assert self.message_id is not None
            self.headers = sign_command(FAKE_KEYRING, self.body, message_id=self.message_id,
                                        reply_to=self.reply_to)

    async def ack(self) -> None:
        self.settled.append("ack")

    async def requeue(self) -> None:
        self.settled.append("requeue")

    async def retry(self) -> None:
        self.settled.append("retry")

    async def dead_letter(self) -> None:
        self.settled.append("dead_letter")
