"""Commands about initial access tokens: make one, revoke one.

They travel as every command does (common.commands: the union, the wire form,
the MAC) and are applied by the workers (worker.token_handlers), which alone
write the registration_tokens collection. The token itself never travels: the
gateway makes it, shows it once, and sends only its SHA-256 digest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar

from marshmallow import fields, validate

from common.command_base import (
    ID,
    SHA256_HEX,
    Answer,
    CommandBehaviour,
    CommandSchema,
    Shown,
    kind_field,
)
from common.registration_tokens import (
    ID_LENGTH,
    LABEL_MAX,
    TOKEN_USES_MAX,
    TokenPolicy,
    TokenPolicySchema,
)


@dataclass(frozen=True)
class _TokenCommand(CommandBehaviour):
    """What every command about a token carries; it names no client."""

    id: str
    actor: str
    request_id: str
    client_key: None = field(default=None, kw_only=True)
    # The HTTP caller's address, for the audit trail, and when the gateway accepted it.
    remote_addr: str | None = field(default=None, kw_only=True)
    issued_at: datetime | None = field(default=None, kw_only=True)


@dataclass(frozen=True)
class CreateRegistrationToken(_TokenCommand):
    """Make an initial access token, of which the command carries the digest only."""

    kind: ClassVar[str] = "create_registration_token"
    answer: ClassVar[Answer] = Answer(201, shows=Shown.REGISTRATION_TOKEN)
    token_sha256: str  # the SHA-256 hex digest of the token, never the token
    label: str
    expires_at: datetime
    max_uses: int
    policy: TokenPolicy

    @property
    def token_id(self) -> str:
        return self.token_sha256[:ID_LENGTH]


@dataclass(frozen=True)
class RevokeRegistrationToken(_TokenCommand):
    """Revoke an initial access token now; revoking a revoked one changes nothing."""

    kind: ClassVar[str] = "revoke_registration_token"
    answer: ClassVar[Answer] = Answer(204, shows=Shown.REGISTRATION_TOKEN)
    token_id: str


class CreateRegistrationTokenSchema(CommandSchema):
    command_type = CreateRegistrationToken
    kind = kind_field(CreateRegistrationToken)
    token_sha256 = fields.String(required=True, validate=validate.Regexp(SHA256_HEX))
    label = fields.String(required=True, validate=validate.Length(min=1, max=LABEL_MAX))
    expires_at = fields.AwareDateTime(required=True)
    max_uses = fields.Integer(required=True, strict=True,
                              validate=validate.Range(min=1, max=TOKEN_USES_MAX))
    policy = fields.Nested(TokenPolicySchema, required=True)


class RevokeRegistrationTokenSchema(CommandSchema):
    command_type = RevokeRegistrationToken
    kind = kind_field(RevokeRegistrationToken)
    token_id = fields.String(required=True, validate=ID)


TOKEN_COMMAND_SCHEMAS: tuple[type[CommandSchema], ...] = (
    CreateRegistrationTokenSchema, RevokeRegistrationTokenSchema)
