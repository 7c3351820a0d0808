"""A client's profile: what an authorization endpoint and a consent screen need of it.

Read from the gateway's read model (no database round trip), and shown to a
`clients:verify` caller: the redirect URIs and response types an authorization
request is held to, the grants, scope and PKCE rule a token request is held to,
the auth method, and the consent screen's links. It shows nothing of the secret:
neither its value nor when it was set or ends.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from api.verify.client_answers import public_view
from api.verify.client_entries import ClientEntry

# The public view's fields a profile shows, in the order it shows them.
PROFILE_FIELDS: Final = (
    "key", "type", "status", "name", "token_endpoint_auth_method", "redirect_uris",
    "post_logout_redirect_uris", "grant_types", "response_types", "scope", "require_pkce",
    "client_uri", "logo_uri", "policy_uri", "tos_uri", "version")


def client_profile(entry: ClientEntry, now: datetime) -> dict[str, Any]:
    """The profile of the client `entry` holds, at `now`."""
    return profile_of(public_view(entry, now))


def profile_of(view: dict[str, Any]) -> dict[str, Any]:
    """The profile in a client's public view; `client_id` is its key again, by the name
    RFC 6749 gives it."""
    profile = {name: view[name] for name in PROFILE_FIELDS}
    profile["client_id"] = view["key"]
    return profile
