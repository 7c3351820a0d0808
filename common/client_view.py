"""The public face of a client: what responses and events show of it.

One schema serves both, so an HTTP reader and an event subscriber see the same
fields in the same form. It has no secret field at all: a stored document
passed through it cannot leak one. Of a rotation it shows only facts: when the
secret was last replaced, and until when each previous secret stays valid.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from marshmallow import Schema, fields, validate

from common.client_metadata import AuthMethod, scope_string, secret_facts, stored_metadata
from common.client_origin import OriginSchema, stored_origin
from common.clients import ClientType, Status
from common.schema_dump import compiled_dump
from common.secret_grace import MAX_PREVIOUS_SECRETS, unexpired

# When a secret last verified is kept by the gateways (api.verify.secret_usage), not in
# the client's document: it is in API answers, never in events.
_LAST_USED = ("When this secret last verified, to the minute (at most a minute or two "
              "late); null if not seen to in the last 400 days. In API answers only, never "
              "in events.")


# The fields of ANSWERS_ONLY, as a schema's `exclude` names them: what the gateways add
# to an answer (api.verify.secret_usage), never in a stored client or an event.
ANSWERS_ONLY: Final = ("client_secret_last_used_at", "previous_secrets.last_used_at")


class PreviousSecretSchema(Schema):
    """A previous secret still valid during its grace: its deadline, never its value."""

    expires_at = fields.AwareDateTime(required=True)
    issued_at = fields.AwareDateTime(allow_none=True, metadata={
        "description": "When this secret was set; null if it was replaced before this "
                       "was kept."})
    last_used_at = fields.AwareDateTime(allow_none=True, metadata={"description": _LAST_USED})


class ClientSchema(Schema):
    key = fields.String(required=True, metadata={"description": "Unique, immutable client key."})
    type = fields.String(required=True, validate=validate.OneOf([t.value for t in ClientType]))
    name = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf([s.value for s in Status]))
    redirect_uris = fields.List(fields.String(), required=True)
    grant_types = fields.List(fields.String(), required=True)
    response_types = fields.List(fields.String(), required=True)
    created_at = fields.AwareDateTime(required=True)
    updated_at = fields.AwareDateTime(required=True)
    status_changed_at = fields.AwareDateTime(required=True)
    version = fields.Integer(required=True)
    secret_rotated_at = fields.AwareDateTime(required=True, allow_none=True, metadata={
        "description": "When the secret was last replaced (rotation or edit); null if never."})
    previous_secrets = fields.List(fields.Nested(PreviousSecretSchema), required=True, metadata={
        "description": "Replaced secrets still valid, newest first "
                       f"(at most {MAX_PREVIOUS_SECRETS})."})
    # RFC 7591 section 2 metadata: null (or empty) for OAuth 1.0a consumers.
    token_endpoint_auth_method = fields.String(
        required=True, allow_none=True,
        validate=validate.OneOf([m.value for m in AuthMethod]))
    scope = fields.String(required=True, allow_none=True, metadata={
        "description": "The scope tokens the client may be given, sorted, separated by "
                       "spaces; empty: none. null for OAuth 1.0a consumers."})
    require_pkce = fields.Boolean(required=True, allow_none=True)
    post_logout_redirect_uris = fields.List(fields.String(), required=True)
    client_uri = fields.String(required=True, allow_none=True)
    logo_uri = fields.String(required=True, allow_none=True)
    policy_uri = fields.String(required=True, allow_none=True)
    tos_uri = fields.String(required=True, allow_none=True)
    contacts = fields.List(fields.String(), required=True)
    jwks = fields.Dict(required=True, allow_none=True, metadata={
        "description": "private_key_jwt: the public keys (a JWK Set, public members only)."})
    jwks_uri = fields.String(required=True, allow_none=True, metadata={
        "description": "private_key_jwt: where the gateways fetch the public keys."})
    client_secret_issued_at = fields.AwareDateTime(required=True, allow_none=True, metadata={
        "description": "When the current secret was set; null for a client without one."})
    client_secret_expires_at = fields.AwareDateTime(required=True, allow_none=True, metadata={
        "description": "When the current secret stops verifying; null: never."})
    client_secret_last_used_at = fields.AwareDateTime(allow_none=True, metadata={
        "description": _LAST_USED})
    origin = fields.Nested(OriginSchema, required=True, metadata={
        "description": "Who made the client: an administrator, or a self-registration "
                       "with the initial access token it used."})


_CLIENT = compiled_dump(ClientSchema())


def public_client(document: Mapping[str, Any]) -> dict[str, Any]:
    """A stored client document as JSON-ready data, without secret or internals.

    Its metadata is read with the defaults of a client stored before it was kept."""
    metadata = stored_metadata(document)
    oauth1 = metadata.token_endpoint_auth_method is None
    return _CLIENT({
        **document, "secret_rotated_at": document.get("secret_rotated_at"),
        "previous_secrets": [
            {"expires_at": entry["expires_at"], "issued_at": entry.get("issued_at")}
            for entry in unexpired(document.get("previous_secrets"), datetime.now(UTC))],
        **metadata.values(), "scope": None if oauth1 else scope_string(metadata.scope),
        **secret_facts(document, metadata), "origin": stored_origin(document)})
