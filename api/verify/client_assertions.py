"""Checking a private_key_jwt client assertion (RFC 7523 §3, OpenID Connect Core §9).

The authorization server passes on the token request's `client_assertion` and the
`audiences` it answers to (its issuer identifier, its token endpoint URL). The
assertion is good when, in this order:

- it is a JWT whose `alg` is RS256, PS256, ES256, ES384 or EdDSA (`none` and HS*
  never: a client has no shared secret) and `client_assertion_type` is jwt-bearer;
- `iss` and `sub` are the client's key (and `client_id`, when the form sent one);
- the client is registered for private_key_jwt, with `jwks` or a `jwks_uri`;
- a key of the client verifies the signature: the key its `kid` names (a `jwks_uri`
  is fetched again for a `kid` it does not hold), or without a `kid` each key of the
  type `alg` needs; the key's type must be the one `alg` needs;
- `aud` holds one of `audiences`; `exp` is not past and at most
  ASSERTION_MAX_LIFETIME_S ahead; `nbf` and `iat` are not in the future (each with
  ASSERTION_LEEWAY_S of clock skew); `jti` is present;
- the client is approved, and the `jti` has not been used before, by any gateway
  (`api.verify.assertion_replay`: the one database write of a check).

PyJWT checks the signature (with the algorithm pinned to the key's type) and the
registered claims; its exceptions are mapped to the reasons. Nothing of the
assertion but its `kid` and `alg` is ever logged.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import jwt
from jwt.exceptions import (
    ExpiredSignatureError,
    ImmatureSignatureError,
    InvalidAudienceError,
    InvalidSignatureError,
    InvalidTokenError,
    PyJWTError,
)

from api.gateway_metrics import GatewayMetrics
from api.verify.assertion_replay import JTI_MAX, JtiLedger
from api.verify.client_answers import public_view
from api.verify.client_authentication import Authentication, AuthenticationReason
from api.verify.presented_credentials import Presented, PresentedMethod
from api.verify.profile import profile_of
from api.verify.read_model import ClientReadModel
from common.client_metadata import AuthMethod
from common.clients import Status
from common.jwk_rules import ALGORITHMS, PublicKey, public_keys

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_REQUIRED = ["iss", "sub", "aud", "exp", "jti"]
_log = logging.getLogger(__name__)
Reason = AuthenticationReason


class RemoteKeySets(Protocol):
    """Where a client's `jwks_uri` key set comes from (api.verify.jwks_fetcher)."""

    async def key_set(self, client_key: str, uri: str, *, unknown_kid: bool = False
                      ) -> dict[str, Any] | None:
        """The set (compact, as common.jwk_rules reads it), or None if none is at hand."""
        ...


@functools.lru_cache(maxsize=2048)
def _keys_of(jwks_json: str) -> tuple[PublicKey, ...]:
    """The loaded keys of a set, kept for the sets in use (a key loads once, not per check)."""
    return tuple(public_keys(json.loads(jwks_json)))


def keys_of(jwks: dict[str, Any]) -> tuple[PublicKey, ...]:
    return _keys_of(json.dumps(jwks, sort_keys=True, separators=(",", ":")))


class AssertionChecker:
    def __init__(self, model: ClientReadModel, ledger: JtiLedger, remote: RemoteKeySets, *,
                 leeway_s: int, max_lifetime_s: int,
                 metrics: GatewayMetrics | None = None) -> None:
        self._model = model
        self._ledger = ledger
        self._remote = remote
        self._leeway_s = leeway_s
        self._max_lifetime_s = max_lifetime_s
        self._metrics = metrics

    async def authenticate(self, presented: Presented, audiences: Sequence[str],
                           now: datetime) -> Authentication:
        verdict = await self._verdict(presented, audiences, now)
        if self._metrics is not None:
            self._metrics.client_assertions.labels(verdict.reason.value).inc()
        return verdict

    async def _verdict(self, presented: Presented, audiences: Sequence[str], now: datetime
                       ) -> Authentication:
        method = PresentedMethod.PRIVATE_KEY_JWT
        assertion = presented.assertion or ""
        try:
            header = jwt.get_unverified_header(assertion)
            claims = jwt.decode(assertion, options={"verify_signature": False})
        except PyJWTError:
            return _refused(Reason.MALFORMED_ASSERTION)
        key = presented.client_id
        if presented.assertion_type != JWT_BEARER or claims.get("iss") != key \
                or claims.get("sub") != key:
            return _refused(Reason.MALFORMED_ASSERTION)
        entry = self._model.get(key)
        if entry is None:
            return _refused(Reason.INVALID_CLIENT)
        view = public_view(entry, now)
        if view["token_endpoint_auth_method"] != AuthMethod.PRIVATE_KEY_JWT:
            return _refused(Reason.WRONG_METHOD)
        alg, kid = str(header.get("alg")), header.get("kid")
        _log.debug("client assertion", extra={"client_key": key, "alg": str(alg)[:20],
                                              "kid": str(kid)[:60]})
        if alg not in ALGORITHMS or (kid is not None and not isinstance(kid, str)):
            return _refused(Reason.UNSUPPORTED_ALGORITHM)
        candidates = await self._candidates(key, view, alg, kid)
        if isinstance(candidates, AuthenticationReason):
            return _refused(candidates)
        checked = self._checked(assertion, candidates, alg, key, audiences)
        if isinstance(checked, AuthenticationReason):
            return _refused(checked)
        # Compared as numbers first: an exp years ahead is no date Python can make.
        if int(checked["exp"]) > now.timestamp() + self._max_lifetime_s + self._leeway_s:
            return _refused(Reason.LIFETIME_TOO_LONG)
        expires = datetime.fromtimestamp(int(checked["exp"]), UTC)
        jti = checked["jti"]
        if not isinstance(jti, str) or not 0 < len(jti) <= JTI_MAX:
            return _refused(Reason.MALFORMED_ASSERTION)
        profile = profile_of(view)
        if entry.status != Status.APPROVED:
            return Authentication(False, Reason.NOT_APPROVED, method, profile)
        if not await self._ledger.first_use(
                key, jti, expires + timedelta(seconds=self._leeway_s)):
            return _refused(Reason.REPLAYED_JTI)
        return Authentication(True, Reason.OK, method, profile)

    async def _candidates(self, key: str, view: dict[str, Any], alg: str, kid: str | None
                          ) -> list[PublicKey] | AuthenticationReason:
        """The keys to try: by kid (fetching a jwks_uri again for one it lacks), or
        every key of the type alg needs."""
        uri = view.get("jwks_uri")
        jwks = view.get("jwks")
        if jwks is None and uri is not None:
            jwks = await self._remote.key_set(key, uri)
        if jwks is None:
            return Reason.JWKS_UNAVAILABLE
        keys = keys_of(jwks)
        if kid is not None and uri is not None and all(k.kid != kid for k in keys):
            fresher = await self._remote.key_set(key, uri, unknown_kid=True)
            keys = keys_of(fresher) if fresher is not None else keys
        if kid is not None:
            named = [k for k in keys if k.kid == kid]
            if not named:
                return Reason.BAD_SIGNATURE  # no key of the client's signed it
            return named if named[0].fits(alg) else Reason.UNSUPPORTED_ALGORITHM
        fitting = [k for k in keys if k.fits(alg)]
        return fitting or Reason.UNSUPPORTED_ALGORITHM

    def _checked(self, assertion: str, candidates: list[PublicKey], alg: str, key: str,
                 audiences: Sequence[str]) -> dict[str, Any] | AuthenticationReason:
        """The claims once a candidate's signature and the claims check out, or why not."""
        for candidate in candidates:
            try:
                claims: dict[str, Any] = jwt.decode(
                    # The key itself, not the PyJWK (bound to one algorithm): `fits` has
                    # matched alg to the key's type, and PyJWT is pinned to that alg.
                    assertion, candidate.jwk.key, algorithms=[alg], audience=list(audiences),
                    issuer=key, subject=key, leeway=self._leeway_s,
                    options={"require": _REQUIRED})
            except InvalidSignatureError:
                continue
            except ExpiredSignatureError:
                return Reason.EXPIRED
            except ImmatureSignatureError:
                return Reason.NOT_YET_VALID
            except InvalidAudienceError:
                return Reason.WRONG_AUDIENCE
            except InvalidTokenError:
                return Reason.MALFORMED_ASSERTION
            return claims
        return Reason.BAD_SIGNATURE


def _refused(reason: AuthenticationReason) -> Authentication:
    """A refusal shows no profile: the assertion proved nothing."""
    return Authentication(False, reason, PresentedMethod.PRIVATE_KEY_JWT)
