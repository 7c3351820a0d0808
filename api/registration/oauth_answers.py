"""How the OAuth endpoints answer: RFC 7591/7592 JSON, never problem JSON.

An error is `{"error", "error_description"}` (RFC 7591 section 3.2.2); a
missing or unusable bearer token is 401 with `WWW-Authenticate` (RFC 6750
section 3), which never says why the token is unusable. Every answer,
success or error, has `Cache-Control: no-store`: it may hold a secret or a token.
"""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web

from common.json_responses import json_response

NO_STORE: Final = {"Cache-Control": "no-store", "Pragma": "no-cache"}
INVALID_REDIRECT_URI: Final = "invalid_redirect_uri"
INVALID_CLIENT_METADATA: Final = "invalid_client_metadata"
INVALID_TOKEN: Final = "invalid_token"
# Fields whose problems are redirect-URI problems (RFC 7591 section 3.2.2).
_REDIRECT_FIELDS: Final = frozenset({"redirect_uris", "post_logout_redirect_uris"})
# Our field names as RFC 7591 names them, for the descriptions.
_RFC_NAMES: Final = {"name": "client_name", "type": "client type (scope, response_types)"}


class OAuthError(Exception):
    """An error the OAuth endpoints answer in their own shape."""

    def __init__(self, status: int, error: str, description: str, *,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description
        self.headers = headers or {}

    def response(self) -> web.Response:
        return json_response({"error": self.error, "error_description": self.description},
                             status=self.status, headers={**NO_STORE, **self.headers})


def unauthorized(token_given: bool) -> OAuthError:
    """401 for a missing, unknown, expired, used-up or revoked token, alike."""
    challenge = 'Bearer realm="clientkeys"' + (f', error="{INVALID_TOKEN}"' if token_given else "")
    return OAuthError(401, INVALID_TOKEN,
                      "A valid initial access token is required." if not token_given else
                      "The access token is not valid (unknown, expired, used up or revoked).",
                      headers={"WWW-Authenticate": challenge})


def invalid_metadata(errors: dict[str, list[str]]) -> OAuthError:
    """400: invalid_redirect_uri when a redirect URI is at fault, else invalid_client_metadata."""
    code = INVALID_REDIRECT_URI if _REDIRECT_FIELDS & errors.keys() else INVALID_CLIENT_METADATA
    described = "; ".join(f"{_RFC_NAMES.get(name, name)}: {' '.join(messages)}"
                          for name, messages in errors.items())
    return OAuthError(400, code, described[:2000])


def oauth_json(body: dict[str, Any], status: int = 200) -> web.Response:
    return json_response(body, status=status, headers=dict(NO_STORE))
