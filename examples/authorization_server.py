"""An OAuth 2.0 authorization server whose clients live in clientkeys (Authlib and Flask).

It holds no client of its own and no client secret: it needs one clientkeys token
with the `clients:verify` permission and makes one clientkeys call per request:

- the authorization endpoint reads the client's profile
  (`GET /v1/clients/{key}/profile`): redirect URIs, response types, scope, PKCE;
- the token endpoint hands the client's credentials, as it received them, to
  `POST /v1/client-authentication`, whose answer carries the same profile.

It grants `authorization_code` (with PKCE where the client's profile requires
it, S256 only), refuses a scope the client was not given, and keeps codes and
tokens in memory. The end user is taken from the
`user` query parameter: a real server signs its users in first.

    pip install authlib flask requests
    CLIENTKEYS_URL=http://127.0.0.1:8080 CLIENTKEYS_TOKEN=<a clients:verify token> \\
        python examples/authorization_server.py
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

import requests
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, grants
from authlib.oauth2.rfc6749.errors import InvalidClientError, InvalidRequestError, InvalidScopeError
from authlib.oauth2.rfc6749.util import scope_to_list
from authlib.oauth2.rfc7636 import CodeChallenge
from flask import Flask, request

CLIENTKEYS_URL = os.environ.get("CLIENTKEYS_URL", "http://127.0.0.1:8080").rstrip("/")
CLIENTKEYS_TOKEN = os.environ.get("CLIENTKEYS_TOKEN", "")
# The one client authentication method this server registers with Authlib: clientkeys
# checks whichever method the client is registered for (basic, post or none).
CLIENTKEYS_METHOD = "clientkeys"

clientkeys = requests.Session()
clientkeys.headers["Authorization"] = f"Bearer {CLIENTKEYS_TOKEN}"


@dataclass
class Client(ClientMixin):  # type: ignore[misc]
    """A client as clientkeys' profile describes it."""

    profile: dict[str, Any]

    def get_client_id(self) -> str:
        return str(self.profile["client_id"])

    def get_default_redirect_uri(self) -> str | None:
        uris = self.profile["redirect_uris"]
        return str(uris[0]) if len(uris) == 1 else None

    def get_allowed_scope(self, scope: str | None) -> str:
        allowed = set(scope_to_list(self.profile["scope"]) or [])
        return " ".join(s for s in scope_to_list(scope) or [] if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.profile["redirect_uris"]

    def check_client_secret(self, client_secret: str) -> bool:
        return False  # never asked: clientkeys checks secrets, this server holds none

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == CLIENTKEYS_METHOD

    def check_response_type(self, response_type: str) -> bool:
        return response_type in self.profile["response_types"]

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.profile["grant_types"]


def query_client(client_id: str) -> Client | None:
    """For the authorization endpoint: the profile of an approved client, or None."""
    answer = clientkeys.get(f"{CLIENTKEYS_URL}/v1/clients/{client_id}/profile", timeout=5)
    if answer.status_code == 404:
        return None
    answer.raise_for_status()
    profile = answer.json()
    return Client(profile) if profile["status"] == "approved" else None


def authenticate_with_clientkeys(_query_client: object, oauth_request: Any) -> Client:
    """For the token endpoint: the client's credentials checked in one call."""
    form = {name: oauth_request.form[name] for name in ("client_id", "client_secret")
            if name in oauth_request.form}
    answer = clientkeys.post(f"{CLIENTKEYS_URL}/v1/client-authentication", timeout=5, json={
        "authorization": oauth_request.headers.get("Authorization"),
        "form": form,
        "remote_addr": request.remote_addr,
    })
    answer.raise_for_status()
    verdict = answer.json()
    if not verdict["valid"]:
        # Unknown client, wrong secret, wrong method, expired secret, not approved:
        # the client learns only that it did not authenticate.
        raise InvalidClientError(status_code=401, description="Client authentication failed.")
    return Client(verdict["client"])


class ClientScopes:
    """Refuse, rather than narrow, a scope the client was not given."""

    request: Any

    def validate_requested_scope(self) -> None:
        requested = set(scope_to_list(self.request.payload.scope) or [])
        if not requested <= set(scope_to_list(self.request.client.profile["scope"]) or []):
            raise InvalidScopeError()


@dataclass
class AuthorizationCode:
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: str
    code_challenge: str | None
    code_challenge_method: str | None
    expires_at: float = field(default_factory=lambda: time.time() + 60)

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> None:
        return None

    def get_auth_time(self) -> None:
        return None


CODES: dict[str, AuthorizationCode] = {}
TOKENS: dict[str, dict[str, Any]] = {}


class AuthorizationCodeGrant(ClientScopes, grants.AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = [CLIENTKEYS_METHOD]

    def save_authorization_code(self, code: str, oauth_request: Any) -> None:
        CODES[code] = AuthorizationCode(
            code, oauth_request.client.get_client_id(), oauth_request.payload.redirect_uri,
            oauth_request.scope or "", oauth_request.user,
            oauth_request.payload.data.get("code_challenge"),
            oauth_request.payload.data.get("code_challenge_method"))

    def query_authorization_code(self, code: str, client: Client) -> AuthorizationCode | None:
        found = CODES.get(code)
        if found and found.client_id == client.get_client_id() and found.expires_at > time.time():
            return found
        return None

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        CODES.pop(authorization_code.code, None)

    def authenticate_user(self, authorization_code: AuthorizationCode) -> str:
        return authorization_code.user


class ProfilePKCE(CodeChallenge):  # type: ignore[misc]
    """PKCE as the client's profile says (`require_pkce`), S256 only (RFC 9700 §2.1.1)."""

    SUPPORTED_CODE_CHALLENGE_METHOD: ClassVar[list[str]] = ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if grant.request.client.profile["require_pkce"] and not data.get("code_challenge"):
            raise InvalidRequestError("This client must use PKCE: send a 'code_challenge'.")
        if data.get("code_challenge") and data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("'code_challenge_method' must be S256.")
        super().validate_code_challenge(grant, redirect_uri)

    def validate_code_verifier(self, grant: Any, result: Any) -> None:
        if (grant.request.client.profile["require_pkce"]
                and not grant.request.form.get("code_verifier")):
            raise InvalidRequestError("Missing 'code_verifier'")
        super().validate_code_verifier(grant, result)


def save_token(token: dict[str, Any], oauth_request: Any) -> None:
    TOKENS[token["access_token"]] = {**token, "client_id": oauth_request.client.get_client_id()}


def create_app() -> Flask:
    app = Flask(__name__)
    server = AuthorizationServer(app, query_client=query_client, save_token=save_token)
    server.register_client_auth_method(CLIENTKEYS_METHOD, authenticate_with_clientkeys)
    server.register_grant(AuthorizationCodeGrant, [ProfilePKCE(required=True)])

    @app.get("/authorize")
    def authorize() -> Any:
        # Consent is taken as given; a real server shows the client's name, client_uri,
        # logo_uri, policy_uri and tos_uri (all in the profile) and asks.
        return server.create_authorization_response(grant_user=request.args.get("user"))

    @app.post("/token")
    def issue_token() -> Any:
        return server.create_token_response()

    @app.get("/tokens/<access_token>")
    def introspect(access_token: str) -> Any:
        token = TOKENS.get(access_token)
        return ({"active": True, "client_id": token["client_id"], "scope": token.get("scope")}
                if token else {"active": False})

    return app


if __name__ == "__main__":
    create_app().run(host="127.0.0.1", port=int(os.environ.get("PORT", "9000")))
