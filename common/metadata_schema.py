"""The RFC 7591 metadata of a client in its wire form, declared once.

The commands that carry it (common.commands) and the HTTP requests that set it
(api.docs.request_schemas) take these very fields, so the two cannot differ in
shape. Shape only: `common.metadata_rules` says what is allowed.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from common.client_metadata import (
    SCOPE_TOKEN_MAX,
    SCOPE_TOKENS_MAX,
    AuthMethod,
    scope_string,
    scope_tokens,
)

# 100 tokens of 200 characters with a space between each: the longest scope there can be.
SCOPE_MAX_CHARS = SCOPE_TOKENS_MAX * (SCOPE_TOKEN_MAX + 1) - 1


class ScopeField(fields.Field[list[str]]):
    """A scope on the wire: its tokens joined by spaces (RFC 6749 section 3.3,
    RFC 7591 section 2); a list of tokens in the code."""

    def _serialize(self, value: list[str] | None, attr: str | None, obj: Any,
                   **kwargs: Any) -> str | None:
        return None if value is None else scope_string(value)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[str]:
        if not isinstance(value, str):
            raise ValidationError("Not a valid string: scope tokens separated by spaces.")
        if len(value) > SCOPE_MAX_CHARS:  # a bound on the work, above any scope the rules take
            raise ValidationError(f"Longer than {SCOPE_MAX_CHARS} characters.")
        return scope_tokens(value)


_URI = validate.Length(max=4096)


def _uri_field(description: str) -> fields.String:
    return fields.String(allow_none=True, validate=_URI, metadata={
        "format": "uri", "maxLength": 2048,
        "description": f"{description}: an https URL; null removes it."})


class MetadataSchema(Schema):
    """The RFC 7591 metadata as a create, an edit and their commands carry it."""

    token_endpoint_auth_method = fields.String(
        validate=validate.Length(max=100),
        metadata={"enum": [m.value for m in AuthMethod],
                  "description": "OAuth 2.0 and OpenID Connect; default client_secret_basic. "
                                 "none: a public client, without a secret, that must use PKCE. "
                                 "private_key_jwt: signed assertions (RFC 7523), checked "
                                 "with jwks or jwks_uri; no secret."})
    scope = ScopeField(metadata={
        "type": "string", "maxLength": SCOPE_MAX_CHARS,
        "description": "Scope tokens separated by spaces (RFC 6749, section 3.3), at most 100 "
                       "of at most 200 characters; stored sorted and unique. OpenID Connect "
                       "clients always have openid."})
    require_pkce = fields.Boolean(metadata={
        "description": "Default: true when authorization_code is granted; always true for "
                       "token_endpoint_auth_method none."})
    post_logout_redirect_uris = fields.List(
        fields.String(validate=_URI), validate=validate.Length(max=100), metadata={
            "description": "OpenID Connect only; the redirect-URI rules, at most 50."})
    client_uri = _uri_field("The client's home page")
    logo_uri = _uri_field("The client's logo")
    policy_uri = _uri_field("The client's privacy policy")
    tos_uri = _uri_field("The client's terms of service")
    contacts = fields.List(fields.String(validate=validate.Length(max=320)),
                           validate=validate.Length(max=100), metadata={
                               "description": "At most 10 e-mail addresses."})
    jwks = fields.Dict(allow_none=True, metadata={
        "description": "private_key_jwt: the client's public keys, a JWK Set (RFC 7517) of at "
                       "most 10 RSA (2048 bits or more), EC P-256/P-384 or Ed25519 keys, each "
                       "with a unique kid; no private members. Exactly one of jwks and "
                       "jwks_uri; null removes it."})
    jwks_uri = _uri_field("private_key_jwt: where the gateways fetch the client's JWK Set")
    client_secret_expires_at = fields.AwareDateTime(allow_none=True, metadata={
        "description": "When the secret stops verifying (RFC 3339, in the future); null or "
                       "absent: never. Set with the secret: a new secret without it never "
                       "expires."})
