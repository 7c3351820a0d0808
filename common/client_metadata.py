"""A client's RFC 7591 (section 2) metadata: what an authorization server enforces
beyond redirect URIs and grants, and what its consent screen shows.

Named as RFC 7591 names them: `token_endpoint_auth_method`, `scope`,
`post_logout_redirect_uris` (OpenID Connect RP-Initiated Logout),
`client_uri`, `logo_uri`, `policy_uri`, `tos_uri`, `contacts`, and
`require_pkce` (not in RFC 7591; the name Spring Authorization Server and
others use), and for private_key_jwt the public keys: `jwks` or `jwks_uri`.
OAuth 1.0a consumers have none of them.

Clients stored before these fields were kept hold none of them: `stored_metadata`
is the one place that reads them from a document, and it gives such a client the
defaults a new one gets, so every reader (answers, events, the rules of an edit,
the credential checks) sees the same values. The rules are in
`common.metadata_rules`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from common.clients import ClientType
from common.secret_grace import secret_issued_at


class AuthMethod(StrEnum):
    """How a client authenticates at the token endpoint (RFC 7591 section 2)."""

    CLIENT_SECRET_BASIC = "client_secret_basic"  # RFC 6749 section 2.3.1, the header
    CLIENT_SECRET_POST = "client_secret_post"    # the same secret in the form
    NONE = "none"  # a public client (RFC 8252 native apps): no secret at all
    # RFC 7523 section 2.2: signed assertions checked with the client's public keys
    # (jwks or jwks_uri, common.jwk_rules); like NONE, no shared secret.
    PRIVATE_KEY_JWT = "private_key_jwt"

    @property
    def uses_secret(self) -> bool:
        """Whether a client of this method holds a shared secret."""
        return self in SECRET_METHODS


SECRET_METHODS: Final = frozenset({AuthMethod.CLIENT_SECRET_BASIC, AuthMethod.CLIENT_SECRET_POST})
DEFAULT_AUTH_METHOD: Final = AuthMethod.CLIENT_SECRET_BASIC
OPENID: Final = "openid"  # the scope every OpenID Connect client has

SCOPE_TOKENS_MAX: Final = 100
SCOPE_TOKEN_MAX: Final = 200
CONTACTS_MAX: Final = 10
METADATA_URI_MAX: Final = 2048
POST_LOGOUT_REDIRECT_URIS_MAX: Final = 50
# How far ahead an expiring secret is counted (GET /v1/stats, the gauge) and marked (admin page).
SECRET_EXPIRY_WARNING_DAYS: Final = 14
# Metadata whose value is one https URL, shown on a consent screen.
URI_FIELDS: Final = ("client_uri", "logo_uri", "policy_uri", "tos_uri")
# The secret's expiry, set with the secret (create, edit, rotate); null means never.
SECRET_EXPIRY: Final = "client_secret_expires_at"
# A private_key_jwt client's public keys: exactly one of them (common.jwk_rules).
KEY_FIELDS: Final = ("jwks", "jwks_uri")
# What an edit may set to null (the value is then left out: none, or never).
CLEARABLE_FIELDS: Final = (*URI_FIELDS, *KEY_FIELDS, SECRET_EXPIRY)


@dataclass
class ClientMetadata:
    """The metadata of one client; None (or empty) where a create left it to the default."""

    token_endpoint_auth_method: str | None = None
    scope: list[str] = field(default_factory=list)  # sorted unique scope tokens
    require_pkce: bool | None = None
    post_logout_redirect_uris: list[str] = field(default_factory=list)
    client_uri: str | None = None
    logo_uri: str | None = None
    policy_uri: str | None = None
    tos_uri: str | None = None
    contacts: list[str] = field(default_factory=list)
    jwks: dict[str, Any] | None = None  # a JWK Set of public keys, compact
    jwks_uri: str | None = None

    @property
    def auth_method(self) -> AuthMethod | None:
        """The method as the enum; None for an OAuth 1.0a consumer (or an unknown value)."""
        try:
            return AuthMethod(self.token_endpoint_auth_method or "")
        except ValueError:
            return None

    def edited(self, changes: Mapping[str, Any], cleared: Iterable[str] = (), *,
               gains_code: bool = False) -> ClientMetadata:
        """This metadata with an edit applied: keys absent or None are kept, names in
        `cleared` become None. `require_pkce` not sent goes back to its default when the
        edit grants authorization_code anew or makes the client public."""
        given = {name: changes[name] for name in METADATA_FIELDS
                 if changes.get(name) is not None}
        given.update({name: None for name in cleared if name in (*URI_FIELDS, *KEY_FIELDS)})
        if "require_pkce" not in given and (
                gains_code or given.get("token_endpoint_auth_method") == AuthMethod.NONE):
            given["require_pkce"] = None
        return replace(self, **given)

    def with_defaults(self, client_type: ClientType, grant_types: Iterable[str]
                      ) -> ClientMetadata:
        """The values a client gets for what it was not given (OAuth 1.0a: none at all)."""
        if client_type is ClientType.OAUTH1:
            return self
        method = self.token_endpoint_auth_method or DEFAULT_AUTH_METHOD.value
        scope = self.scope
        if client_type is ClientType.OIDC and OPENID not in scope:
            scope = sorted({*scope, OPENID})
        pkce = self.require_pkce
        if pkce is None:
            pkce = method == AuthMethod.NONE or "authorization_code" in grant_types
        return replace(self, token_endpoint_auth_method=method, scope=scope, require_pkce=pkce)

    def to_document(self) -> dict[str, Any]:
        return asdict(self)

    def values(self) -> dict[str, Any]:
        """Its fields, not copied (`to_document` copies every list, deep): for a view
        that copies what it shows, on every read of a client."""
        return {name: getattr(self, name) for name in METADATA_FIELDS}


METADATA_FIELDS: Final = tuple(f.name for f in fields(ClientMetadata))


def stored_metadata(document: Mapping[str, Any]) -> ClientMetadata:
    """A stored client's metadata, with the defaults for what it does not hold
    (a client stored before these fields were kept): the one place they are applied."""
    held = ClientMetadata(**{name: document[name] for name in METADATA_FIELDS
                             if document.get(name) is not None})
    if isinstance(held.scope, str):
        # A client's public view (an event's, or as a gateway's read model holds it)
        # shows the scope as RFC 6749 writes it; a stored document holds the tokens.
        held.scope = scope_tokens(held.scope)
    return held.with_defaults(ClientType(document["type"]), document.get("grant_types", ()))


def secret_facts(document: Mapping[str, Any], metadata: ClientMetadata
                 ) -> dict[str, datetime | None]:
    """When the client's secret was issued and when it expires (None: never; both None
    for a client without a secret)."""
    method = metadata.auth_method
    if method is not None and not method.uses_secret:
        return {"client_secret_issued_at": None, SECRET_EXPIRY: None}
    return {"client_secret_issued_at": secret_issued_at(document),
            SECRET_EXPIRY: document.get(SECRET_EXPIRY)}


def scope_string(tokens: Iterable[str]) -> str:
    """The stored tokens as RFC 6749 section 3.3 writes a scope: joined by spaces."""
    return " ".join(tokens)


def scope_tokens(value: str) -> list[str]:
    """A scope as sent (tokens separated by spaces) as its list of tokens."""
    return [token for token in value.split(" ") if token]


def metadata_after_edit(current: Mapping[str, Any], changes: Mapping[str, Any],
                        cleared: Iterable[str], grant_types_after: Iterable[str]
                        ) -> ClientMetadata:
    """A stored client's metadata once an edit applies (before the rules check it)."""
    grants_before = current.get("grant_types", ())
    gains_code = ("authorization_code" in grant_types_after
                  and "authorization_code" not in grants_before)
    return stored_metadata(current).edited(changes, cleared, gains_code=gains_code)


def holds_secret(metadata: ClientMetadata) -> bool:
    """Whether a client of this metadata has a secret: an OAuth 1.0a consumer (no
    method) always does, an OAuth 2.0 or OpenID Connect client by its method."""
    method = metadata.auth_method
    return method is None or method.uses_secret
