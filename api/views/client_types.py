"""What a form needs to know of each client type (`GET /v1/client-types`): what the
product calls it and its key, the grant and response types it allows with the warning
each brings, the metadata it may have, and the limits of every field.

Drawn from the rules themselves (common.clients, common.client_metadata), so the admin
page's checkboxes, warnings and limits cannot drift from what a create accepts; the
labels are the gateway's, which is why this lives here and not beside the rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from common.client_metadata import (
    CONTACTS_MAX,
    DEFAULT_AUTH_METHOD,
    METADATA_FIELDS,
    METADATA_URI_MAX,
    OPENID,
    POST_LOGOUT_REDIRECT_URIS_MAX,
    SCOPE_TOKEN_MAX,
    SCOPE_TOKENS_MAX,
    SECRET_EXPIRY,
    SECRET_EXPIRY_WARNING_DAYS,
    AuthMethod,
)
from common.clients import (
    GRANT_TYPES,
    NAME_MAX,
    REDIRECT_URI_MAX,
    REDIRECT_URIS_MAX,
    RESPONSE_TYPES,
    SECRET_MAX,
    SECRET_MIN,
    ClientType,
    warnings_for,
)
from common.jwk_rules import JWKS_KEYS_MAX

# What the product calls each type, and its key, on screen.
TYPE_LABELS: Mapping[ClientType, str] = {
    ClientType.OAUTH1: "OAuth 1.0a",
    ClientType.OAUTH2: "OAuth 2.0",
    ClientType.OIDC: "OpenID Connect",
}
KEY_LABELS: Mapping[ClientType, str] = {
    ClientType.OAUTH1: "Consumer key",
    ClientType.OAUTH2: "Client key",
    ClientType.OIDC: "Client key",
}


def client_type_catalogue() -> list[dict[str, Any]]:
    """Each type with the grant and response types it allows and the warning each carries.

    The admin page draws its checkboxes and warnings from this, so they are the
    rules above and cannot drift from them.
    """
    catalogue = []
    for client_type in ClientType:
        redirects = client_type is not ClientType.OAUTH1
        grants = GRANT_TYPES if redirects else ()
        catalogue.append({
            "type": client_type.value,
            "label": TYPE_LABELS[client_type],
            "key_label": KEY_LABELS[client_type],
            "redirect_uris": redirects,
            "grant_types": [{"value": g, "warnings": warnings_for([g], [])} for g in grants],
            "response_types": [{"value": r, "warnings": warnings_for([], [r])}
                               for r in RESPONSE_TYPES[client_type]],
        })
    return catalogue


LIMITS: Mapping[str, int] = {
    "name_max": NAME_MAX, "secret_min": SECRET_MIN, "secret_max": SECRET_MAX,
    "redirect_uri_max": REDIRECT_URI_MAX, "redirect_uris_max": REDIRECT_URIS_MAX,
}


# The metadata limits a form needs (beside LIMITS).
METADATA_LIMITS: Final[Mapping[str, int]] = {
    "scope_tokens_max": SCOPE_TOKENS_MAX, "scope_token_max": SCOPE_TOKEN_MAX,
    "contacts_max": CONTACTS_MAX, "metadata_uri_max": METADATA_URI_MAX,
    "post_logout_redirect_uris_max": POST_LOGOUT_REDIRECT_URIS_MAX,
    "secret_expiry_warning_days": SECRET_EXPIRY_WARNING_DAYS, "jwks_keys_max": JWKS_KEYS_MAX}


def metadata_catalogue(client_type: ClientType) -> dict[str, Any]:
    """What a type's clients may be given of this metadata, for the admin page's form."""
    if client_type is ClientType.OAUTH1:
        return {"token_endpoint_auth_methods": [], "default_token_endpoint_auth_method": None,
                "metadata_fields": [], "required_scope": []}
    names = [name for name in (*METADATA_FIELDS, SECRET_EXPIRY)
             if name != "post_logout_redirect_uris" or client_type is ClientType.OIDC]
    return {"token_endpoint_auth_methods": [method.value for method in AuthMethod],
            "default_token_endpoint_auth_method": DEFAULT_AUTH_METHOD.value,
            "metadata_fields": names,
            "required_scope": [OPENID] if client_type is ClientType.OIDC else []}
