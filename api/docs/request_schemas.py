"""The shapes of HTTP requests, as marshmallow schemas.

They check shape only (types, required fields, sizes, unknown fields); the
rules of a client are in `common.clients`, run after a request has its shape.
Sizes are bounded here so that no request can make the service do unbounded work.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from common.clients import (
    GRANT_TYPES,
    NAME_MAX,
    REDIRECT_URI_MAX,
    REDIRECT_URIS_MAX,
    SECRET_MAX,
    SECRET_MIN,
    ClientType,
    Status,
)
from common.metadata_schema import MetadataSchema
from common.secret_grace import DEFAULT_GRACE_S, GRACE_LIMIT_S

# Generous outer bounds for shape; the domain rules say the exact limits.
_TEXT = validate.Length(max=4096)
_LIST = validate.Length(max=100)
# The API document states the domain's exact limits (metadata only: the rules
# in common.clients check them, with their own messages).
_NAME_DOC = {"minLength": 1, "maxLength": NAME_MAX,
             "description": "Trimmed; no control characters, bidirectional controls or "
                            "line separators, and at least one visible character."}
_SECRET_DOC = {"minLength": SECRET_MIN, "maxLength": SECRET_MAX}
# Cursors are base64url. Their bound keeps a whole query string within the
# HTTP layer's 8190-byte request line, however its other values are encoded.
_CURSOR_PATTERN = r"^[A-Za-z0-9_-]*$"


def _strings(item: dict[str, Any] | None = None, **documented: Any) -> fields.List[str]:
    return fields.List(fields.String(validate=_TEXT, metadata=item or {}), validate=_LIST,
                       metadata=documented)


def _redirect_uris() -> fields.List[str]:
    return _strings({"maxLength": REDIRECT_URI_MAX, "format": "uri"},
                    maxItems=REDIRECT_URIS_MAX,
                    description="Absolute; no fragment, no user credentials, no port 0; https, "
                                "http on a loopback host, or a reverse-domain private-use "
                                "scheme (com.example.app:/cb).")


def _grant_types() -> fields.List[str]:
    return _strings({"enum": list(GRANT_TYPES)})


def _response_types() -> fields.List[str]:
    return _strings(description="OAuth 2.0: code, token; OpenID Connect: code, id_token and "
                                "their combinations (words in any order).")


def _cursor(max_length: int) -> fields.String:
    return fields.String(validate=[validate.Length(min=1, max=max_length),
                                   validate.Regexp(_CURSOR_PATTERN)])


class _Immutable(fields.Field[Any]):
    """A field that may never be sent: says so by name instead of 'unknown field'."""

    def __init__(self, message: str) -> None:
        # Documented as a property no value satisfies (JSON Schema `not: {}`).
        super().__init__(load_only=True, metadata={"not": {}, "description": message})
        self._message = message

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        raise ValidationError(self._message)


class _SecretFields(Schema):
    secret = fields.String(validate=_TEXT, metadata=_SECRET_DOC)
    secret_confirmation = fields.String(validate=_TEXT, metadata=_SECRET_DOC)
    generate_secret = fields.Boolean()

    @validates_schema
    def _one_way_to_set_a_secret(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("generate_secret") and ("secret" in data or "secret_confirmation" in data):
            raise ValidationError(
                "Send either secret and secret_confirmation, or generate_secret, not both.",
                "generate_secret")


class CreateClientRequest(_SecretFields, MetadataSchema):
    """A new client; the RFC 7591 metadata (MetadataSchema) is the commands' own."""

    type = fields.Enum(ClientType, by_value=True, required=True)
    name = fields.String(required=True, validate=_TEXT, metadata=_NAME_DOC)
    redirect_uris = _redirect_uris()
    grant_types = _grant_types()
    response_types = _response_types()


class UpdateClientRequest(_SecretFields, MetadataSchema):
    name = fields.String(validate=_TEXT, metadata=_NAME_DOC)
    redirect_uris = _redirect_uris()
    grant_types = _grant_types()
    response_types = _response_types()
    key = _Immutable("The client key is immutable and cannot be changed.")
    type = _Immutable("The client type is immutable and cannot be changed.")

    @validates_schema
    def _not_empty(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data:
            raise ValidationError("Nothing to change: send at least one field.", "_schema")


class RotateSecretRequest(_SecretFields):
    """A new secret (or generate_secret); the current one stays valid for grace_seconds."""

    grace_seconds = fields.Integer(strict=True, validate=validate.Range(min=0, max=GRACE_LIMIT_S),
                                   metadata={"description": (
                                       "How long the replaced secret stays valid, in seconds "
                                       f"(default {DEFAULT_GRACE_S}, at most "
                                       "CLIENTKEYS_MAX_GRACE_S); 0 ends it at once.")})
    client_secret_expires_at = MetadataSchema._declared_fields["client_secret_expires_at"]


SORTS = ("created_at", "-created_at", "name", "-name", "status", "-status")


class ListClientsQuery(Schema):
    type = fields.Enum(ClientType, by_value=True)
    status = fields.Enum(Status, by_value=True)
    q = fields.String(validate=validate.Length(min=1, max=200))
    sort = fields.String(load_default="-created_at", validate=validate.OneOf(SORTS))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    cursor = _cursor(4096)


class AuditQuery(Schema):
    """Filters of `GET /v1/audit`; the history of one client takes all but `client_key`."""

    actor = fields.String(validate=validate.Length(min=1, max=200))
    action = fields.String(validate=validate.Length(min=1, max=100))
    client_key = fields.String(validate=validate.Length(min=1, max=200))
    since = fields.AwareDateTime(metadata={"description": "entries at or after (ISO 8601)"})
    until = fields.AwareDateTime(metadata={"description": "entries before (ISO 8601)"})
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    cursor = _cursor(1000)

    @validates_schema
    def _a_range_forwards(self, data: dict[str, Any], **kwargs: Any) -> None:
        if "since" in data and "until" in data and data["since"] >= data["until"]:
            raise ValidationError("until must be later than since.", "until")


class HistoryQuery(AuditQuery):
    class Meta:
        exclude = ("client_key",)


def _remote_addr() -> fields.IP:
    return fields.IP(metadata={
        "description": "The address of whoever presented the credential to the "
                       "authorization server (IPv4 or IPv6): failed checks are held back per "
                       "client and this address. Without it, the caller's own address."})


class VerifySecretRequest(Schema):
    secret = fields.String(required=True, validate=validate.Length(min=1, max=4096))
    remote_addr = _remote_addr()


class TokenRequestForm(Schema):
    """The client credentials of a token request's form (RFC 6749 section 2.3.1)."""

    client_id = fields.String(validate=_TEXT)
    client_secret = fields.String(validate=validate.Length(max=4096), metadata={
        "description": "client_secret_post: the secret, as the form carried it."})
    client_assertion_type = fields.String(validate=validate.Length(max=200), metadata={
        "description": "private_key_jwt: urn:ietf:params:oauth:client-assertion-type:"
                       "jwt-bearer (RFC 7523, section 2.2)."})
    client_assertion = fields.String(validate=validate.Length(max=16384), metadata={
        "description": "private_key_jwt: the signed JWT, as the form carried it."})


class ClientAuthenticationRequest(Schema):
    """What a token endpoint received of a client's credentials, passed on as received."""

    authorization = fields.String(allow_none=True, validate=validate.Length(max=8192), metadata={
        "description": "The request's Authorization header as received (client_secret_basic: "
                       "`Basic` and base64 of the form-urlencoded id and secret)."})
    form = fields.Nested(TokenRequestForm, metadata={
        "description": "The request's form fields that carry client credentials."})
    audiences = fields.List(fields.String(validate=validate.Length(min=1, max=2048)),
                            validate=validate.Length(min=1, max=10), metadata={
        "description": "private_key_jwt (required with a client_assertion): the values the "
                       "authorization server accepts as the assertion's aud, e.g. its issuer "
                       "identifier and its token endpoint URL."})
    remote_addr = _remote_addr()

    @validates_schema
    def _audiences_with_an_assertion(self, data: dict[str, Any], **kwargs: Any) -> None:
        form = data.get("form", {})
        if ("client_assertion" in form or "client_assertion_type" in form) \
                and not data.get("audiences"):
            raise ValidationError("Required with form.client_assertion: the values the "
                                  "assertion's aud may hold.", "audiences")


class OAuth1VerifyRequest(Schema):
    """A request an OAuth 1.0a consumer signed, as the authorization server received it."""

    method = fields.String(required=True, validate=validate.Length(min=1, max=16))
    url = fields.String(required=True, validate=validate.Length(min=1, max=8192), metadata={
        "description": "The full URL the consumer used, query included."})
    authorization = fields.String(validate=validate.Length(max=8192), metadata={
        "description": "Its Authorization header, when the OAuth parameters came there."})
    form = fields.Dict(keys=fields.String(validate=_TEXT), values=fields.String(validate=_TEXT),
                       validate=validate.Length(max=100), metadata={
                           "description": "Its form-urlencoded body parameters, if any."})
    token_secret = fields.String(validate=_TEXT, metadata={
        "description": "The secret of the request's oauth_token, held by the caller."})
    remote_addr = _remote_addr()
