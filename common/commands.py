"""Commands: what the gateway asks the worker to do, as they travel on the broker.

One small type per operation. Every command carries its id (which is also the
id of the operation that records its outcome), the actor who asked and the
request id, so the outcome can be traced back to the HTTP request. Each type
has its own marshmallow schema (its wire form, which the AsyncAPI document is
made from) and says what the gateway answers for it and what the audit trail
records of it, so dispatch, audit and the worker's handler table never ask
which type a command is.

A secret travels only sealed (see common.keyring): the broker never sees it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from marshmallow import ValidationError, fields, validate

from common.client_metadata import CLEARABLE_FIELDS, SECRET_EXPIRY
from common.client_origin import OriginSchema
from common.clients import ClientType
from common.command_base import (
    ID,
    SHA256_HEX,
    Answer,
    CommandBehaviour,
    CommandSchema,
    audited,
    kind_field,
)
from common.keyring import SealedSecret
from common.metadata_schema import MetadataSchema
from common.secret_grace import GRACE_LIMIT_S
from common.token_commands import (
    TOKEN_COMMAND_SCHEMAS,
    CreateRegistrationToken,
    RevokeRegistrationToken,
)


@dataclass(frozen=True)
class CreateClient(CommandBehaviour):
    kind: ClassVar[str] = "create_client"
    answer: ClassVar[Answer] = Answer(201, warnings=True)
    makes_client: ClassVar[bool] = True
    id: str
    actor: str
    request_id: str
    type: ClientType
    name: str
    secret: SealedSecret | None = None  # None: a public client (common.client_metadata)
    redirect_uris: list[str] = field(default_factory=list)
    grant_types: list[str] = field(default_factory=list)
    response_types: list[str] = field(default_factory=list)
    # RFC 7591 metadata (common.client_metadata); None: its default (and left off the wire).
    token_endpoint_auth_method: str | None = None
    scope: list[str] | None = None
    require_pkce: bool | None = None
    post_logout_redirect_uris: list[str] | None = None
    client_uri: str | None = None
    logo_uri: str | None = None
    policy_uri: str | None = None
    tos_uri: str | None = None
    contacts: list[str] | None = None
    jwks: dict[str, Any] | None = None
    jwks_uri: str | None = None
    client_secret_expires_at: datetime | None = None  # None: never
    # A self-registration (common.client_origin); None: an administrator's create.
    origin: dict[str, Any] | None = None
    # RFC 7592: the SHA-256 hex digest of the registration access token, never the token.
    registration_access_sha256: str | None = None
    # The initial access token's policy approves at once (None or False: pending).
    auto_approve: bool | None = None
    client_key: None = None
    remote_addr: str | None = None  # the HTTP caller's address, for the audit trail
    issued_at: datetime | None = None  # when the gateway accepted it (command latency)

    @property
    def registration_token(self) -> str | None:
        """The initial access token a self-registration takes one use of as it is made
        (worker.handlers); None for an administrator's create and open registration."""
        return None if self.origin is None else self.origin.get("token_id")

    def audited_fields(self) -> list[str]:
        """The fields given (an empty list is a field left out)."""
        return audited(name for name, value in vars(self).items()
                       if value is not None and value != [])


@dataclass(frozen=True)
class _OneClientCommand(CommandBehaviour):
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
    answer: ClassVar[Answer] = Answer(warnings=True)
    name: str | None = None
    secret: SealedSecret | None = None
    redirect_uris: list[str] | None = None
    grant_types: list[str] | None = None
    response_types: list[str] | None = None
    token_endpoint_auth_method: str | None = None
    scope: list[str] | None = None
    require_pkce: bool | None = None
    post_logout_redirect_uris: list[str] | None = None
    client_uri: str | None = None
    logo_uri: str | None = None
    policy_uri: str | None = None
    tos_uri: str | None = None
    contacts: list[str] | None = None
    jwks: dict[str, Any] | None = None
    jwks_uri: str | None = None
    client_secret_expires_at: datetime | None = None
    # The fields the caller set to null (CLEARABLE_FIELDS): None is "kept" above.
    cleared: list[str] | None = None
    # RFC 7592 (worker.registration_changes): the new registration access token's digest,
    # and whether widening the client sends it back to pending.
    registration_access_sha256: str | None = None
    pending_if_widened: bool | None = None

    def audited_fields(self) -> list[str]:
        """The fields sent: an empty list sent clears a field, so it counts."""
        return audited([*(name for name, value in vars(self).items() if value is not None),
                        *(self.cleared or ())])


@dataclass(frozen=True)
class ApproveClient(_OneClientCommand):
    kind: ClassVar[str] = "approve_client"


@dataclass(frozen=True)
class DisapproveClient(_OneClientCommand):
    kind: ClassVar[str] = "disapprove_client"


@dataclass(frozen=True)
class RemoveClient(_OneClientCommand):
    kind: ClassVar[str] = "remove_client"
    answer: ClassVar[Answer] = Answer(204)
    removes_client: ClassVar[bool] = True


@dataclass(frozen=True)
class RotateSecret(_OneClientCommand):
    """A new secret; the current one stays valid for `grace_seconds` more (common.secret_grace)."""

    kind: ClassVar[str] = "rotate_secret"
    secret: SealedSecret = field(kw_only=True)
    grace_seconds: int = field(kw_only=True)
    client_secret_expires_at: datetime | None = field(default=None, kw_only=True)  # never

    def audited_fields(self) -> list[str]:
        return ["secret", SECRET_EXPIRY] if self.client_secret_expires_at else ["secret"]


@dataclass(frozen=True)
class EndSecretGrace(_OneClientCommand):
    """Previous secrets stop being valid now, whatever their deadline."""

    kind: ClassVar[str] = "end_secret_grace"

    def audited_fields(self) -> list[str]:
        return ["previous_secrets"]


Command = (CreateClient | UpdateClient | ApproveClient | DisapproveClient | RemoveClient
           | RotateSecret | EndSecretGrace | CreateRegistrationToken | RevokeRegistrationToken)
COMMAND_TYPES: dict[str, type[Command]] = {
    cls.kind: cls
    for cls in (CreateClient, UpdateClient, ApproveClient, DisapproveClient, RemoveClient,
                RotateSecret, EndSecretGrace, CreateRegistrationToken, RevokeRegistrationToken)
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


def _strings(**kwargs: Any) -> fields.List[str]:
    return fields.List(fields.String(), **kwargs)


def _optional_strings() -> fields.List[str]:
    return _strings(load_default=None, allow_none=True)


class CreateClientSchema(CommandSchema, MetadataSchema):
    command_type = CreateClient
    kind = kind_field(CreateClient)
    type = fields.Enum(ClientType, by_value=True, required=True)
    name = fields.String(required=True)
    secret = SealedSecretField(load_default=None, allow_none=True)
    redirect_uris = _strings(load_default=list)
    grant_types = _strings(load_default=list)
    response_types = _strings(load_default=list)
    origin = fields.Nested(OriginSchema, load_default=None, allow_none=True)
    registration_access_sha256 = fields.String(
        load_default=None, allow_none=True, validate=validate.Regexp(SHA256_HEX))
    auto_approve = fields.Boolean(load_default=None, allow_none=True)


class _OneClientSchema(CommandSchema):
    client_key = fields.String(required=True, validate=ID)
    expected_version = fields.Integer(load_default=None, allow_none=True, strict=True)


class UpdateClientSchema(_OneClientSchema, MetadataSchema):
    command_type = UpdateClient
    kind = kind_field(UpdateClient)
    name = fields.String(load_default=None, allow_none=True)
    secret = SealedSecretField(load_default=None, allow_none=True)
    redirect_uris = _optional_strings()
    grant_types = _optional_strings()
    response_types = _optional_strings()
    cleared = fields.List(fields.String(validate=validate.OneOf(CLEARABLE_FIELDS)),
                          load_default=None, allow_none=True)
    registration_access_sha256 = fields.String(
        load_default=None, allow_none=True, validate=validate.Regexp(SHA256_HEX))
    pending_if_widened = fields.Boolean(load_default=None, allow_none=True)


class ApproveClientSchema(_OneClientSchema):
    command_type = ApproveClient
    kind = kind_field(ApproveClient)


class DisapproveClientSchema(_OneClientSchema):
    command_type = DisapproveClient
    kind = kind_field(DisapproveClient)


class RemoveClientSchema(_OneClientSchema):
    command_type = RemoveClient
    kind = kind_field(RemoveClient)


class RotateSecretSchema(_OneClientSchema):
    command_type = RotateSecret
    kind = kind_field(RotateSecret)
    secret = SealedSecretField(required=True)
    grace_seconds = fields.Integer(required=True, strict=True,
                                   validate=validate.Range(min=0, max=GRACE_LIMIT_S))
    client_secret_expires_at = fields.AwareDateTime(load_default=None, allow_none=True)


class EndSecretGraceSchema(_OneClientSchema):
    command_type = EndSecretGrace
    kind = kind_field(EndSecretGrace)


# The wire form of each command type, by its kind.
_SCHEMA_TYPES: tuple[type[CommandSchema], ...] = (
    CreateClientSchema, UpdateClientSchema, ApproveClientSchema, DisapproveClientSchema,
    RemoveClientSchema, RotateSecretSchema, EndSecretGraceSchema, *TOKEN_COMMAND_SCHEMAS)
COMMAND_SCHEMAS: dict[str, CommandSchema] = {
    schema.command_type.kind: schema() for schema in _SCHEMA_TYPES}


class UndecodableCommand(ValueError):
    """A message on the command queue that is not a command of this service."""

    def __init__(self, message: str, command_id: str | None = None) -> None:
        super().__init__(message)
        self.command_id = command_id


def encode_command(command: Command) -> bytes:
    dumped = COMMAND_SCHEMAS[command.kind].dump(command)
    # A field left as None is left out: None and absent decode alike.
    data = {"kind": command.kind, **{k: v for k, v in dumped.items() if v is not None}}
    return json.dumps(data, separators=(",", ":")).encode()


def decode_command(body: bytes) -> Command:
    try:
        raw = json.loads(body)
    except (ValueError, RecursionError):  # not UTF-8, not JSON, or nested absurdly deep
        raise UndecodableCommand("the message body is not JSON") from None
    if not isinstance(raw, dict):
        raise UndecodableCommand("not a valid command: the body is not a JSON object")
    command_id = raw.get("id") if isinstance(raw.get("id"), str) else None
    kind = raw.get("kind")
    schema = COMMAND_SCHEMAS.get(kind) if isinstance(kind, str) else None
    if schema is None:  # the kind is not quoted back: it is the sender's
        raise UndecodableCommand(
            f"not a valid command: its kind is none of {', '.join(COMMAND_SCHEMAS)}",
            command_id)
    try:
        command: Command = schema.load(raw)
    except ValidationError as exc:
        raise UndecodableCommand(f"not a valid {schema.command_type.kind} command: "
                                 f"{exc.messages}", command_id) from None
    return command
