"""Initial access tokens of self-registration: their stored shape and public record.

Written down once, for the one writer (the workers, `worker.token_store`, applying
the `create_registration_token` and `revoke_registration_token` commands and
taking a use for each self-registered client) and the gateway's reads
(`api.registration.token_reads`). A token is shown once when it is made and
stored only as its SHA-256 digest (the gateway hashes it, as it hashes API
tokens: `api.auth.tokens.token_digest`): the broker carries the digest only.
Its `_id` is the first 12 hex digits of the digest, which reveal nothing usable.

`RegistrationTokenSchema` is the token's public record: what the management API
answers and what `data.token` of its events holds; never the token, never its
digest. `TokenPolicySchema` is its policy, on the wire of the command as in the
HTTP request.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final, TypedDict

from marshmallow import Schema, fields, validate

from common.clients import GRANT_TYPES, ClientType

# A token's id: the first hex digits of its digest (as `api.auth.tokens.token_id`).
ID_LENGTH: Final = 12
TOKEN_USES_MAX: Final = 10_000
LABEL_MAX: Final = 200
# Kept by the worker, never shown: the digest, the creates that took a use, the
# commands applied, and the events waiting.
INTERNAL: Final = ("sha256", "used_by", "applied_commands", "outbox", "outbox_since")
_LIST = validate.Length(max=100)


class TokenPolicy(TypedDict):
    """What a registration with the token may ask for (api.registration.policy)."""

    client_types: list[str]  # empty: any
    grant_types: list[str]  # empty: any
    redirect_uri_hosts: list[str]  # exact hosts or `*.suffix`; empty: any
    auto_approve: bool


class RegistrationTokenDocument(TypedDict, total=False):
    _id: str  # the first ID_LENGTH hex digits of the digest
    sha256: str
    label: str
    created_by: str  # the subject of the administrator who made it
    created_at: datetime
    expires_at: datetime
    max_uses: int
    uses_left: int
    revoked: bool
    revoked_at: datetime | None
    policy: TokenPolicy
    # The ids of the create commands that took a use (at most max_uses), so a
    # redelivered create takes none again.
    used_by: list[str]
    # The commands that made and revoked it, so a redelivered one is recognised.
    applied_commands: list[str]
    # Events not yet confirmed by the broker, and since when (only while waiting).
    outbox: list[dict[str, Any]]
    outbox_since: datetime


class TokenPolicySchema(Schema):
    client_types = fields.List(
        fields.String(validate=validate.OneOf([t.value for t in ClientType])),
        load_default=list, metadata={"description": "Allowed client types; empty: any."})
    grant_types = fields.List(fields.String(validate=validate.OneOf(GRANT_TYPES)),
                              load_default=list,
                              metadata={"description": "Allowed grant types; empty: any."})
    redirect_uri_hosts = fields.List(
        fields.String(validate=[validate.Length(min=1, max=253),
                                validate.Regexp(r"^(\*\.)?[A-Za-z0-9.-]+$")]),
        load_default=list, validate=_LIST,
        metadata={"description": "Hosts redirect URIs may point at: exact (app.example.com) "
                                 "or `*.suffix` (the host only); empty: any."})
    auto_approve = fields.Boolean(load_default=False, metadata={
        "description": "Clients registered with the token are approved at once (default: "
                       "they wait for an administrator)."})


class RegistrationTokenSchema(Schema):
    id = fields.String(required=True)
    label = fields.String(required=True)
    created_by = fields.String(required=True)
    created_at = fields.AwareDateTime(required=True)
    expires_at = fields.AwareDateTime(required=True)
    max_uses = fields.Integer(required=True)
    uses_left = fields.Integer(required=True)
    revoked = fields.Boolean(required=True)
    revoked_at = fields.AwareDateTime(required=True, allow_none=True)
    policy = fields.Nested(TokenPolicySchema, required=True)


_RECORD = RegistrationTokenSchema()


def canonical_policy(policy: TokenPolicy) -> TokenPolicy:
    """The policy as stored: each list sorted and without repeats, hosts in lower case."""
    return {"client_types": sorted(set(policy["client_types"])),
            "grant_types": sorted(set(policy["grant_types"])),
            "redirect_uri_hosts": sorted({h.lower() for h in policy["redirect_uri_hosts"]}),
            "auto_approve": policy["auto_approve"]}


def new_document(digest: str, *, label: str, created_by: str, created_at: datetime,
                 expires_at: datetime, max_uses: int, policy: TokenPolicy
                 ) -> RegistrationTokenDocument:
    return {"_id": digest[:ID_LENGTH], "sha256": digest, "label": label,
            "created_by": created_by, "created_at": created_at, "expires_at": expires_at,
            "max_uses": max_uses, "uses_left": max_uses, "revoked": False,
            "revoked_at": None, "policy": policy, "used_by": []}


def public_token(document: RegistrationTokenDocument) -> dict[str, Any]:
    """What the management API and the events show of a token, as JSON: never its digest."""
    shown = {key: value for key, value in document.items()
             if key not in ("_id", *INTERNAL)}
    record: dict[str, Any] = _RECORD.dump({**shown, "id": document["_id"]})
    return record
