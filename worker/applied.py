"""What applying one command left: its outcome, the events it wrote, and the outbox to
publish, with where that outbox is kept (a client's, or an initial access token's)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from common.commands import Command
from common.events import ClientEvent, RegistrationTokenEvent
from common.outcomes import ErrorCode, OperationError, OperationStatus, Outcome
from common.store import Document


class Outboxes(Protocol):
    """Documents that keep their events in an outbox until the broker confirmed them:
    clients (worker.repository) and initial access tokens (worker.token_store)."""

    async def pending_events(self, id_: str, /) -> list[Document]:
        """The document's outbox (removed or not), oldest first."""

    async def events_sent(self, id_: str, event_ids: list[str], /) -> None:
        """Drop sent events from the document's outbox."""

    async def stale_outboxes(self, written_before: datetime, limit: int) -> list[str]:
        """Ids of documents whose outbox has waited since before `written_before`."""

    async def outbox_backlog(self) -> int:
        """How many events, in every outbox together, wait for the broker's confirm."""


@dataclass(frozen=True)
class KeptIn:
    """Whose outbox: the document `owner` of `outboxes`."""

    outboxes: Outboxes
    owner: str


# A client's events, or an initial access token's.
E = TypeVar("E", ClientEvent, RegistrationTokenEvent)


@dataclass(frozen=True)
class Applied(Generic[E]):
    outcome: Outcome
    # The events this call wrote to the outbox (none on a redelivery or a no-op).
    events: list[E] = field(default_factory=list)
    # The document's whole outbox, oldest first, as this call's write returned it or
    # as it read it: every event written before is there, in order (an event
    # leaves the outbox only once the broker confirmed it), so publishing this
    # keeps the document's order. Events queued after it are not: their own worker,
    # or the relay's sweep, publishes them.
    outbox: list[Document] = field(default_factory=list)
    # Where that outbox is kept; None: in the client the outcome names.
    kept_in: KeptIn | None = None
    # The client as this call stored it, when it wrote the client's secrets: its `_id`
    # and sealed secrets go to the waiting gateway with the outcome
    # (common.outcome_replies), so that gateway need not read them back.
    stored: Mapping[str, Any] | None = None


def outbox_of(document: Any) -> list[Document]:
    return list(document.get("outbox", []))


def failed(command: Command, code: ErrorCode, message: str,
           fields: dict[str, list[str]] | None = None) -> Outcome:
    return Outcome(command.id, command.kind, OperationStatus.FAILED,
                   client_key=command.client_key,
                   error=OperationError(code, message, fields))
