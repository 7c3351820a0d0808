"""The wire forms of self-registration: initial access tokens (management API),
RFC 7591 registration requests and answers, and OAuth 1.0a consumer-key requests.

The registration request takes the RFC 7591 metadata exactly as the management
API does (`MetadataSchema`, whose names are RFC 7591's), plus the RFC's own
names for the rest (`client_name`); metadata this server does not know is
ignored, as RFC 7591 section 2 asks.
"""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, fields, validate

from api.docs.response_schemas import OperationSchema
from common.clients import (
    NAME_MAX,
    REDIRECT_URIS_MAX,
    SECRET_MAX,
    SECRET_MIN,
)
from common.metadata_schema import MetadataSchema
from common.registration_tokens import (
    LABEL_MAX,
    TOKEN_USES_MAX,
    RegistrationTokenSchema,
    TokenPolicySchema,
)

_TEXT = validate.Length(max=4096)
_LIST = validate.Length(max=100)


def _strings(**documented: Any) -> fields.List[str]:
    return fields.List(fields.String(validate=_TEXT), validate=_LIST, metadata=documented)


class CreateRegistrationTokenRequest(Schema):
    label = fields.String(required=True, validate=validate.Length(min=1, max=LABEL_MAX))
    expires_at = fields.AwareDateTime(required=True, metadata={
        "description": "When the token stops working (RFC 3339, in the future)."})
    max_uses = fields.Integer(required=True, strict=True,
                              validate=validate.Range(min=1, max=TOKEN_USES_MAX))
    policy = fields.Nested(TokenPolicySchema, load_default=lambda: TokenPolicySchema().load({}))


class CreatedRegistrationTokenSchema(RegistrationTokenSchema):
    token = fields.String(required=True, metadata={
        "description": "The initial access token: shown this once, stored only as a hash."})


class QueuedRegistrationTokenSchema(Schema):
    """A token create queued but not applied within the wait: its operation tells the
    outcome, and the token is shown now, this once."""

    operation = fields.Nested(OperationSchema, required=True)
    token = fields.String(required=True, metadata={
        "description": "The initial access token: shown this once, stored only as a hash."})


class RegistrationTokenListSchema(Schema):
    items = fields.List(fields.Nested(RegistrationTokenSchema), required=True)


class RegistrationRequest(MetadataSchema):
    """RFC 7591 section 2 client metadata; unknown metadata is ignored."""

    class Meta:
        unknown = EXCLUDE
        # The expiry of the secret is the server's to say (client_secret_expires_at: 0).
        exclude = ("client_secret_expires_at",)

    client_name = fields.String(required=True, validate=_TEXT,
                                metadata={"maxLength": NAME_MAX})
    redirect_uris = _strings(maxItems=REDIRECT_URIS_MAX)
    grant_types = _strings(description="Default: authorization_code.")
    response_types = _strings(description="Default: code (with authorization_code).")
    jwks = fields.Dict(metadata={
        "description": "private_key_jwt: the client's public keys, a JWK Set (RFC 7517); give "
                       "this or jwks_uri."})
    jwks_uri = fields.String(validate=_TEXT, metadata={
        "description": "private_key_jwt: where the client publishes its JWK Set (https)."})


class RegisteredClientSchema(Schema):
    """RFC 7591 section 3.2.1, and RFC 7592 section 3 for a read or an update."""

    client_id = fields.String(required=True)
    client_secret = fields.String(metadata={"description": "Only when it was generated now."})
    client_id_issued_at = fields.Integer(required=True)
    client_secret_expires_at = fields.Integer(metadata={"description": "0: never."})
    registration_access_token = fields.String(metadata={
        "description": "For GET/PUT/DELETE of registration_client_uri; shown when made, "
                       "replaced on every update."})
    registration_client_uri = fields.String(required=True)
    client_name = fields.String(required=True)
    redirect_uris = fields.List(fields.String(), required=True)
    grant_types = fields.List(fields.String(), required=True)
    response_types = fields.List(fields.String(), required=True)
    token_endpoint_auth_method = fields.String(required=True)
    scope = fields.String(required=True)
    status = fields.String(required=True, metadata={
        "description": "pending until an administrator approves it (unless the token's "
                       "policy auto-approves)."})


class OAuthErrorSchema(Schema):
    error = fields.String(required=True)
    error_description = fields.String(required=True)


class ConsumerKeyRequest(Schema):
    """The Jazz/OSLC request for a provisional consumer key: its name and chosen secret."""

    name = fields.String(required=True, validate=_TEXT, metadata={"maxLength": NAME_MAX})
    secret = fields.String(required=True, validate=_TEXT, metadata={
        "minLength": SECRET_MIN, "maxLength": SECRET_MAX})


class ConsumerKeySchema(Schema):
    key = fields.String(required=True)
    status = fields.String(required=True)


class RegistrationUpdateRequest(RegistrationRequest):
    """RFC 7592 section 2.2: the whole metadata again, with the client's id."""

    client_id = fields.String(required=True, validate=_TEXT)
    client_secret = fields.String(validate=_TEXT, load_only=True, metadata={
        "description": "Ignored: the secret is changed by an administrator only."})
