"""Commands: what the gateway asks the worker to do, as they travel on the broker.

One small type per operation. Every command carries its id (which is also the
id of the operation that records its outcome), the actor who asked and the
request id, so the outcome can be traced back to the HTTP request.

A secret travels only sealed (see common.keyring): the broker never sees it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from marshmallow import Schema, ValidationError, fields, validate

from common.clients import ClientType
from common.keyring import SealedSecret
from common.secret_grace import GRACE_LIMIT_S


@dataclass(frozen=True)
class CreateClient:
    kind: ClassVar[str] = "create_client"
    id: str
    actor: str
    request_id: str
    type: ClientType
    name: str
    secret: SealedSecret
    redirect_uris: list[str] = field(default_factory=list)
    grant_types: list[str] = field(default_factory=list)
    response_types: list[str] = field(default_factory=list)
    client_key: None = None
    remote_addr: str | None = None  # the HTTP caller's address, for the audit trail
    issued_at: datetime | None = None  # when the gateway accepted it (command latency)


@dataclass(frozen=True)
class _OneClientCommand:
    id: str
    actor: str
    request_id: str
    client_key: str
    # Apply only if the client is still at this version (the caller's If-Match).
    expected_version: int | None = None
    remote_addr: str | None = None  # the HTTP caller's address, for the audit trail
    issued_at: datetime | None = None  # when the gateway accepted it (command latency)


@dataclass(frozen=True)
class UpdateClient(_OneClientCommand):
    """Changes to an existing client; a field left as None is kept as it is."""

    kind: ClassVar[str] = "update_client"
    name: str | None = None
    secret: SealedSecret | None = None
    redirect_uris: list[str] | None = None
    grant_types: list[str] | None = None
    response_types: list[str] | None = None


@dataclass(frozen=True)
class ApproveClient(_OneClientCommand):
    kind: ClassVar[str] = "approve_client"


@dataclass(frozen=True)
class DisapproveClient(_OneClientCommand):
    kind: ClassVar[str] = "disapprove_client"


@dataclass(frozen=True)
class RemoveClient(_OneClientCommand):
    kind: ClassVar[str] = "remove_client"


@dataclass(frozen=True)
class RotateSecret(_OneClientCommand):
    """A new secret; the current one stays valid for `grace_seconds` more (common.secret_grace)."""

    kind: ClassVar[str] = "rotate_secret"
    secret: SealedSecret = field(kw_only=True)
    grace_seconds: int = field(kw_only=True)


@dataclass(frozen=True)
class EndSecretGrace(_OneClientCommand):
    """Previous secrets stop being valid now, whatever their deadline."""

    kind: ClassVar[str] = "end_secret_grace"


Command = (CreateClient | UpdateClient | ApproveClient | DisapproveClient | RemoveClient
           | RotateSecret | EndSecretGrace)
COMMAND_TYPES: dict[str, type[Command]] = {
    cls.kind: cls
    for cls in (CreateClient, UpdateClient, ApproveClient, DisapproveClient, RemoveClient,
                RotateSecret, EndSecretGrace)
}


class SealedSecretField(fields.Field[SealedSecret]):
    """A sealed secret on the wire: key id, nonce and ciphertext, base64url."""

    def _serialize(self, value: SealedSecret | None, attr: str | None, obj: Any,
                   **kwargs: Any) -> dict[str, str] | None:
        return None if value is None else value.to_wire()

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> SealedSecret:
        try:
            return SealedSecret.from_wire(value)
        except (KeyError, TypeError, ValueError):
            raise ValidationError("Not a sealed secret.") from None


_ID = validate.Length(min=1, max=200)


def _optional_strings() -> fields.List[str]:
    return fields.List(fields.String(), load_default=None, allow_none=True)


class CommandSchema(Schema):
    """The wire form of every command; `kind` says which fields apply."""

    kind = fields.String(required=True, validate=validate.OneOf(list(COMMAND_TYPES)))
    id = fields.String(required=True, validate=_ID)
    actor = fields.String(required=True, validate=_ID)
    request_id = fields.String(required=True, validate=_ID)
    client_key = fields.String(load_default=None, allow_none=True, validate=_ID)
    expected_version = fields.Integer(load_default=None, allow_none=True, strict=True)
    remote_addr = fields.String(load_default=None, allow_none=True,
                                validate=validate.Length(max=255))
    type = fields.Enum(ClientType, by_value=True, load_default=None, allow_none=True)
    name = fields.String(load_default=None, allow_none=True)
    secret = SealedSecretField(load_default=None, allow_none=True)
    redirect_uris = _optional_strings()
    grant_types = _optional_strings()
    response_types = _optional_strings()
    issued_at = fields.AwareDateTime(load_default=None, allow_none=True)
    grace_seconds = fields.Integer(load_default=None, allow_none=True, strict=True,
                                   validate=validate.Range(min=0, max=GRACE_LIMIT_S))


_SCHEMA = CommandSchema()


class UndecodableCommand(ValueError):
    """A message on the command queue that is not a command of this service."""

    def __init__(self, message: str, command_id: str | None = None) -> None:
        super().__init__(message)
        self.command_id = command_id


def encode_command(command: Command) -> bytes:
    data = {k: v for k, v in vars(command).items() if v is not None}
    data["kind"] = command.kind
    return json.dumps(_SCHEMA.dump(data), separators=(",", ":")).encode()


def decode_command(body: bytes) -> Command:
    try:
        raw = json.loads(body)
    except (ValueError, RecursionError):  # not UTF-8, not JSON, or nested absurdly deep
        raise UndecodableCommand("the message body is not JSON") from None
    command_id = raw.get("id") if isinstance(raw, dict) else None
    try:
        data = _SCHEMA.load(raw)
    except ValidationError as exc:
        raise UndecodableCommand(f"not a valid command: {exc.messages}",
                                 command_id if isinstance(command_id, str) else None) from None
    cls = COMMAND_TYPES[data.pop("kind")]
    wanted = {k: v for k, v in data.items() if k in cls.__dataclass_fields__ and v is not None}
    try:
        return cls(**wanted)
    except TypeError as exc:
        raise UndecodableCommand(f"not a valid {cls.kind} command: {exc}", data["id"]) from None
