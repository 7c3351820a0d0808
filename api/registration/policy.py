"""An initial access token's policy: what a registration made with it may ask for.

It narrows, never widens, the rules every client obeys (common.clients,
common.metadata_rules run first): the client types and grant types it may
have, and the hosts its redirect URIs may point at, each exact (`app.example`)
or a suffix for the host only (`*.example.com` matches `a.example.com` and
`b.a.example.com`, not `example.com`, and never looks at the port or path).
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from common.clients import ClientFields, FieldErrors
from common.registration_tokens import TokenPolicy

# Open registration has no token, so nothing narrows it but the rules themselves.
OPEN_POLICY: TokenPolicy = {"client_types": [], "grant_types": [], "redirect_uri_hosts": [],
                            "auto_approve": False}


def host_allowed(host: str, patterns: Iterable[str]) -> bool:
    host = host.lower().rstrip(".")
    for pattern in patterns:
        pattern = pattern.lower()
        if pattern.startswith("*."):
            if host.endswith(pattern[1:]) and len(host) > len(pattern) - 1:
                return True
        elif host == pattern:
            return True
    return False


def policy_problems(policy: TokenPolicy, fields: ClientFields,
                    post_logout_redirect_uris: Iterable[str] = ()) -> FieldErrors:
    """What the token does not allow of this client, by field (empty: all allowed)."""
    errors: FieldErrors = {}
    if policy["client_types"] and fields.type.value not in policy["client_types"]:
        errors["type"] = [f"This initial access token does not register {fields.type.value} "
                          "clients."]
    refused = [g for g in fields.grant_types
               if policy["grant_types"] and g not in policy["grant_types"]]
    if refused:
        errors["grant_types"] = [f"This initial access token does not allow {', '.join(refused)}."]
    hosts = policy["redirect_uri_hosts"]
    for name, uris in (("redirect_uris", fields.redirect_uris),
                       ("post_logout_redirect_uris", list(post_logout_redirect_uris))):
        outside = [uri for uri in uris if hosts and not host_allowed(urlsplit(uri).hostname or "",
                                                                     hosts)]
        if outside:
            errors[name] = [f"{uri[:100]!r}: this initial access token allows redirect URIs "
                            f"on {', '.join(hosts)} only." for uri in outside]
    return errors
