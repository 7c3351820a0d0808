"""Outcomes: how a command ended, as stored in the operation and sent to the gateway
(common.outcome_replies).

The worker writes the outcome to the `operations` collection first and only then
sends it to the waiting gateway, so a lost reply never loses an outcome.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class OperationStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class ErrorCode(StrEnum):
    """Why a command failed; the gateway turns each into one HTTP status."""

    NOT_FOUND = "not_found"
    INVALID = "invalid"
    CONFLICT = "conflict"
    STALE = "stale"
    UNDELIVERABLE = "undeliverable"
    INTERNAL = "internal"
    # A self-registration whose initial access token has no use left to take: expired,
    # revoked or used up by the time the worker came to it (RFC 7591's 401).
    TOKEN_UNUSABLE = "token_unusable"


@dataclass(frozen=True)
class OperationError:
    code: ErrorCode
    message: str
    fields: dict[str, list[str]] | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"code": self.code.value, "message": self.message}
        if self.fields:
            data["fields"] = self.fields
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OperationError:
        return cls(ErrorCode(data["code"]), str(data["message"]), data.get("fields"))


@dataclass(frozen=True)
class Outcome:
    operation_id: str
    kind: str
    status: OperationStatus
    client_key: str | None = None
    client: dict[str, Any] | None = None
    error: OperationError | None = None
    warnings: list[str] = field(default_factory=list)
    # The public record of the initial access token a token command made or revoked.
    token: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "operation_id": self.operation_id,
            "kind": self.kind,
            "status": self.status.value,
            "client_key": self.client_key,
            "client": self.client,
            "error": self.error.to_dict() if self.error else None,
            "warnings": self.warnings,
            "token": self.token,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Outcome:
        error = data.get("error")
        return cls(
            operation_id=str(data["operation_id"]),
            kind=str(data["kind"]),
            status=OperationStatus(data["status"]),
            client_key=data.get("client_key"),
            client=data.get("client"),
            error=OperationError.from_dict(error) if error else None,
            warnings=list(data.get("warnings") or []),
            token=data.get("token"),
        )

