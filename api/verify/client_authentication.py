"""Authenticating a client the way a token endpoint received it, in one call.

An authorization server passes on the `Authorization` header and the form of a
token request; this says whether they authenticate a client, by which method,
and answers the client's profile, so the server needs no other call per token
request. The secret is checked by `api.verify.secret.SecretChecker`, with the
same work for every request that does not authenticate (an unknown client, a
wrong secret, no credentials, credentials sent twice): the answer and the cost
tell them no apart (`invalid_client`). Only a caller that presented the right
credentials learns more: that they came by a method the client is not registered
for (`wrong_method`: RFC 9700 §2.5 asks the server to hold a client to one),
that the secret has expired, or that the client is not approved.

A client assertion (private_key_jwt) is checked by `api.verify.client_assertions`, whose
reasons are members of the same AuthenticationReason.

A public client (`none`) presents only its id, which is no secret: it is
authenticated when the client is registered as public, and a confidential
client named by its id alone has presented no credentials.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from api.verify.client_answers import public_view
from api.verify.client_entries import ClientEntry
from api.verify.presented_credentials import (
    NotPresented,
    Presented,
    PresentedMethod,
    read_presented,
)
from api.verify.profile import profile_of
from api.verify.read_model import ClientReadModel
from api.verify.secret import Reason, SecretChecker
from common.clients import Status


class AuthenticationReason(StrEnum):
    OK = "ok"
    INVALID_CLIENT = "invalid_client"
    NOT_APPROVED = "not_approved"
    SECRET_EXPIRED = "secret_expired"
    WRONG_METHOD = "wrong_method"
    # private_key_jwt (api.verify.client_assertions)
    BAD_SIGNATURE = "bad_signature"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    LIFETIME_TOO_LONG = "lifetime_too_long"
    WRONG_AUDIENCE = "wrong_audience"
    REPLAYED_JTI = "replayed_jti"
    UNSUPPORTED_ALGORITHM = "unsupported_algorithm"
    JWKS_UNAVAILABLE = "jwks_unavailable"
    MALFORMED_ASSERTION = "malformed_assertion"


@dataclass(frozen=True)
class Authentication:
    valid: bool
    reason: AuthenticationReason
    # The method the request used; None when it presented no credentials to read.
    method: PresentedMethod | None
    # The client's profile: only for a request that proved who it is.
    profile: dict[str, Any] | None = None
    # The client and the place in its secrets of the secret that authenticated it.
    used: tuple[ClientEntry, int] | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"valid": self.valid, "reason": self.reason.value,
                "method": None if self.method is None else self.method.value,
                "client": self.profile}


class ClientAuthenticator:
    def __init__(self, model: ClientReadModel, checker: SecretChecker) -> None:
        self._model = model
        self._checker = checker

    def authenticate(self, presented: Presented | None, now: datetime) -> Authentication:
        """The verdict on what a token request presented (`presented_by`); None: nothing
        it presented could be read as credentials."""
        if presented is None:
            self._checker.check("", "", now)  # the work a wrong secret costs
            return Authentication(False, AuthenticationReason.INVALID_CLIENT, None)
        method = presented.method
        # Always compared, whatever the method: every refusal costs the same.
        verdict = self._checker.check(presented.client_id, presented.secret or "", now)
        for reading in presented.secrets[1:]:
            if verdict.reason is Reason.INVALID_CLIENT:
                verdict = self._checker.check(presented.client_id, reading, now)
        entry = self._model.get(presented.client_id)
        if entry is None:
            return Authentication(False, AuthenticationReason.INVALID_CLIENT, method)
        view = public_view(entry, now)
        registered = view["token_endpoint_auth_method"]  # None: an OAuth 1.0a consumer
        if method is PresentedMethod.NONE:
            if registered != PresentedMethod.NONE:
                return Authentication(False, AuthenticationReason.INVALID_CLIENT, method)
        elif verdict.reason is Reason.INVALID_CLIENT:
            return Authentication(False, AuthenticationReason.INVALID_CLIENT, method)
        elif registered != method:
            return Authentication(False, AuthenticationReason.WRONG_METHOD, method,
                                  profile_of(view))
        elif verdict.reason is Reason.SECRET_EXPIRED:
            return Authentication(False, AuthenticationReason.SECRET_EXPIRED, method,
                                  profile_of(view))
        if entry.status != Status.APPROVED:
            return Authentication(False, AuthenticationReason.NOT_APPROVED, method,
                                  profile_of(view))
        used = None if verdict.matched is None else (entry, verdict.matched)
        return Authentication(True, AuthenticationReason.OK, method, profile_of(view), used)


def presented_by(authorization: str | None, form: Mapping[str, str]) -> Presented | None:
    """The credentials a token request presented, or None if none can be read."""
    try:
        return read_presented(authorization, form)
    except NotPresented:
        return None
