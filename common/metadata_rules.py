"""The rules of a client's RFC 7591 metadata (common.client_metadata), and of its
secret where the metadata decides whether it has one.

The gateway runs them to answer a bad request with a 400 at once; the worker
runs them again against the state it writes, as for the rules of
`common.clients`, through the one function `check_registration`.

Sources: RFC 7591 section 2 (the fields), RFC 6749 section 3.3 (scope syntax),
RFC 8252 section 8.1 and RFC 9700 section 2.1.1 (a public client uses PKCE),
RFC 9700 section 2.4 (no password grant), OpenID Connect RP-Initiated Logout
(post_logout_redirect_uris, under the redirect-URI rules).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email

from common.client_metadata import (
    CONTACTS_MAX,
    KEY_FIELDS,
    METADATA_FIELDS,
    METADATA_URI_MAX,
    OPENID,
    POST_LOGOUT_REDIRECT_URIS_MAX,
    SCOPE_TOKEN_MAX,
    SCOPE_TOKENS_MAX,
    SECRET_EXPIRY,
    URI_FIELDS,
    AuthMethod,
    ClientMetadata,
)
from common.clients import (
    ClientFields,
    ClientType,
    FieldErrors,
    RuleViolation,
    check_client,
    redirect_uri_problem,
)
from common.jwk_rules import JwkSetError, compact_jwks
from common.visible_text import has_bidi_controls, has_control_characters

# RFC 6749 section 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5B\x5D-\x7E]+")
# A request's inputs that give a client a secret.
SECRET_INPUTS = ("secret", "secret_confirmation", "generate_secret")


def _add(errors: FieldErrors, name: str, message: str) -> None:
    errors.setdefault(name, []).append(message)


def check_scope(tokens: Sequence[str], client_type: ClientType, errors: FieldErrors
                ) -> list[str]:
    """The sorted unique tokens (OpenID Connect: with openid); adds to `errors`."""
    unique = sorted(set(tokens))
    for token in unique:
        if len(token) > SCOPE_TOKEN_MAX:
            _add(errors, "scope", f"'{token[:40]}…' is longer than {SCOPE_TOKEN_MAX} characters.")
        elif not _SCOPE_TOKEN.fullmatch(token):
            _add(errors, "scope", f"{token[:100]!r} is not a scope token: printable ASCII "
                                  "without spaces, '\"' or '\\' (RFC 6749, section 3.3).")
    if client_type is ClientType.OIDC and OPENID not in unique:
        unique = sorted([*unique, OPENID])
    if len(unique) > SCOPE_TOKENS_MAX:
        _add(errors, "scope", f"At most {SCOPE_TOKENS_MAX} scope tokens.")
    return unique


def metadata_uri_problem(uri: str) -> str | None:
    """Why `uri` cannot be a client_uri, logo_uri, policy_uri or tos_uri, or None."""
    if len(uri) > METADATA_URI_MAX:
        return f"Must be at most {METADATA_URI_MAX} characters."
    if has_control_characters(uri) or has_bidi_controls(uri) or any(c.isspace() for c in uri):
        return "Must not contain spaces, control or bidirectional control characters."
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return "Is not a valid URL."
    if parts.scheme != "https" or not parts.hostname:
        return "Must be an https URL with a host."
    if parts.username is not None or parts.password is not None:
        return "Must not contain user credentials (user@ before the host)."
    return None


def _check_contacts(values: Sequence[str], errors: FieldErrors) -> list[str]:
    contacts: list[str] = []
    for number, value in enumerate(values, start=1):
        try:
            # Syntax only: a registration never waits on DNS.
            address = validate_email(value, check_deliverability=False).normalized
        except EmailNotValidError as exc:
            _add(errors, "contacts", f"Entry {number} ({value[:100]!r}): {exc}")
            continue
        if address not in contacts:
            contacts.append(address)
    if len(contacts) > CONTACTS_MAX:
        _add(errors, "contacts", f"At most {CONTACTS_MAX} e-mail addresses.")
    return contacts


def _check_post_logout(uris: Sequence[str], errors: FieldErrors) -> list[str]:
    unique = list(dict.fromkeys(uris))
    if len(unique) > POST_LOGOUT_REDIRECT_URIS_MAX:
        _add(errors, "post_logout_redirect_uris",
             f"At most {POST_LOGOUT_REDIRECT_URIS_MAX} post-logout redirect URIs.")
    for uri in unique:
        problem = redirect_uri_problem(uri)
        if problem:
            _add(errors, "post_logout_redirect_uris",
                 f"Entry {uris.index(uri) + 1} ({uri[:100]!r}): {problem}")
    return unique


def _check_keys(method: AuthMethod | None, metadata: ClientMetadata, errors: FieldErrors
                ) -> dict[str, Any] | None:
    """The compact JWK Set (or None); a private_key_jwt client has exactly one of jwks
    and jwks_uri, any other client neither."""
    given = [name for name in KEY_FIELDS if getattr(metadata, name) is not None]
    if method is not AuthMethod.PRIVATE_KEY_JWT:
        for name in given:
            _add(errors, name, "Only a private_key_jwt client has " + name + ".")
        return None
    if len(given) != 1:
        message = ("Give exactly one of jwks and jwks_uri (a private_key_jwt client's "
                   "public keys)." if not given else "Give jwks or jwks_uri, not both.")
        _add(errors, "jwks", message)
        return None
    if metadata.jwks_uri is not None:
        problem = metadata_uri_problem(metadata.jwks_uri)
        if problem:
            _add(errors, "jwks_uri", problem)
        return None
    try:
        return compact_jwks(metadata.jwks)
    except JwkSetError as exc:
        for problem in exc.problems:
            _add(errors, "jwks", problem)
        return None


def _refuse_all(metadata: ClientMetadata, errors: FieldErrors) -> ClientMetadata:
    """OAuth 1.0a consumers have no RFC 7591 metadata."""
    for name in METADATA_FIELDS:
        if getattr(metadata, name) not in (None, []):
            _add(errors, name, "OAuth 1.0a consumers have no " + name + ".")
    return ClientMetadata()


def check_metadata(client_type: ClientType, grant_types: Sequence[str],
                   metadata: ClientMetadata, errors: FieldErrors) -> ClientMetadata:
    """The canonical metadata, defaults filled in; adds what is wrong to `errors`."""
    if client_type is ClientType.OAUTH1:
        return _refuse_all(metadata, errors)
    filled = metadata.with_defaults(client_type, grant_types)
    method = filled.auth_method
    if method is None:
        _add(errors, "token_endpoint_auth_method",
             f"{str(filled.token_endpoint_auth_method)[:100]!r} is not supported; choose from "
             f"{', '.join(m.value for m in AuthMethod)}.")
    elif method is AuthMethod.NONE:
        if not filled.require_pkce:
            _add(errors, "require_pkce", "A public client (token_endpoint_auth_method none) "
                                         "must use PKCE (RFC 9700, section 2.1.1).")
        if "password" in grant_types:
            _add(errors, "grant_types", "A public client (token_endpoint_auth_method none) "
                                        "cannot use the password grant.")
    jwks = _check_keys(method, filled, errors)
    if client_type is ClientType.OAUTH2 and filled.post_logout_redirect_uris:
        _add(errors, "post_logout_redirect_uris",
             "Only OpenID Connect clients have post-logout redirect URIs.")
    for name in URI_FIELDS:
        value = getattr(filled, name)
        problem = metadata_uri_problem(value) if value is not None else None
        if problem:
            _add(errors, name, problem)
    return ClientMetadata(
        token_endpoint_auth_method=filled.token_endpoint_auth_method,
        scope=check_scope(filled.scope, client_type, errors),
        require_pkce=filled.require_pkce,
        post_logout_redirect_uris=_check_post_logout(filled.post_logout_redirect_uris, errors),
        client_uri=filled.client_uri, logo_uri=filled.logo_uri, policy_uri=filled.policy_uri,
        tos_uri=filled.tos_uri, contacts=_check_contacts(filled.contacts, errors),
        jwks=jwks, jwks_uri=filled.jwks_uri)


def secret_problems(client_type: ClientType, metadata: ClientMetadata, *,
                    secret_inputs: Iterable[str], keeps_secret: bool,
                    expiry: datetime | None, now: datetime | None) -> FieldErrors:
    """What is wrong with a client's secret as the request leaves it.

    `secret_inputs`: the secret fields the request sent (named back when refused);
    `keeps_secret`: whether the client holds a secret already and keeps it; `expiry`:
    the `client_secret_expires_at` sent (None: not sent, or never); `now`: the time it
    must be later than (None: not checked; the worker does not, so a command delayed in
    the queue, or delivered again, is applied as the gateway accepted it).
    """
    errors: FieldErrors = {}
    sent = list(secret_inputs)
    method = metadata.auth_method if client_type is not ClientType.OAUTH1 else None
    if client_type is ClientType.OAUTH1 and expiry is not None:
        _add(errors, SECRET_EXPIRY, "OAuth 1.0a consumers have no " + SECRET_EXPIRY + ".")
    if method is not None and not method.uses_secret:
        for name in sent + ([SECRET_EXPIRY] if expiry is not None else []):
            _add(errors, name, f"A client authenticating with {method.value} has no secret.")
        return errors
    if not sent and not keeps_secret:
        _add(errors, "secret", "Give secret and secret_confirmation, or generate_secret"
             + (f" (token_endpoint_auth_method {method.value} needs a secret)." if method
                else "."))
    if expiry is not None and now is not None and expiry <= now:
        _add(errors, SECRET_EXPIRY, "Must be in the future.")
    return errors


def check_registration(fields: ClientFields, metadata: ClientMetadata
                       ) -> tuple[ClientFields, ClientMetadata, list[str]]:
    """A whole client: its fields (common.clients) and its metadata, canonical, with
    the warnings. Raises one RuleViolation naming every field that is wrong."""
    errors: FieldErrors = {}
    checked, warnings = fields, list[str]()
    try:
        checked, warnings = check_client(fields)
    except RuleViolation as exc:
        errors.update(exc.errors)
    canonical = check_metadata(fields.type, checked.grant_types, metadata, errors)
    if errors:
        raise RuleViolation(errors)
    return checked, canonical, warnings
