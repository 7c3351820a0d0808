"""The audit trail: one entry per management action, whatever became of it.

Who did what to which client, from where, and how it ended — never a value,
only the names of the fields an action touched (a secret change reads
`"secret"`). Entries are appended and never changed: the API has no route that
writes or deletes one.

An action the gateway settles itself (refused for lack of permission, rejected
by validation, failed before its command was queued) is recorded by the
gateway. A command that reached the workers is recorded by the worker that
applied it, with the command's id as the entry's id, so a redelivered command
is recorded once and a command answered with 202 still ends up with its real
outcome. Both store entries through `common.audit_store`, which alone knows the
stored shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from common.command_base import audited
from common.commands import Command
from common.outcomes import ErrorCode, OperationStatus, Outcome

# A request's inputs that set the secret; anything not a client field is not recorded.
_SECRET_INPUTS = ("secret", "secret_confirmation", "generate_secret")
_REJECTIONS = (ErrorCode.INVALID, ErrorCode.NOT_FOUND, ErrorCode.CONFLICT, ErrorCode.STALE,
               ErrorCode.TOKEN_UNUSABLE)


class AuditOutcome(StrEnum):
    APPLIED = "applied"      # the change was made
    REJECTED = "rejected"    # invalid, unknown client, conflict or stale precondition
    REFUSED = "refused"      # the caller lacks the permission
    FAILED = "failed"        # not made because something was unavailable or broke


@dataclass(frozen=True)
class AuditEntry:
    id: str
    at: datetime
    actor: str | None
    action: str
    client_key: str | None
    outcome: AuditOutcome
    request_id: str | None
    remote_addr: str | None
    fields: list[str] = field(default_factory=list)
    operation_id: str | None = None
    status: int | None = None  # the HTTP status, for actions the gateway settled
    reason: str | None = None


def field_names(names: Any) -> list[str]:
    """The client fields a request's keys name, in order (its secret inputs as `secret`)."""
    return audited("secret" if name in _SECRET_INPUTS else name for name in names)


def outcome_of(outcome: Outcome) -> AuditOutcome:
    if outcome.status is OperationStatus.SUCCEEDED:
        return AuditOutcome.APPLIED
    if outcome.error is not None and outcome.error.code in _REJECTIONS:
        return AuditOutcome.REJECTED
    return AuditOutcome.FAILED


def entry_for_command(command: Command, outcome: Outcome, at: datetime) -> AuditEntry:
    return AuditEntry(
        id=command.id, at=at, actor=command.actor, action=command.kind,
        client_key=outcome.client_key or command.client_key, outcome=outcome_of(outcome),
        request_id=command.request_id, remote_addr=command.remote_addr,
        fields=command.audited_fields(), operation_id=command.id,
        reason=outcome.error.message if outcome.error else None)
